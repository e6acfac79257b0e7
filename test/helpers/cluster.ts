import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { Coordinator, type CoordinatorOptions } from '../../coordinator/coordinator.js';
import { createLogger } from '../../shared/log.js';
import { spawnFlotilla, type FlotillaProcess } from '../../cli/processes.js';

/** A fresh temporary directory, removed by the returned cleanup. */
export function tempDir(prefix = 'flotilla-test-'): { path: string; cleanup(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

/** Logs captured in memory (tests assert on them; nothing spills onto the test output). */
export function memoryLogger(lines: string[] = []) {
  return Object.assign(createLogger('test', 'debug', (l) => lines.push(l)), { lines });
}

/** An in-process coordinator on 127.0.0.1 with free ports and a throwaway data dir. */
export async function startCoordinator(overrides: Partial<CoordinatorOptions> = {}) {
  const dir = overrides.dataDir ? undefined : tempDir();
  const lines: string[] = [];
  const coordinator = await Coordinator.start({
    host: '127.0.0.1',
    mqttPort: 0,
    httpPort: 0,
    dataDir: dir?.path ?? overrides.dataDir!,
    cluster: 'test',
    log: memoryLogger(lines),
    sweepMs: 100,
    ...overrides,
  });
  return {
    coordinator,
    lines,
    mqttUrl: `mqtt://127.0.0.1:${coordinator.mqttPort}`,
    api: `http://127.0.0.1:${coordinator.httpPort}`,
    async stop() {
      await coordinator.stop();
      dir?.cleanup();
    },
  };
}

/** Connect a raw MQTT client as a device (resolves on CONNACK success, rejects on refusal). */
export function connectDevice(url: string, id: string, token: string, extra: mqtt.IClientOptions = {}): Promise<MqttClient> {
  return mqtt.connectAsync(url, { clientId: id, username: id, password: token, reconnectPeriod: 0, ...extra });
}

/** A JSON body a test asserts on with `expect` (shape checks are the assertions themselves). */
export type Body = any;
export const jsonBody = async (res: Response | Promise<Response>): Promise<Body> => (await res).json();

/** Resolve with the first truthy value of `read`, re-checked every 25 ms (state observed through an API or a file). */
export async function eventually<T>(read: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 10_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Start `flotilla agent` as a child process against a coordinator; `lines` collects its stderr log. */
export function spawnAgent(mqttUrl: string, id: string, token: string, dataDir: string, extra: string[] = []): FlotillaProcess & { lines: string[] } {
  const lines: string[] = [];
  return Object.assign(
    spawnFlotilla(['agent', '--coordinator', mqttUrl, '--id', id, `--token=${token}`, '--data-dir', dataDir, '--health-interval', '1', ...extra], {
      stderr: (l) => lines.push(l),
    }),
    { lines },
  );
}
