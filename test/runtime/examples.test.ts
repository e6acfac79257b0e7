import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StepRuntime, StepStartError, type LoadedStep } from '../../agent/runtime/index.js';
import { inspectModule } from '../../shared/wasm/binary.js';
import { exampleStep } from './example-steps.js';
import { bytes, startRecorded } from './harness.js';

// The AssemblyScript examples, built by the real compiler and run through the real runtime.
const runtime = new StepRuntime();
const steps: Record<string, LoadedStep> = {};
const running: { stop(s: 'brutal_kill'): Promise<unknown> }[] = [];

beforeAll(async () => {
  for (const name of ['threshold-alarm', 'moving-average', 'csv-to-json']) {
    const { bytes: wasm, manifest } = await exampleStep(name);
    steps[name] = await runtime.load(wasm, manifest);
  }
}, 60_000);
afterAll(() => Promise.all(running.map((h) => h.stop('brutal_kill'))));

async function run(name: string, config: unknown, inputs: string[]) {
  const s = await startRecorded(runtime, steps[name], { config });
  running.push(s.handle);
  for (const line of inputs) s.handle.push(bytes(line));
  while (s.handle.stats().processed < inputs.length) await new Promise((r) => setImmediate(r));
  return { outputs: s.text().map((t) => JSON.parse(t)), logs: s.logs, handle: s.handle };
}

describe('example steps (AssemblyScript SDK)', () => {
  it('import only what ABI 1 allows', async () => {
    for (const name of Object.keys(steps)) {
      const { bytes: wasm } = await exampleStep(name);
      for (const imp of inspectModule(wasm).imports) expect(['flotilla.emit', 'flotilla.log', 'flotilla.now_ms', 'env.abort']).toContain(`${imp.module}.${imp.name}`);
    }
  });

  describe('threshold-alarm', () => {
    it('raises once when the field goes above the threshold and clears below threshold - hysteresis', async () => {
      const { outputs, logs } = await run('threshold-alarm', { field: 'temp', threshold: 80, hysteresis: 2 }, [
        '{"temp": 70}',
        '{"temp": 80.5, "unit": "C"}',
        '{"temp": 90}',
        '{"temp": 79}',
        '{"humidity": 3}',
        '{"temp": 77.5}',
        'not json',
        '{"temp": 81}',
      ]);
      expect(outputs.map(({ at, ...rest }) => (expect(at).toBeGreaterThan(1.6e12), rest))).toEqual([
        { alarm: 'raised', field: 'temp', value: 80.5, threshold: 80 },
        { alarm: 'cleared', field: 'temp', value: 77.5, threshold: 80 },
        { alarm: 'raised', field: 'temp', value: 81, threshold: 80 },
      ]);
      expect(logs).toEqual([
        ['warn', 'skipped a message without a numeric "temp"'],
        ['warn', 'skipped a message without a numeric "temp"'],
      ]);
    });

    it('refuses to start without a usable config', async () => {
      const err = await runtime.start({ id: 'alarm', step: steps['threshold-alarm'], config: { field: 'temp' } }).catch((e) => e);
      expect(err).toBeInstanceOf(StepStartError);
      expect(err.reason).toBe('start_failed:init returned 2');
    });
  });

  describe('moving-average', () => {
    it('averages the field over the last N messages', async () => {
      const { outputs } = await run('moving-average', { field: 'v', window: 3 }, ['{"v":1}', '{"v":2}', '{"v":3}', '{"v":10}', '{"x":1}', '{"v":-4.5}']);
      expect(outputs).toEqual([
        { field: 'v', avg: 1, n: 1 },
        { field: 'v', avg: 1.5, n: 2 },
        { field: 'v', avg: 2, n: 3 },
        { field: 'v', avg: 5, n: 3 },
        { field: 'v', avg: 2.8333333333333335, n: 3 },
      ]);
    });

    it('processes 50,000 messages of 200 B inside its 16 MiB memory cap (inputs are freed)', async () => {
      const { outputs, handle } = await run('moving-average', { field: 'v', window: 10 }, Array.from({ length: 50_000 }, (_, i) => `{"v":${i % 100},"pad":"${'x'.repeat(200)}"}`));
      expect(outputs.length).toBe(50_000);
      expect(handle.stats()).toMatchObject({ processed: 50_000, dropped: 0 });
      expect(await handle.stop()).toBe('shutdown'); // no trap from running out of its 16 MiB
    });

    it('rejects a bad window', async () => {
      await expect(runtime.start({ id: 'avg', step: steps['moving-average'], config: { field: 'v', window: 0 } })).rejects.toThrow('start_failed:init returned 2');
    });
  });

  describe('csv-to-json', () => {
    it('uses the first line as the header and types numeric cells', async () => {
      const { outputs, logs } = await run('csv-to-json', undefined, ['time,sensor,value,note', '1700000000,t1,21.5,"said ""hi"", twice"', '1700000001,t2,-3,', 'bad,row', '1700000002,"t,3",1e3,007\r']);
      expect(outputs).toEqual([
        { time: 1700000000, sensor: 't1', value: 21.5, note: 'said "hi", twice' },
        { time: 1700000001, sensor: 't2', value: -3, note: '' },
        { time: 1700000002, sensor: 't,3', value: 1000, note: 7 },
      ]);
      expect(logs).toEqual([['warn', 'skipped a row with 2 cells, expected 4']]);
    });

    it('takes columns and separator from the config', async () => {
      const { outputs } = await run('csv-to-json', { columns: 'a,b', separator: ';' }, ['1;x', 'ü;2.5']);
      expect(outputs).toEqual([
        { a: 1, b: 'x' },
        { a: 'ü', b: 2.5 },
      ]);
    });
  });
});
