import type { MessagePort } from 'node:worker_threads';
import type { FromWorker, Instantiate, Packed, ToWorker, WorkerLimits } from './protocol.js';

/**
 * The body of a step isolate, started from its source text with `new Worker(WORKER_SOURCE, { eval: true })`, so it
 * must stay self-contained: it uses no outer-scope values and not even `require` (bundlers rewrite that name);
 * its port comes as an argument (type imports are erased). That keeps it working from tsc's dist/, an esbuild
 * single-file bundle and a Node SEA executable alike.
 *
 * It waits for one `instantiate` naming its step, so it can be spawned ahead of need (a spare, isolate-pool.ts),
 * and runs that one step and no other: after the step exits the isolate ends.
 */
export function workerMain(port: MessagePort): void {
  let control: Int32Array;
  const BUSY = 0; // protocol.ts CONTROL_BUSY
  const CALLS = 1; // protocol.ts CONTROL_CALLS
  const utf8 = new TextDecoder();
  const utf16 = new TextDecoder('utf-16le');

  /** A step fault carrying its exit reason (thrown through the Wasm frames from an import). */
  class Fault {
    constructor(readonly reason: string) {}
  }

  let limits: WorkerLimits;
  let memory: WebAssembly.Memory;
  let alloc: (len: number) => number;
  let process: (ptr: number, len: number) => number;
  let mem8 = new Uint8Array(0);
  let budget = 0; // output bytes left for the current call (ABI: maxOutputBytes per input)

  let outData = new Uint8Array(64 * 1024);
  let outLens = new Uint32Array(256);
  let outBytes = 0;
  let outCount = 0;
  let logs: (number | string)[] = [];

  /** The current memory view (memory.grow detaches the old buffer). */
  function view(): Uint8Array {
    if (mem8.buffer !== memory.buffer) mem8 = new Uint8Array(memory.buffer);
    return mem8;
  }

  function checkRange(what: string, ptr: number, len: number): Uint8Array {
    const m = view();
    if (ptr + len > m.length) throw new Fault(`trap:${what} out of bounds: ${len} bytes at ${ptr}, memory is ${m.length} bytes`);
    return m;
  }

  function spend(len: number): void {
    budget -= len;
    if (budget < 0) throw new Fault('output_limit');
  }

  const imports = {
    flotilla: {
      emit(ptr: number, len: number): void {
        ptr >>>= 0;
        len >>>= 0;
        const m = checkRange('emit', ptr, len);
        spend(len);
        if (outBytes + len > outData.length) {
          const grown = new Uint8Array(Math.max(outData.length * 2, outBytes + len));
          grown.set(outData.subarray(0, outBytes));
          outData = grown;
        }
        if (outCount === outLens.length) {
          const grown = new Uint32Array(outLens.length * 2);
          grown.set(outLens);
          outLens = grown;
        }
        outData.set(m.subarray(ptr, ptr + len), outBytes);
        outLens[outCount++] = len;
        outBytes += len;
      },
      log(level: number, ptr: number, len: number): void {
        ptr >>>= 0;
        len >>>= 0;
        const m = checkRange('log', ptr, len);
        spend(len);
        logs.push(level >= 0 && level <= 3 ? level : 1, utf8.decode(m.subarray(ptr, ptr + len)));
      },
      now_ms: (): number => Date.now(),
    },
    env: {
      // AssemblyScript: abort(message, fileName, line, column); strings are UTF-16LE with their byte length at ptr-4.
      abort(msgPtr: number, filePtr: number, line: number, column: number): void {
        throw new Fault(`trap:abort: ${asString(msgPtr)} at ${asString(filePtr)}:${line}:${column}`);
      },
    },
  };

  function asString(ptr: number): string {
    ptr >>>= 0;
    const m = view();
    if (ptr < 4 || ptr > m.length) return '?';
    const len = new DataView(m.buffer).getUint32(ptr - 4, true);
    return ptr + len > m.length ? '?' : utf16.decode(m.subarray(ptr, ptr + len));
  }

  function reasonOf(err: unknown): string {
    if (err instanceof Fault) return err.reason;
    return `trap:${err instanceof Error ? err.message : String(err)}`;
  }

  /** Drains the collected outputs into transferable buffers. */
  function takeOut(): { out: Packed; transfer: ArrayBuffer[] } {
    if (outCount === 0) return { out: { count: 0, lens: null, data: null }, transfer: [] };
    const lens = outLens.slice(0, outCount).buffer;
    const bytes = outData.slice(0, outBytes).buffer;
    const out = { count: outCount, lens, data: bytes };
    outBytes = outCount = 0;
    return { out, transfer: [lens, bytes] };
  }

  function send(msg: FromWorker, transfer: ArrayBuffer[]): void {
    port.postMessage(msg, transfer);
    logs = [];
  }

  /** Instantiates and runs `init`; returns the failure message, or undefined on success (then the new instance is live). */
  function instantiate(module: WebAssembly.Module, config: Uint8Array): string | undefined {
    const [savedBytes, savedCount, saved] = [outBytes, outCount, { memory, alloc, process, mem8 }];
    control[CALLS]++;
    control[BUSY] = 1;
    budget = limits.maxOutputBytes;
    try {
      const exports = new WebAssembly.Instance(module, imports).exports as Record<string, unknown>;
      memory = exports.memory as WebAssembly.Memory;
      alloc = exports.alloc as typeof alloc;
      process = exports.process as typeof process;
      const init = exports.init as ((ptr: number, len: number) => number) | undefined;
      if (init) {
        let ptr = 0;
        if (config.length > 0) {
          ptr = alloc(config.length) >>> 0;
          checkRange('alloc returned a pointer', ptr, config.length).set(config, ptr);
        }
        const rc = init(ptr, config.length);
        if (rc !== 0) throw new Fault(`init returned ${rc}`);
      }
      return undefined;
    } catch (err) {
      [outBytes, outCount] = [savedBytes, savedCount];
      ({ memory, alloc, process, mem8 } = saved);
      const reason = reasonOf(err);
      return reason.startsWith('trap:') ? reason.slice(5) : reason;
    } finally {
      control[BUSY] = 0;
    }
  }

  function runBatch(count: number, lensBuf: ArrayBuffer, dataBuf: ArrayBuffer): void {
    const lens = new Uint32Array(lensBuf, 0, count);
    const input = new Uint8Array(dataBuf);
    let offset = 0;
    let processed = 0;
    let exit: string | undefined;
    control[BUSY] = 1;
    for (let i = 0; i < count; i++) {
      const len = lens[i];
      const [markBytes, markCount, markLogs] = [outBytes, outCount, logs.length];
      budget = limits.maxOutputBytes;
      control[CALLS]++;
      try {
        const ptr = alloc(len) >>> 0;
        const m = view();
        // ABI: alloc must return len writable bytes inside memory; anything else is the step's fault.
        if (ptr + len > m.length) throw new Fault(`trap:alloc returned out-of-range pointer ${ptr} for ${len} bytes (memory is ${m.length} bytes)`);
        m.set(input.subarray(offset, offset + len), ptr);
        const rc = process(ptr, len);
        offset += len;
        processed++;
        if (rc !== 0) {
          exit = rc === 1 ? 'normal' : `exit:${rc}`; // ABI: 0 go on, 1 finished normally, other = abnormal exit
          break;
        }
      } catch (err) {
        // The failing message's outputs are discarded (it did not complete); its logs are kept for diagnosis.
        [outBytes, outCount] = [markBytes, markCount];
        if (err instanceof Fault && err.reason === 'output_limit') logs.length = markLogs;
        exit = reasonOf(err);
        break;
      }
    }
    control[BUSY] = 0;
    const { out, transfer } = takeOut();
    send(exit ? { t: 'done', processed, out, logs, exit: exit as never } : { t: 'done', processed, out, logs }, transfer);
    if (exit) port.close();
  }

  function start(msg: Instantiate): void {
    control = new Int32Array(msg.control);
    limits = msg.limits;
    const startError = instantiate(msg.module, msg.config);
    const { out, transfer } = takeOut();
    if (startError === undefined) return send({ t: 'ready', out, logs }, transfer);
    send({ t: 'done', processed: 0, out, logs, exit: `start_failed:${startError}` as never }, transfer);
    port.close();
  }

  port.on('message', (msg: ToWorker) => {
    if (msg.t === 'instantiate') start(msg);
    else if (msg.t === 'warm') {
      new WebAssembly.Instance(msg.module, {});
      send({ t: 'warmed' }, []);
    }
    else if (msg.t === 'batch') runBatch(msg.count, msg.lens!, msg.data!);
    else if (msg.t === 'swap') {
      const previous = limits;
      limits = msg.limits;
      const error = instantiate(msg.module, msg.config);
      if (error !== undefined) limits = previous; // a failed swap keeps the running version
      const { out, transfer } = takeOut();
      send(error === undefined ? { t: 'swapped', out, logs } : { t: 'swapped', out, logs, error }, transfer);
    } else {
      send({ t: 'stopped' }, []);
      port.close();
    }
  });
}
