import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import wabtInit from 'wabt';
import { describe, expect, it } from 'vitest';
import { StepRuntime } from '../../agent/runtime/index.js';
import { bytes, loadBytes, startRecorded } from './harness.js';

// The worked example in docs/step-abi.md is run exactly as printed, and does what the text says.
describe('docs/step-abi.md worked example', () => {
  it('logs its config, upper-cases, and finishes normally on an empty message', async () => {
    const doc = readFileSync(join(import.meta.dirname, '../../docs/step-abi.md'), 'utf8');
    const source = /```wat\n([\s\S]*?)```/.exec(doc)![1];
    const wabt = await wabtInit();
    const parsed = wabt.parseWat('upper.wat', source);
    const wasm = parsed.toBinary({}).buffer;
    parsed.destroy();
    const runtime = new StepRuntime();
    const s = await startRecorded(runtime, await loadBytes(runtime, wasm), { config: { greeting: 'hi' } });
    for (const line of ['hello', 'Wasm 1.0', '', 'never seen']) s.handle.push(bytes(line));
    expect(await s.exit).toBe('normal');
    expect(s.logs).toEqual([['info', '{"greeting":"hi"}']]);
    expect(s.text()).toEqual(['HELLO', 'WASM 1.0']);
    expect(s.handle.stats()).toMatchObject({ processed: 3, dropped: 1 });
  });
});
