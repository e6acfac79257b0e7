import { describe, expect, it } from 'vitest';
import { formatExitReason, isNormalExit, parseExitReason, DEFAULT_LIMITS, type ExitReason } from '../../shared/step-abi.js';
import { parseStepManifest, sha256Hex } from '../../shared/step-manifest.js';
import { capMemory, inspectModule } from '../../shared/wasm/binary.js';
import { wat } from './harness.js';

describe('exit reasons (ABI: one documented string form)', () => {
  it.each<[ExitReason, unknown]>([
    ['normal', { kind: 'normal' }],
    ['shutdown', { kind: 'shutdown' }],
    ['killed', { kind: 'killed' }],
    ['timeout', { kind: 'timeout' }],
    ['output_limit', { kind: 'output_limit' }],
    ['exit:-3', { kind: 'exit', code: -3 }],
    ['trap:memory access out of bounds', { kind: 'trap', message: 'memory access out of bounds' }],
    ['start_failed:init returned 7', { kind: 'start_failed', message: 'init returned 7' }],
    ['trap:a:b', { kind: 'trap', message: 'a:b' }],
  ])('%s round-trips', (text, parsed) => {
    expect(parseExitReason(text)).toEqual(parsed);
    expect(formatExitReason(parseExitReason(text)!)).toBe(text);
  });

  it.each(['', 'crashed', 'exit:', 'exit:1.5', 'exit:x', 'oops:1'])('rejects %j', (text) => {
    expect(parseExitReason(text)).toBeUndefined();
  });

  it('flattens multi-line messages', () => {
    expect(formatExitReason({ kind: 'trap', message: 'line one\n  line two' })).toBe('trap:line one line two');
  });

  it('OTP: normal and shutdown are the normal exit reasons', () => {
    expect(['normal', 'shutdown', 'killed', 'exit:2', 'trap:x'].map((r) => isNormalExit(r as ExitReason))).toEqual([true, true, false, false, false]);
  });
});

describe('step manifest', () => {
  it('fills in the documented default limits', () => {
    const m = parseStepManifest({ name: 'avg', version: '1', sha256: sha256Hex(new Uint8Array()), abi: 1 });
    expect(m.limits).toEqual(DEFAULT_LIMITS);
  });

  it('names each bad field', () => {
    expect(() => parseStepManifest({ name: 'Bad Name', version: '1', sha256: 'abc', abi: 2, limits: { timeBudgetMs: 0 } })).toThrow(
      /invalid step manifest: name: .*; sha256: expected 64 lower-case hex digits; abi: unsupported step ABI version.*; limits.timeBudgetMs: /,
    );
  });
});

describe('Wasm binary reader', () => {
  it('reads imports and exports with signatures', () => {
    const info = inspectModule(wat('tag'));
    expect(info.imports.map((i) => `${i.module}.${i.name}`)).toEqual(['flotilla.emit', 'flotilla.log', 'flotilla.now_ms']);
    expect(info.exports.find((e) => e.name === 'process')?.type).toEqual({ params: ['i32', 'i32'], results: ['i32'] });
    expect(info.memories).toMatchObject([{ min: 1, max: undefined }]);
  });

  it('caps an unbounded memory at the limit and keeps a smaller declared maximum', async () => {
    const echo = wat('echo');
    const capped = capMemory(echo, inspectModule(echo).memories[0], 40);
    expect(inspectModule(capped).memories[0]).toMatchObject({ min: 1, max: 40 });
    const memory = new WebAssembly.Instance(await WebAssembly.compile(capped), { flotilla: { emit() {} } }).exports.memory as WebAssembly.Memory;
    expect(() => memory.grow(40)).toThrow(RangeError);
    const small = wat('echo', (t) => t.replace('(memory (export "memory") 1)', '(memory (export "memory") 1 8)'));
    expect(capMemory(small, inspectModule(small).memories[0], 40)).toBe(small);
  });
});
