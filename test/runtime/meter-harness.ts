/**
 * Runs a module in this thread, with every import it declares recorded, and returns a transcript of what it did:
 * emits, logs, other import calls, return codes and traps. Comparing the transcripts of a module and its metered
 * version checks that metering changed nothing a step can observe.
 */
import { capMemory, inspectModule } from '../../shared/wasm/binary.js';
import { meter, METER_FUEL, METER_TICK } from '../../agent/runtime/metering/index.js';

/**
 * What the metered side's `tick` does: refill the fuel (and count), or throw to interrupt. `fuel` is undefined
 * while the module's start function runs: the instance, and so its export, does not exist yet.
 */
export interface Ticker {
  ticks: number;
  tick(fuel: WebAssembly.Global | undefined): void;
}

export const refilling = (fuel: number): Ticker => ({
  ticks: 0,
  tick(global) {
    this.ticks++;
    if (global) global.value = fuel;
  },
});

export interface RunInput {
  config?: unknown;
  inputs: Uint8Array[];
}

/** Everything the host sees is bounded so that a flood or a bomb ends the same way on both sides. */
const MAX_EMITTED = 1 << 20;
const NOW_MS = 1_700_000_000_000;

/** The manifest cap the host writes into every module (so memory bombs stop at the same place). */
export function capped(bytes: Uint8Array, pages = 256): Uint8Array {
  const memory = inspectModule(bytes).memories[0];
  return memory ? capMemory(bytes, memory, Math.max(pages, memory.min)) : bytes;
}

const describe = (err: unknown) => (err instanceof Error ? `${err.constructor.name}: ${err.message}` : `thrown ${String(err)}`);

/** A module instance with recording imports; `ticker` given only for a metered module. */
export class Recorder {
  readonly transcript: string[] = [];
  instance?: WebAssembly.Instance;
  private emitted = 0;

  constructor(readonly module: WebAssembly.Module, readonly ticker?: Ticker) {}

  private get memory(): WebAssembly.Memory | undefined {
    const m = this.instance?.exports.memory;
    return m instanceof WebAssembly.Memory ? m : undefined;
  }

  private text(ptr: number, len: number): string {
    return Buffer.from(new Uint8Array(this.memory!.buffer, ptr, len)).toString('latin1');
  }

  private imports(): WebAssembly.Imports {
    const imports: Record<string, Record<string, unknown>> = Object.create(null);
    for (const imp of WebAssembly.Module.imports(this.module)) {
      const space = (imports[imp.module] ??= Object.create(null));
      const name = `${imp.module}.${imp.name}`;
      if (name === `${METER_TICK.module}.${METER_TICK.name}`) {
        space[imp.name] = () => this.ticker!.tick(this.instance?.exports[METER_FUEL] as WebAssembly.Global | undefined);
      } else if (name === 'flotilla.emit') {
        space[imp.name] = (ptr: number, len: number) => {
          this.emitted += len;
          if (this.emitted > MAX_EMITTED) throw new Error('output_limit');
          this.transcript.push(`emit ${this.text(ptr, len)}`);
        };
      } else if (name === 'flotilla.log') {
        space[imp.name] = (level: number, ptr: number, len: number) => this.transcript.push(`log ${level} ${this.text(ptr, len)}`);
      } else if (name === 'flotilla.now_ms') {
        space[imp.name] = () => NOW_MS;
      } else if (imp.kind === 'function') {
        space[imp.name] = (...args: unknown[]) => {
          this.transcript.push(`${name}(${args.map(String).join(', ')})`);
          if (name === 'env.abort') throw new Error('abort');
        };
      }
    }
    return imports as WebAssembly.Imports;
  }

  /** Instantiates, runs init with the config and each input; stops at the first trap or a non-zero status. */
  run({ config, inputs }: RunInput): string[] {
    const t = this.transcript;
    try {
      this.instance = new WebAssembly.Instance(this.module, this.imports());
    } catch (err) {
      t.push(`instantiate: ${describe(err)}`);
      return t;
    }
    const e = this.instance.exports as Record<string, (...args: number[]) => number>;
    if (this.ticker) (this.instance.exports[METER_FUEL] as WebAssembly.Global).value = 0;
    const call = (payload: Uint8Array | undefined, fn: (ptr: number, len: number) => number): boolean => {
      try {
        let ptr = 0;
        if (payload && e.alloc && this.memory) {
          ptr = e.alloc(payload.length);
          new Uint8Array(this.memory.buffer).set(payload, ptr);
        }
        const status = fn(ptr, payload?.length ?? 0);
        t.push(`-> ${status}`);
        return status === 0;
      } catch (err) {
        t.push(`trap: ${describe(err)}`);
        return false;
      }
    };
    if (e.init && !call(config === undefined ? undefined : new TextEncoder().encode(JSON.stringify(config)), e.init)) return t;
    if (!e.process) return t;
    for (const input of inputs) if (!call(input, e.process)) break;
    return t;
  }
}

/**
 * The transcripts of `bytes` (memory capped as the host does, unless `cap` is false: the ABI's reader refuses
 * shared memories, which the rewriter handles) and of its metered version.
 */
export function both(bytes: Uint8Array, input: RunInput, { ticker = refilling(7), cap = true } = {}): { original: string[]; metered: string[]; ticker: Ticker } {
  const original = cap ? capped(bytes) : bytes;
  const metered = meter(original);
  return {
    original: new Recorder(new WebAssembly.Module(original)).run(input),
    metered: new Recorder(new WebAssembly.Module(metered), ticker).run(input),
    ticker,
  };
}
