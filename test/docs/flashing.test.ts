import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildStep } from '../../cli/step-build.js';
import { FLOTILLA_MAIN } from '../../cli/processes.js';
import { eventually, startCoordinator, tempDir } from '../helpers/cluster.js';
import { runLine, shellBlocks, shellLines, shimDir } from './shell-blocks.js';

/**
 * The commands of docs/flashing.md that can run on this machine, as written, with only the doc's own placeholders
 * filled in (COORDINATOR, ADMIN-TOKEN, THE-TOKEN) and the device's /etc/flotilla moved into a temporary directory.
 * `flotilla-agent` is the artifact's entry point (firmware-targets/agent-entry.ts) run from this checkout's build.
 * Not run here: building the artifacts (test/slow builds and boots all five), installing them (root, an init
 * system) and the service manager (systemd/procd); the agent the service starts is run with the same config.
 */
const ROOT = join(import.meta.dirname, '../..');
const doc = readFileSync(join(ROOT, 'docs/flashing.md'), 'utf8');
const dir = tempDir('flotilla-flashing-');
const etc = join(dir.path, 'etc/flotilla');
let cluster: Awaited<ReturnType<typeof startCoordinator>>;
let env: NodeJS.ProcessEnv;
const API_TOKEN = 'flashing-admin-token';

beforeAll(async () => {
  cluster = await startCoordinator({ apiToken: API_TOKEN });
  const bin = shimDir(join(dir.path, 'bin'), { flotilla: FLOTILLA_MAIN, 'flotilla-agent': join(ROOT, 'dist/firmware-targets/agent-entry.js') });
  env = { ...process.env, PATH: `${bin}:${process.env.PATH}` };
  for (const key of Object.keys(env)) if (key.startsWith('FLOTILLA_')) delete env[key];
  // What install.sh leaves on the device: the config template (its paths moved like the doc's).
  mkdirSync(etc, { recursive: true });
  const template = readFileSync(join(ROOT, 'firmware-targets/kit/agent.json'), 'utf8');
  writeFileSync(join(etc, 'agent.json'), template.replaceAll('/etc/flotilla', etc).replaceAll('/var/lib/flotilla', join(dir.path, 'var/lib/flotilla')));
});
afterAll(async () => {
  await cluster.stop();
  dir.cleanup();
});

const host = () => ({ http: `127.0.0.1:${cluster.coordinator.httpPort}`, mqtt: `127.0.0.1:${cluster.coordinator.mqttPort}` });
const fill = (text: string, token = '') =>
  text
    .replaceAll('COORDINATOR:8080', host().http)
    .replaceAll('COORDINATOR:1883', host().mqtt)
    .replaceAll('[--api-token ADMIN-TOKEN]', `--api-token ${API_TOKEN}`)
    .replaceAll('THE-TOKEN', token)
    .replaceAll('/etc/flotilla', etc);

async function run(command: string, cwd = dir.path): Promise<string> {
  const line = runLine(command, { cwd, env });
  const code = await line.exited;
  expect(code, `${command}\nstderr: ${line.stderr.join('\n')}`).toBe(0);
  return line.stdout.join('\n');
}

describe('docs/flashing.md: the commands that run here', () => {
  it('3. enroll; 5. token file, config, --print-config; 6./7. the agent with that config reports in', async () => {
    const [enroll] = shellLines(shellBlocks(doc, '## 3. Give the device an id and a token')[0]);
    const token = (await run(fill(enroll.command))).trim();
    expect(token).toMatch(/^[0-9a-f]{64}$/);

    const [echo, edit, check] = shellLines(shellBlocks(doc, '## 5. Configure and check')[0]);
    await run(fill(echo.command, token));
    expect(readFileSync(join(etc, 'token'), 'utf8').trim()).toBe(token);
    expect(statSync(join(etc, 'token')).mode & 0o777).toBe(0o600);
    // `vi`: the edit its comment describes.
    expect(edit.command).toMatch(/^vi \/etc\/flotilla\/agent.json$/);
    const config = JSON.parse(readFileSync(join(etc, 'agent.json'), 'utf8'));
    writeFileSync(join(etc, 'agent.json'), JSON.stringify({ ...config, ...JSON.parse(`{${fill(edit.comment)}}`) }));
    const printed = JSON.parse(await run(fill(check.command.split('  #')[0])));
    expect(printed).toMatchObject({
      coordinator: { value: `mqtt://${host().mqtt}`, source: 'file' },
      id: { value: 'pump-station-7', source: 'file' },
      'token-file': { value: join(etc, 'token'), source: 'file' },
    });

    // 6./7.: what the service runs (the same config), and the device reports in.
    const agent = runLine(fill(check.command.split('  #')[0]).replace(' --print-config', ''), { cwd: dir.path, env });
    try {
      await agent.until((l) => l.startsWith('{"event":"joined"'), 'joined');
      await eventually(() => cluster.coordinator.directory.live.get('pump-station-7')?.health?.arch === process.arch, 10_000, 'pump-station-7 reporting');
    } finally {
      await agent.interrupt();
    }
  });

  it('Trying a step on the device: step run', async () => {
    const built = await buildStep(join(ROOT, 'examples/steps/moving-average'), join(dir.path, 'steps'));
    expect(built.wasmPath.endsWith('moving-average.wasm')).toBe(true);
    const [line] = shellLines(shellBlocks(doc, '## Trying a step on the device')[0]);
    const out = await run(line.command, join(dir.path, 'steps'));
    expect(out.split('\n').map((l) => JSON.parse(l))).toEqual([expect.objectContaining({ avg: 21.5 }), expect.objectContaining({ avg: 21.8 })]);
  });
});
