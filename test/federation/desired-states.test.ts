import type { MqttClient } from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import { DesiredStates } from '../../coordinator/desired/index.js';
import { Registry } from '../../coordinator/registry/registry.js';
import { memoryLogger, tempDir } from '../helpers/cluster.js';

const dir = tempDir();
afterAll(() => dir.cleanup());

describe('DesiredStates', () => {
  it('revisions always grow, also when the clock goes back; a failed publish is a per-device error, the state is kept', async () => {
    const registry = await Registry.open(dir.path, { log: memoryLogger() });
    await Promise.all([registry.setToken('a', 'a'.repeat(16)), registry.setToken('b', 'b'.repeat(16))]);
    const published: string[] = [];
    let fail = false;
    const client = {
      publishAsync: async (topic: string, payload: Buffer, opts: { retain: boolean }) => {
        if (fail) throw new Error('connection closed');
        published.push(`${topic} ${JSON.parse(payload.toString()).revision} ${opts.retain}`);
      },
    } as unknown as MqttClient;
    let now = 5000;
    const states = new DesiredStates(registry, client, () => now);
    expect(await states.apply(['a', 'b'], { id: 'root', children: [] }, {})).toEqual({ revisions: { a: 5000, b: 5000 }, errors: {} });
    now = 1000; // the clock went back
    expect((await states.apply(['a'], { id: 'root', children: [] }, {})).revisions).toEqual({ a: 5001 });
    fail = true;
    expect(await states.apply(['b'], { id: 'root', children: [] }, {})).toEqual({ revisions: {}, errors: { b: 'desired state stored, not published: connection closed' } });
    expect(states.get('b')?.revision).toBe(5001);
    fail = false;
    published.length = 0;
    expect(await states.republishAll()).toBe(2);
    expect(published.sort()).toEqual(['flotilla/d/a/desired 5001 true', 'flotilla/d/b/desired 5001 true']);
    // On disk once applied, before any close: a reopened registry has them.
    expect((await Registry.open(dir.path, { log: memoryLogger() })).get('a')?.desired?.revision).toBe(5001);
    await registry.close();
  });
});
