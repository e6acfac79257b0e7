/**
 * Fleet logs under a flood: one step logs a warning 1,000 times per input message, fed as fast as the agent takes
 * them, on a real agent process against a real coordinator. Reported: the lines the step produced per second (the
 * baseline: what a coordinator would receive without the agent's rate limit, measured in the same run from the
 * agent's own log) and the log messages per second the coordinator's broker delivered to a counting subscriber,
 * as medians over one-second windows after the burst; their ratio; and the agent's drop count from health.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import mqtt from 'mqtt';
import wabtInit from 'wabt';
import { LOG_BURST, LOG_RATE_PER_S } from '../agent/log-forwarder.js';
import { ApiClient } from '../cli/api-client.js';
import { spawnFlotilla } from '../cli/processes.js';
import { Coordinator } from '../coordinator/coordinator.js';
import { createLogger } from '../shared/log.js';
import { deviceTopic } from '../shared/topics.js';
import { quick, report } from './report.js';

const SECONDS = quick ? 4 : 20;
/** The burst passes in the first second; steady state is measured after it. */
const SETTLE_S = 2;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : 0;
};

/** Per-second counts of timestamps in [from, to) ms. */
function perSecond(stamps: number[], from: number, to: number): number[] {
  const bins = new Array(Math.max(1, Math.floor((to - from) / 1000))).fill(0);
  for (const t of stamps) if (t >= from && t < from + bins.length * 1000) bins[Math.floor((t - from) / 1000)]++;
  return bins;
}

const wabt = await wabtInit();
const parsed = wabt.parseWat('log-flood.wat', readFileSync(fileURLToPath(new URL('../../test/fixtures/wat/log-flood.wat', import.meta.url)), 'utf8'));
const module = parsed.toBinary({}).buffer;
parsed.destroy();

const dir = mkdtempSync(join(tmpdir(), 'flotilla-bench-logs-'));
const coordinator = await Coordinator.start({ host: '127.0.0.1', mqttPort: 0, httpPort: 0, dataDir: join(dir, 'coordinator'), cluster: 'bench', log: createLogger('bench', 'error') });
const api = new ApiClient(`http://127.0.0.1:${coordinator.httpPort}`);
const mqttUrl = `mqtt://127.0.0.1:${coordinator.mqttPort}`;
try {
  await api.pushStep({ name: 'flood', version: '1', module: Buffer.from(module).toString('base64') });
  const { token } = await api.enroll('flooder');
  const feeder = await mqtt.connectAsync(mqttUrl, { clientId: 'feeder', username: 'feeder', password: (await api.enroll('feeder')).token, reconnectPeriod: 0 });
  // The counting subscriber: the coordinator's own client hears every device's logs topic.
  const received: number[] = [];
  const bus: mqtt.MqttClient = coordinator['bus'].client;
  bus.on('message', (topic) => topic === deviceTopic('flooder', 'logs') && received.push(Date.now()));
  const produced: number[] = [];
  const agent = spawnFlotilla(['agent', '--coordinator', mqttUrl, '--id', 'flooder', `--token=${token}`, '--data-dir', join(dir, 'agent'), '--health-interval', '1'], {
    stderr: (line) => line.endsWith('] flooding') && produced.push(Date.now()),
  });
  try {
    await agent.waitFor('joined');
    await api.applyDesired({ device: 'flooder' }, { id: 'root', children: [{ id: 'flood', step: 'flood@1', input: 'flood/in' }] });
    for (;;) {
      if (coordinator.directory.live.get('flooder')?.health?.children[0]?.state === 'running') break;
      await new Promise((r) => setTimeout(r, 50));
    }
    const start = Date.now();
    // Keep the step busy: one input per loop turn the broker acknowledged (QoS 1), for SECONDS.
    while (Date.now() - start < SECONDS * 1000) await feeder.publishAsync('flood/in', 'go', { qos: 1 });
    const end = Date.now();
    await new Promise((r) => setTimeout(r, 1500)); // the last health report and in-flight lines
    const from = start + SETTLE_S * 1000;
    const producedPerS = median(perSecond(produced, from, end));
    const receivedPerS = median(perSecond(received, from, end));
    const inWindow = received.filter((t) => t >= start && t < end).length;
    const dropped = coordinator.directory.live.get('flooder')?.health?.logsDropped ?? 0;
    report({
      bench: 'logs',
      tables: [
        {
          title: `A step logging in a loop: lines per second, median of 1 s windows (${SECONDS - SETTLE_S} s after a ${SETTLE_S} s burst)`,
          columns: ['measured', 'lines/s'],
          rows: [
            ['produced by the step, in the agent\'s own log (baseline: no rate limit)', Math.round(producedPerS)],
            ['received by the coordinator (counting subscriber)', receivedPerS],
            ['received / produced', receivedPerS && producedPerS ? (receivedPerS / producedPerS).toExponential(2) : '0'],
          ],
          note: `Agent limit: ${LOG_RATE_PER_S} lines/s per step after a burst of ${LOG_BURST}; over the whole ${SECONDS} s the coordinator got ${inWindow} lines (bound ${LOG_BURST + LOG_RATE_PER_S * SECONDS}), the agent reported ${dropped} dropped.`,
        },
      ],
      figures: { producedPerS: Math.round(producedPerS), receivedPerS, receivedTotal: inWindow, boundTotal: LOG_BURST + LOG_RATE_PER_S * SECONDS, agentDropped: dropped },
    });
  } finally {
    await agent.stop();
    await feeder.endAsync();
  }
} finally {
  await coordinator.stop();
  rmSync(dir, { recursive: true, force: true });
}
