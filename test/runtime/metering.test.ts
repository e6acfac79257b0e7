import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import wabtInit from 'wabt';
import { beforeAll, describe, expect, it } from 'vitest';
import { meter, MeteringError, METER_FUEL } from '../../agent/runtime/metering/index.js';
import { StepLoadError } from '../../agent/runtime/errors.js';
import { exampleStep } from './example-steps.js';
import { wat } from './harness.js';
import { both, capped, Recorder, refilling, type RunInput, type Ticker } from './meter-harness.js';

const wabt = await wabtInit();
const WAT = join(import.meta.dirname, '../fixtures/wat');
const FEATURES = { simd: true, threads: true, exceptions: true, tail_call: true, bulk_memory: true, reference_types: true, multi_value: true, sat_float_to_int: true, sign_extension: true };
const utf8 = (s: string) => new TextEncoder().encode(s);

/** test/fixtures/wat/features/<name>.wat, with every post-MVP feature the decoder covers enabled in wabt. */
function featureWat(name: string): Uint8Array {
  const parsed = wabt.parseWat(`${name}.wat`, readFileSync(join(WAT, 'features', `${name}.wat`), 'utf8'), FEATURES);
  try {
    return parsed.toBinary({}).buffer;
  } finally {
    parsed.destroy();
  }
}

function watModule(text: string, debugNames = false): Uint8Array {
  const parsed = wabt.parseWat('inline.wat', text, FEATURES);
  try {
    return parsed.toBinary({ write_debug_names: debugNames }).buffer;
  } finally {
    parsed.destroy();
  }
}

/** A module with one function `() -> ()` whose body is `code` (without locals), and the offset of that code. */
function withBody(code: number[]): { bytes: Uint8Array; at: number } {
  const leb = (n: number): number[] => (n < 0x80 ? [n] : [(n & 0x7f) | 0x80, ...leb(n >>> 7)]);
  const body = [0x00, ...code, 0x0b];
  const size = leb(body.length);
  const head = [0x00, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 1, 4, 1, 0x60, 0, 0, 3, 2, 1, 0, 10, ...leb(body.length + size.length + 1), 1, ...size];
  return { bytes: new Uint8Array([...head, ...body]), at: head.length + 1 };
}

// Inputs that end every fixture normally or with a trap: none starts with "L" (loop.wat) or is "hang".
const WAT_INPUTS: RunInput = {
  config: { greeting: 'hi' },
  inputs: ['hello', 'Wasm 1.0', '\x00', '\x01abc', 'x'.repeat(300), 'crash', 'stop', ''].map(utf8),
};
const SPINS = new Set(['init-loop']); // never returns: the interruption tests below

describe('metered modules behave as the originals (identical transcripts)', () => {
  const fixtures = readdirSync(WAT).filter((f) => f.endsWith('.wat')).map((f) => f.slice(0, -4)).filter((n) => !SPINS.has(n));

  it.each(fixtures)('test WAT %s', (name) => {
    const { original, metered } = both(wat(name), WAT_INPUTS);
    expect(metered).toEqual(original);
  });

  it.each(readdirSync(join(WAT, 'features')).map((f) => f.slice(0, -4)))('feature WAT %s (round-trips: wabt decodes it, V8 compiles it)', (name) => {
    const bytes = featureWat(name);
    wabt.readWasm(meter(bytes), { readDebugNames: false, ...FEATURES }).destroy();
    const inputs = ['hello', 'x'.repeat(40), '\xff\x7f\x65abcdefghijklmnopq'].map((s) => Buffer.from(s, 'latin1'));
    const { original, metered, ticker } = both(bytes, { inputs }, { cap: false });
    expect(original.filter((l) => l.startsWith('emit')).length).toBe(3);
    expect(metered).toEqual(original);
    expect(ticker.ticks).toBeGreaterThan(0);
  });

  it('keeps the exports, the start function, element segments and ref.func pointing at the same functions', () => {
    // bulk-refs.wat covers them by behaviour; here the export table is checked by name and kind.
    const bytes = featureWat('bulk-refs');
    const before = WebAssembly.Module.exports(new WebAssembly.Module(bytes));
    const after = WebAssembly.Module.exports(new WebAssembly.Module(meter(bytes)));
    expect(after).toEqual([...before, { name: METER_FUEL, kind: 'global' }]);
    expect(WebAssembly.Module.imports(new WebAssembly.Module(meter(bytes))).at(-1)).toEqual({ module: 'flotilla_meter', name: 'tick', kind: 'function' });
  });

  it('adds the sections a module lacks (no types, imports, globals or exports) and drops the stale names and debug info', () => {
    const m = meter(watModule('(module (memory 1))'));
    const mod = new WebAssembly.Module(m);
    expect(WebAssembly.Module.exports(mod)).toEqual([{ name: METER_FUEL, kind: 'global' }]);
    const named = watModule('(module (func $f (export "f") (result i32) (i32.const 3)))', true);
    expect(WebAssembly.Module.customSections(new WebAssembly.Module(named), 'name').length).toBe(1);
    const custom = (name: string) => [0, name.length + 2, name.length, ...Buffer.from(name), 0xaa];
    const metered = new WebAssembly.Module(meter(new Uint8Array([...named, ...custom('.debug_info'), ...custom('producers')])));
    expect(WebAssembly.Module.customSections(metered, 'name')).toEqual([]);
    expect(WebAssembly.Module.customSections(metered, '.debug_info')).toEqual([]);
    expect(WebAssembly.Module.customSections(metered, 'producers').length).toBe(1);
    const instance = new WebAssembly.Instance(metered, { flotilla_meter: { tick() {} } });
    expect((instance.exports.f as () => number)()).toBe(3);
  });
});

describe('metered AssemblyScript steps behave as the originals', () => {
  const EXAMPLES: [string, unknown, string[]][] = [
    ['threshold-alarm', { field: 'temp', threshold: 80, hysteresis: 2 }, ['{"temp": 70}', '{"temp": 80.5, "unit": "C"}', '{"temp": 79}', 'not json', '{"temp": 77.5}', '{"temp": 81}']],
    ['moving-average', { field: 'v', window: 3 }, ['{"v":1}', '{"v":2}', '{"v":3}', '{"v":10}', '{"x":1}', '{"v":-4.5}', `{"v":7,"pad":"${'x'.repeat(2000)}"}`]],
    ['csv-to-json', undefined, ['time,sensor,value,note', '1700000000,t1,21.5,"said ""hi"", twice"', '1700000001,t2,-3,', 'bad,row', '1700000002,"t,3",1e3,007\r']],
    ['synthetic-sensor', { field: 'temp', seed: 3, noise: 1 }, ['{"cron":1}', '{"cron":2}', '{"cron":3}', '{}']],
  ];
  const LEVELS = ['-O0', '-O1', '-O2', '-O3', '-Os', '-Oz'];
  const builds = new Map<string, Uint8Array>();

  beforeAll(async () => {
    for (const [name] of EXAMPLES) {
      builds.set(name, (await exampleStep(name)).bytes);
      for (const level of LEVELS) builds.set(`${name}${level}`, (await exampleStep(name, level)).bytes);
    }
  }, 600_000);

  it.each(EXAMPLES.flatMap(([name, config, inputs]) => ['', ...LEVELS].map((level) => [`${name}${level}`, config, inputs] as const)))('%s', (build, config, inputs) => {
    const { original, metered, ticker } = both(builds.get(build)!, { config, inputs: inputs.map(utf8) });
    expect(original.filter((l) => l.startsWith('emit')).length).toBeGreaterThan(0);
    expect(metered).toEqual(original);
    expect(ticker.ticks).toBeGreaterThan(0);
  });

  it('on random inputs (property)', () => {
    const modules = EXAMPLES.map(([name, config]) => {
      const bytes = capped(builds.get(name)!);
      return { config, original: new WebAssembly.Module(bytes), metered: new WebAssembly.Module(meter(bytes)) };
    });
    const message = fc.oneof(
      fc.json(),
      fc.record({ temp: fc.double(), v: fc.double(), unit: fc.string() }).map((o) => JSON.stringify(o)),
      fc.array(fc.oneof(fc.string(), fc.double().map(String)), { maxLength: 6 }).map((cells) => cells.join(',')),
      fc.string({ unit: 'binary', maxLength: 300 }),
    );
    fc.assert(
      fc.property(fc.nat(modules.length - 1), fc.array(message, { maxLength: 12 }), fc.integer({ min: 1, max: 5000 }), (which, inputs, fuel) => {
        const { config, original, metered } = modules[which];
        const input = { config, inputs: inputs.map(utf8) };
        expect(new Recorder(metered, refilling(fuel)).run(input)).toEqual(new Recorder(original).run(input));
      }),
      { numRuns: 200 },
    );
  });
});

class Timeout extends Error {}

/** A tick like a host's: throws once the deadline has passed, else refills. */
function deadlineTicker(deadline: number, fuel = 10_000): Ticker {
  return {
    ticks: 0,
    tick(global) {
      this.ticks++;
      if (performance.now() >= deadline) throw new Timeout('timeout');
      if (global) global.value = fuel;
    },
  };
}

describe('a throwing tick interrupts a metered step in the same thread', () => {
  it.each([
    ['a loop (loop.wat, input "L")', () => wat('loop'), 'L'],
    ['recursion by tail calls, with no loop at all', () => watModule(`(module (import "flotilla" "emit" (func $emit (param i32 i32)))
      (memory (export "memory") 1) (func $spin (param i32) (result i32) (return_call $spin (i32.add (local.get 0) (i32.const 1))))
      (func (export "alloc") (param i32) (result i32) (i32.const 1024))
      (func (export "process") (param i32 i32) (result i32)
        (if (i32.eq (i32.load8_u (local.get 0)) (i32.const 76)) (then (drop (call $spin (i32.const 0)))))
        (call $emit (local.get 0) (local.get 1)) (i32.const 0)))`), 'L'],
  ])('%s: only that instance traps; a sibling instance of the same module goes on', (_, build, spin) => {
    const module = new WebAssembly.Module(meter(capped(build())));
    const started = performance.now();
    const spinner = new Recorder(module, deadlineTicker(started + 20));
    const sibling = new Recorder(module, refilling(1000));
    expect(sibling.run({ inputs: [utf8('before')] })).toEqual(['emit before', '-> 0']);
    expect(spinner.run({ inputs: [utf8('ok'), utf8(spin)] })).toEqual(['emit ok', '-> 0', 'trap: Timeout: timeout']);
    expect(performance.now() - started).toBeGreaterThanOrEqual(20);
    expect(sibling.run({ inputs: [utf8('after')] })).toEqual(['emit before', '-> 0', 'emit after', '-> 0']);
  });
});

describe('fuel accounting', () => {
  // Instruction counts per region are given beside each function.
  const COUNTING = watModule(`(module
    ;; Calls nothing, so no entry check: callers pay its entry region (block, loop, end, end = 4).
    ;; Its loop region: local.get, i32.eqz, br_if, local.get, i32.const, i32.sub, local.set, br, end = 9 per iteration.
    (func $run (export "run") (param $n i32)
      block
        loop
          local.get $n
          i32.eqz
          br_if 1
          local.get $n
          i32.const 1
          i32.sub
          local.set $n
          br 0
        end
      end)
    ;; Recursive, so it keeps its entry check: local.get, if, local.get, i32.const, i32.sub, call, end, end = 8.
    (func $down (export "down") (param $n i32)
      (if (local.get $n) (then (call $down (i32.sub (local.get $n) (i32.const 1))))))
    ;; Recursive and calls $run: i32.const, call, then the 8 of $down = 10, plus $run's entry region (4) = 14.
    (func $down2 (export "down2") (param $n i32)
      (call $run (i32.const 0))
      (if (local.get $n) (then (call $down2 (i32.sub (local.get $n) (i32.const 1)))))))`);

  it('charges each check the instructions it guards, with the code of the unchecked functions it calls', () => {
    const instance = new WebAssembly.Instance(new WebAssembly.Module(meter(COUNTING)), { flotilla_meter: { tick() {} } });
    const fuel = instance.exports[METER_FUEL] as WebAssembly.Global;
    const spent = (name: string, n: number) => {
      fuel.value = 1_000_000;
      (instance.exports[name] as (n: number) => void)(n);
      return 1_000_000 - fuel.value;
    };
    for (const n of [0, 1, 10]) {
      expect(spent('run', n)).toBe(9 * (n + 1));
      expect(spent('down', n)).toBe(8 * (n + 1));
      expect(spent('down2', n)).toBe((14 + 9) * (n + 1));
    }
  });

  it('calls tick exactly when the fuel drops below zero, and starts with the fuel given', () => {
    let ticks = 0;
    const instance = new WebAssembly.Instance(new WebAssembly.Module(meter(COUNTING, { fuel: 20 })), { flotilla_meter: { tick: () => void ticks++ } });
    const down = instance.exports.down as (n: number) => void;
    down(1); // 20 - 16 = 4
    expect(ticks).toBe(0);
    down(0); // 4 - 8 = -4
    expect(ticks).toBe(1);
  });

  it('keeps the entry check of a function in a cycle of calls, of one calling through a table, and of a long one', () => {
    const bytes = watModule(`(module (type $v (func)) (table 1 funcref) (elem (i32.const 0) $a)
      (func $a (call $b)) (func $b (call $a))
      (func $indirect (call_indirect (type $v) (i32.const 0)))
      (func $long ${'(drop (i32.const 0)) '.repeat(600)})
      (func $short (drop (i32.const 0))))`);
    let ticks = 0;
    const instance = new WebAssembly.Instance(new WebAssembly.Module(meter(bytes)), { flotilla_meter: { tick: () => void ticks++ } });
    void instance;
    // Which functions got a check: their bodies start with global.get of the fuel (the only global: index 0).
    const read = wabt.readWasm(meter(bytes), { readDebugNames: false });
    const text = read.toText({});
    read.destroy();
    const bodies = text.split('\n  (func ').slice(1).filter((f) => !f.includes('import')).map((f) => f.includes('global.get 0'));
    expect(bodies).toEqual([false, true, true, true, false]); // $a meets the cycle first; $b keeps the check
    expect(ticks).toBe(0);
  });
});

describe('what the rewriter cannot decode is refused with the opcode and its byte offset', () => {
  it.each([
    ['a single-byte opcode', [0x27], '0x27'],
    ['a GC instruction (0xfb prefix, not enabled by default)', [0xfb, 0x00], '0xfb'],
    ['a gap in the SIMD table', [0xfd, 0x9a, 0x01], '0xfd 0x9a'],
    ['relaxed SIMD (not enabled by default)', [0xfd, 0x80, 0x02], '0xfd 0x100'],
    ['an unknown atomic', [0xfe, 0x04], '0xfe 0x04'],
    ['an unknown 0xfc instruction', [0xfc, 0x12], '0xfc 0x12'],
  ])('%s', (_, code, name) => {
    const { bytes, at } = withBody([0x01, ...code]); // a nop first: the offset is the opcode's, not the body's
    const err = (() => {
      try {
        meter(bytes);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(MeteringError);
    expect(err).toBeInstanceOf(StepLoadError);
    expect((err as Error).message).toBe(`cannot meter the module: unknown opcode ${name} at byte ${at + 1}`);
  });

  it('agrees with V8 on which opcodes exist: every single-byte opcode and every 0xfc, 0xfd and 0xfe sub-opcode', () => {
    const leb = (n: number): number[] => (n < 0x80 ? [n] : [(n & 0x7f) | 0x80, ...leb(n >>> 7)]);
    const candidates = [
      ...Array.from({ length: 256 }, (_, op) => [op]).filter(([op]) => op < 0xfc || op > 0xfe),
      ...Array.from({ length: 0x20 }, (_, sub) => [0xfc, ...leb(sub)]),
      ...Array.from({ length: 0x130 }, (_, sub) => [0xfd, ...leb(sub)]),
      ...Array.from({ length: 0x60 }, (_, sub) => [0xfe, ...leb(sub)]),
    ];
    const disagreements: string[] = [];
    for (const code of candidates) {
      // Zero bytes after the opcode stand for any immediates it has (and decode as `unreachable` after them).
      const { bytes } = withBody([...code, ...new Array(16).fill(0)]);
      let v8: string;
      try {
        new WebAssembly.Module(bytes);
        v8 = '';
      } catch (err) {
        v8 = (err as Error).message;
      }
      const v8Unknown = /invalid (\w+ )?opcode|opcode not available/i.test(v8); // not enabled by default counts as unknown
      let ours = '';
      try {
        meter(bytes);
      } catch (err) {
        ours = (err as Error).message;
      }
      if (v8Unknown !== ours.includes('unknown opcode')) disagreements.push(`${code.map((b) => b.toString(16)).join(' ')}: V8 "${v8}", rewriter "${ours}"`);
    }
    expect(disagreements).toEqual([]);
  });

  it('a truncated immediate', () => {
    const { bytes, at } = withBody([0x41, 0x80, 0x80]); // i32.const whose LEB128 runs into the end
    expect(() => meter(bytes.subarray(0, bytes.length))).toThrow(`in the instruction at byte ${at}`);
  });

  it('a module that already uses the names the host reserves', () => {
    expect(() => meter(watModule('(module (import "flotilla_meter" "tick" (func)))'))).toThrow(/already imports from "flotilla_meter"/);
    expect(() => meter(watModule('(module (global (export "flotilla_fuel") i32 (i32.const 0)))'))).toThrow(/already exports "flotilla_fuel"/);
  });
});

describe('the compile cache keeps metered modules beside the plain ones', () => {
  it('caches a metered module by sha256 apart from the plain one, and refuses what it cannot decode at load', async () => {
    const { ModuleCache } = await import('../../agent/runtime/load.js');
    const { manifestFor } = await import('../../shared/step-manifest.js');
    const cache = new ModuleCache();
    const echo = wat('echo');
    const manifest = manifestFor(echo, { name: 'echo', version: '1.0.0' });
    const metered = await cache.load(echo, manifest, { metered: true });
    expect(metered.metered).toBe(true);
    expect(WebAssembly.Module.imports(metered.module).map((i) => `${i.module}.${i.name}`)).toEqual(['flotilla.emit', 'flotilla_meter.tick']);
    expect((await cache.load(echo, manifest, { metered: true })).module).toBe(metered.module);
    const plain = await cache.load(echo, manifest);
    expect(plain.metered).toBe(false);
    expect(plain.module).not.toBe(metered.module);
    expect(cache.size).toBe(2);

    const nops = wat('echo', (t) => t.replace(/\)\s*$/, ' (func nop nop nop nop))'));
    const at = nops.findIndex((_, i) => nops[i] === 1 && nops[i + 1] === 1 && nops[i + 2] === 1 && nops[i + 3] === 1 && nops[i + 4] === 0x0b);
    const bad = nops.slice();
    bad[at] = 0x27;
    await expect(cache.load(bad, manifestFor(bad, { name: 'bad', version: '1.0.0' }), { metered: true })).rejects.toThrow(
      new MeteringError(`cannot meter the module: unknown opcode 0x27 at byte ${at}`),
    );
    expect(cache.size).toBe(2);
  });
});

describe('hostile modules', () => {
  it('a mutated or truncated module is refused with a StepLoadError or metered, never anything else (property)', () => {
    const seeds = ['echo', 'tag', 'supervised-crashy'].map((n) => wat(n)).concat(['bulk-refs', 'simd', 'exceptions'].map(featureWat));
    fc.assert(
      fc.property(
        fc.nat(seeds.length - 1),
        fc.array(fc.tuple(fc.nat(), fc.nat(255)), { minLength: 1, maxLength: 4 }),
        fc.option(fc.nat()),
        (which, edits, cut) => {
          const bytes = seeds[which].slice();
          for (const [at, value] of edits) bytes[8 + (at % (bytes.length - 8))] = value;
          const input = cut === null ? bytes : bytes.subarray(0, 8 + (cut % (bytes.length - 8)));
          try {
            meter(input);
          } catch (err) {
            expect(err).toBeInstanceOf(StepLoadError);
          }
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('meters deeply nested blocks and loops without recursing', () => {
    const depth = 20_000;
    const { bytes } = withBody([...Array.from({ length: depth }, (_, i) => [i % 2 ? 0x03 : 0x02, 0x40]).flat(), ...new Array(depth).fill(0x0b)]);
    const metered = meter(bytes);
    expect(metered.length).toBeGreaterThan(bytes.length + (depth / 2) * 10);
    expect(WebAssembly.validate(metered)).toBe(WebAssembly.validate(bytes));
  });
});
