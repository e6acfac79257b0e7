import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AgentState } from '../../agent/state.js';
import { readTokensFile } from '../../coordinator/registry/registry.js';
import { ConfigError } from '../../shared/errors.js';
import { memoryLogger, startCoordinator, tempDir } from '../helpers/cluster.js';
import { connectDevice } from '../helpers/cluster.js';

const dir = tempDir();
afterAll(() => dir.cleanup());

describe('agent local state', () => {
  it('persists identity and desired state across opens', async () => {
    const path = join(dir.path, 'ok');
    const state = await AgentState.open(path, memoryLogger());
    await state.update({ identity: { id: 'a', coordinator: 'mqtt://x' }, desired: { revision: 3 } });
    const again = await AgentState.open(path, memoryLogger());
    expect(again.data).toMatchObject({ identity: { id: 'a' }, desired: { revision: 3 } });
  });

  it.each([
    ['not JSON', '{"version":1,'],
    ['not its shape', '{"version":2,"identity":null,"desired":null,"installedSteps":[]}'],
  ])('moves a file that is %s aside with a logged reason, never overwriting it', async (_what, text) => {
    const path = join(dir.path, `bad-${_what.replace(/\W/g, '')}`);
    await AgentState.open(path, memoryLogger());
    writeFileSync(join(path, 'agent.json'), text);
    const log = memoryLogger();
    const state = await AgentState.open(path, log);
    expect(state.data.identity).toBeNull();
    const aside = readdirSync(path).find((f) => f.startsWith('agent.json.corrupt-'));
    expect(aside).toBeDefined();
    expect(readFileSync(join(path, aside!), 'utf8')).toBe(text);
    expect(log.lines.some((l) => l.includes('is not a valid agent state') && l.includes(`moved it to ${join(path, aside!)}`))).toBe(true);
  });
});

describe('pre-shared tokens file', () => {
  it.each([
    ['{"dev-1": "short"}', /--tokens-file: .*dev-1: token must be at least 16 characters/],
    ['{"a/b": "0123456789abcdef0123"}', /--tokens-file: .*must be 1-64 characters/],
    ['[1,2]', /--tokens-file: /],
    ['{', /--tokens-file: cannot read/],
  ])('rejects %s with a message naming the file and entry', (text, message) => {
    const file = join(dir.path, 'tokens.json');
    writeFileSync(file, text);
    expect(() => readTokensFile(file)).toThrow(ConfigError);
    expect(() => readTokensFile(file)).toThrow(message);
  });

  it('a device joins with a pre-shared token', async () => {
    const file = join(dir.path, 'good-tokens.json');
    writeFileSync(file, JSON.stringify({ 'psk-1': 'pre-shared-token-0123456789' }));
    const cluster = await startCoordinator({ tokens: readTokensFile(file) });
    try {
      const client = await connectDevice(cluster.mqttUrl, 'psk-1', 'pre-shared-token-0123456789');
      await client.endAsync();
      expect(existsSync(file)).toBe(true);
    } finally {
      await cluster.stop();
    }
  });
});
