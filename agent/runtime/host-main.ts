import type { MessagePort, receiveMessageOnPort as ReceiveMessageOnPort } from 'node:worker_threads';
import type { FromHost, Packed, ToHost, WorkerLimits } from './protocol.js';

/**
 * A host sharing its thread with the agent (thread-host.ts) runs in slices: `due()` says the slice is over, and a
 * batch then stops between two messages; its rest (`resume`) runs in the next slice, ahead of anything queued.
 */
export interface HostSlices {
  due(): boolean;
  resume(msg: Extract<ToHost, { t: 'batch' }>): void;
}

/**
 * The body of a step host: one worker isolate running many step instances, one call at a time. Started from its
 * source text with `new Worker(HOST_SOURCE, { eval: true })`, so it must stay self-contained: it uses no
 * outer-scope values and not even `require` (bundlers rewrite that name); its port, control block, `receiveMessageOnPort` and
 * restart spin come as arguments (type imports are erased). That keeps it working from tsc's dist/, an esbuild single-file bundle and a
 * Node SEA executable alike. The agent's own thread runs it too (thread-host.ts), over an in-process port, in slices.
 *
 * Each instance has its own linear memory (capped in its module at load). A fault of one instance (trap, abort,
 * bad pointer, output over the limit, its metered time budget running out in `tick`) ends that instance only: the
 * host forgets it and goes on with the others.
 */
export function hostMain(port: MessagePort, control: Int32Array, receive: typeof ReceiveMessageOnPort, spinMs: number, slices?: HostSlices): void {
  const BUSY = 0; // protocol.ts CONTROL_*
  const CALLS = 1;
  const CURRENT = 2;
  const KILL = 3;
  /** Fuel between two `tick`s is adapted per instance so a tick comes about every millisecond, whatever the loop. */
  const FUEL_MIN = 1_000;
  const FUEL_MAX = 50_000_000;
  const FUEL_START = 100_000;
  const utf8 = new TextDecoder();
  const utf16 = new TextDecoder('utf-16le');

  /** A step fault carrying its exit reason (thrown through the Wasm frames from an import). */
  class Fault {
    constructor(readonly reason: string) {}
  }

  interface Instance {
    id: number;
    limits: WorkerLimits;
    memory: WebAssembly.Memory | undefined;
    alloc: (len: number) => number;
    process: (ptr: number, len: number) => number;
    /** The metered module's fuel counter (exported `flotilla_fuel`); absent in an unmetered module. */
    fuel: { value: number } | undefined;
    refill: number;
  }

  const instances = new Map<number, Instance>();
  /** Producer id → the ids of the instances its outputs are handed to in this host (`link`). */
  const links = new Map<number, { to: number[]; keep: boolean }>();
  /** The instance whose code runs now: the imports act on it. */
  let cur: Instance | undefined;
  let mem8 = new Uint8Array(0);
  let mem8Of: WebAssembly.Memory | undefined;
  let budget = 0; // output bytes left for the current call (ABI: maxOutputBytes per input)
  /** The current call's deadline (performance.now()), 0 until its first tick. */
  let deadline = 0;
  let lastTick = 0;
  /** A tick of this batch found the slice over (HostSlices): the batch stops before its next message. */
  let sliceOver = false;

  let outData = new Uint8Array(64 * 1024);
  let outLens = new Uint32Array(256);
  let outBytes = 0;
  let outCount = 0;
  let logs: (number | string)[] = [];

  /** The current instance's memory view (memory.grow detaches the old buffer). */
  function view(): Uint8Array {
    const memory = cur?.memory;
    if (!memory) throw new Fault('trap:an import was called before the module had its memory (from its start function)');
    // memory.grow detaches the old buffer (length 0): checked without the `buffer` getter, which costs per call.
    if (mem8Of !== memory || mem8.length === 0) [mem8, mem8Of] = [new Uint8Array(memory.buffer), memory];
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
    // The metering contract (agent/runtime/metering, METER_TICK and METER_FUEL): a metered module calls tick when
    // its fuel runs out.
    flotilla_meter: {
      tick(): void {
        const inst = cur!;
        const now = performance.now();
        if (control[KILL] === inst.id) throw new Fault('killed');
        if (slices !== undefined && !sliceOver) sliceOver = slices.due();
        if (deadline === 0) {
          // The call's first tick, at most one refill (about a millisecond) after it started: its budget counts
          // from here, so that a call that never ticks reads no clock at all.
          deadline = now + inst.limits.timeBudgetMs;
        } else {
          // ABI: a call running longer than timeBudgetMs ends the step with `timeout` (only this instance).
          if (now >= deadline) throw new Fault('timeout');
          const elapsed = now - lastTick;
          if (elapsed < 0.5) inst.refill = Math.min(FUEL_MAX, inst.refill * 2);
          else if (elapsed > 2) inst.refill = Math.max(FUEL_MIN, Math.floor(inst.refill / 2));
        }
        lastTick = now;
        // During instantiation (the module's start function) the exports are not reachable yet: only the clock counts.
        if (inst.fuel) inst.fuel.value = inst.refill;
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

  /**
   * Marks a call of `inst` as running: the watchdog sees it; its deadline is set at its first tick. The fuel is not
   * refilled per call (a Global write each): it carries over, so an instance ticks about every millisecond of its
   * own running, whichever call it is in.
   */
  function enter(inst: Instance): void {
    cur = inst;
    budget = inst.limits.maxOutputBytes;
    deadline = 0;
    control[CURRENT] = inst.id;
    control[CALLS]++;
    control[BUSY] = 1;
  }

  function leave(): void {
    control[BUSY] = 0;
  }

  /** Drains the collected outputs into transferable buffers. */
  function takeOut(): { out: Packed; transfer: ArrayBuffer[] } {
    if (outCount === 0) return { out: { count: 0, lens: null, data: null }, transfer: [] };
    // A buffer at least half full is handed over as it is, and a new one sized for the next batch (no copy); one
    // mostly empty is copied out, so that an output kept by its owner does not pin a large buffer.
    let lens: ArrayBuffer;
    let bytes: ArrayBuffer;
    if (outCount * 2 >= outLens.length) [lens, outLens] = [outLens.buffer as ArrayBuffer, new Uint32Array(Math.max(256, outCount))];
    else lens = outLens.slice(0, outCount).buffer;
    if (outBytes * 2 >= outData.length) [bytes, outData] = [outData.buffer as ArrayBuffer, new Uint8Array(Math.max(64 * 1024, outBytes))];
    else bytes = outData.slice(0, outBytes).buffer;
    const out = { count: outCount, lens, data: bytes };
    outBytes = outCount = 0;
    return { out, transfer: [lens, bytes] };
  }

  function send(msg: FromHost, transfer: ArrayBuffer[] = []): void {
    port.postMessage(msg, transfer);
    logs = [];
  }

  /** A new instance of `module` with `init` run; returns it, or the failure message. */
  function instantiate(id: number, module: WebAssembly.Module, config: Uint8Array, limits: WorkerLimits): Instance | string {
    const inst: Instance = { id, limits, memory: undefined, alloc: () => 0, process: () => 0, fuel: undefined, refill: FUEL_START };
    const [savedBytes, savedCount] = [outBytes, outCount];
    const previous = cur;
    enter(inst);
    try {
      const exports = new WebAssembly.Instance(module, imports).exports as Record<string, unknown>;
      inst.memory = exports.memory as WebAssembly.Memory;
      inst.alloc = exports.alloc as Instance['alloc'];
      inst.process = exports.process as Instance['process'];
      inst.fuel = exports.flotilla_fuel as Instance['fuel'];
      if (inst.fuel) inst.fuel.value = inst.refill;
      const init = exports.init as ((ptr: number, len: number) => number) | undefined;
      if (init) {
        let ptr = 0;
        if (config.length > 0) {
          ptr = inst.alloc(config.length) >>> 0;
          checkRange('alloc returned a pointer', ptr, config.length).set(config, ptr);
        }
        const rc = init(ptr, config.length);
        if (rc !== 0) throw new Fault(`init returned ${rc}`);
      }
      return inst;
    } catch (err) {
      [outBytes, outCount] = [savedBytes, savedCount];
      const reason = reasonOf(err);
      if (reason === 'timeout') return `init exceeded the time budget of ${limits.timeBudgetMs} ms`;
      return reason.startsWith('trap:') ? reason.slice(5) : reason;
    } finally {
      leave();
      cur = previous;
    }
  }

  /**
   * Runs one batch of `inst` from message `from.index` (at byte `from.offset`); returns its reply (outputs drained,
   * logs taken) and the outputs as they travel. With `mayYield`, it stops before a message once the slice is over
   * (`rest`: where the batch goes on).
   */
  function runBatch(inst: Instance, count: number, lensBuf: ArrayBuffer, dataBuf: ArrayBuffer, from: { index: number; offset: number }, mayYield: boolean): { processed: number; bytes: number; exit: string | undefined; rest: { index: number; offset: number } | undefined; out: Packed; transfer: ArrayBuffer[]; logs: (number | string)[] } {
    const lens = new Uint32Array(lensBuf, 0, count);
    const input = new Uint8Array(dataBuf);
    let offset = from.offset;
    let processed = 0;
    let exit: string | undefined;
    let rest: { index: number; offset: number } | undefined;
    sliceOver = false;
    for (let i = from.index; i < count; i++) {
      // The clock is read every 8 messages (calls that never tick are short) and by every tick. A slice runs at
      // least one message of its batch: a cut always makes progress, and no reply is empty.
      if (mayYield && slices !== undefined && i > from.index && (sliceOver || ((i - from.index) % 8 === 0 && slices.due()))) {
        rest = { index: i, offset };
        break;
      }
      const len = lens[i];
      const markBytes = outBytes;
      const markCount = outCount;
      const markLogs = logs.length;
      enter(inst);
      try {
        const ptr = inst.alloc(len) >>> 0;
        const m = view();
        // ABI: alloc must return len writable bytes inside memory; anything else is the step's fault.
        if (ptr + len > m.length) throw new Fault(`trap:alloc returned out-of-range pointer ${ptr} for ${len} bytes (memory is ${m.length} bytes)`);
        m.set(input.subarray(offset, offset + len), ptr);
        const rc = inst.process(ptr, len);
        offset += len;
        processed++;
        if (rc !== 0) {
          exit = rc === 1 ? 'normal' : `exit:${rc}`; // ABI: 0 go on, 1 finished normally, other = abnormal exit
          break;
        }
      } catch (err) {
        // The failing message's outputs are discarded (it did not complete); its logs are kept for diagnosis.
        outBytes = markBytes;
        outCount = markCount;
        if (err instanceof Fault && err.reason === 'output_limit') logs.length = markLogs;
        exit = reasonOf(err);
        break;
      } finally {
        leave();
      }
    }
    if (exit) forget(inst.id);
    const taken = logs;
    logs = [];
    return { processed, bytes: offset - from.offset, exit, rest, ...takeOut(), logs: taken };
  }

  /**
   * Runs a batch of `inst`, then hands its outputs, in this thread, to each instance it is linked to (`{from}`
   * consumers sharing this host), depth first: a pipeline's messages cross to the agent thread once, with every
   * stage's reply. A consumer that is gone (exited, dropped, being killed) or already on this path (a cycle) is not
   * handed anything: its producer's reply leaves it out of `fwd`, and the agent thread delivers those outputs itself.
   */
  function runChain(inst: Instance, count: number, lensBuf: ArrayBuffer, dataBuf: ArrayBuffer, piped: boolean, path: Set<number>, replies: FromHost[], transfer: ArrayBuffer[], from = { index: 0, offset: 0 }): { index: number; offset: number } | undefined {
    // Only a head batch is ever cut: hosts that run in slices have no links.
    const r = runBatch(inst, count, lensBuf, dataBuf, from, !piped);
    const link = links.get(inst.id);
    const next: Instance[] = [];
    for (const id of r.out.count > 0 && link ? link.to : []) {
      const consumer = instances.get(id);
      if (consumer && control[KILL] !== id && !path.has(id)) next.push(consumer);
    }
    const fwd = next.length > 0 ? next.map((c) => c.id) : undefined;
    // Handed to every consumer and wanted by no one else: only the count crosses.
    const countOnly = fwd !== undefined && !link!.keep && next.length === link!.to.length;
    const out = countOnly ? { count: r.out.count, lens: null, data: null } : r.out;
    const reply = { i: inst.id, processed: r.processed, out, logs: r.logs, ...(r.exit ? { exit: r.exit as never } : {}), ...(fwd ? { fwd } : {}), ...(r.rest ? { more: r.bytes } : {}) };
    replies.push(piped ? { t: 'piped', count, ...reply } : { t: 'done', ...reply });
    if (!countOnly) transfer.push(...r.transfer);
    for (const consumer of next) {
      path.add(consumer.id);
      runChain(consumer, r.out.count, r.out.lens!, r.out.data!, true, path, replies, transfer);
      path.delete(consumer.id);
    }
    return r.rest;
  }

  function forget(id: number): void {
    instances.delete(id);
    links.delete(id);
  }

  /**
   * After reporting an instance's exit, the answer (the supervisor's restart, or the next batch) usually comes back
   * within a fraction of a millisecond: polling for it for up to `spinMs` spares the wake-up of this thread, the
   * largest part of an idle restart. 0 (one core: the spin would hold up the agent thread) turns it off.
   */
  function awaitAnswer(): void {
    const until = performance.now() + spinMs;
    while (performance.now() < until) {
      const got = receive(port);
      if (got) return handle(got.message as ToHost, false);
    }
  }

  port.on('message', (msg: ToHost) => handle(msg, true));

  /** Runs a batch (and its chain), answers with `replies` ahead of its own in one message. */
  function runAndSend(inst: Instance, msg: Extract<ToHost, { t: 'batch' }>, spin: boolean, replies: FromHost[], transfer: ArrayBuffer[]): void {
    const rest = runChain(inst, msg.count, msg.lens!, msg.data!, false, new Set([inst.id]), replies, transfer, msg.from);
    if (rest) slices!.resume({ ...msg, from: rest });
    send(replies.length === 1 ? replies[0] : { t: 'chain', replies }, transfer);
    if (spin && spinMs > 0 && replies.some((r) => 'exit' in r && r.exit !== undefined)) awaitAnswer();
  }

  function handle(msg: ToHost, spin: boolean): void {
    const inst = instances.get(msg.i);
    switch (msg.t) {
      case 'instantiate': {
        const made = instantiate(msg.i, msg.module, msg.config, msg.limits);
        const { out, transfer } = takeOut();
        if (typeof made === 'string') return send({ t: 'done', i: msg.i, processed: 0, out, logs, exit: `start_failed:${made}` as never }, transfer);
        instances.set(msg.i, made);
        const ready: FromHost = { t: 'ready', i: msg.i, out, logs };
        logs = [];
        // A (re)start's first batch is posted right behind it: run it now and answer both in one crossing.
        const next = receive(port)?.message as ToHost | undefined;
        if (next?.t === 'batch' && next.i === msg.i) return runAndSend(made, next, spin, [ready], transfer);
        send(ready, transfer);
        if (next) handle(next, spin);
        return;
      }
      case 'batch':
        // Batches of an instance that exited or was killed meanwhile are not run.
        if (inst && control[KILL] !== inst.id) runAndSend(inst, msg, spin, [], []);
        return;
      case 'link':
        if (inst) links.set(msg.i, { to: msg.to, keep: msg.keep });
        return;
      case 'swap': {
        if (!inst) return;
        const made = instantiate(msg.i, msg.module, msg.config, msg.limits);
        if (typeof made !== 'string') instances.set(msg.i, made); // a failed swap keeps the running version
        const { out, transfer } = takeOut();
        return send(typeof made !== 'string' ? { t: 'swapped', i: msg.i, out, logs } : { t: 'swapped', i: msg.i, out, logs, error: made }, transfer);
      }
      case 'stop':
        if (!inst) return;
        forget(msg.i);
        return send({ t: 'stopped', i: msg.i });
      case 'drop':
        forget(msg.i);
        return send({ t: 'dropped', i: msg.i });
    }
  }
}
