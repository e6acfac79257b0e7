import { createRequire } from 'node:module';
import vm from 'node:vm';

/** How a guarded call ended: returned, ran past its timeout (terminated), or threw. */
export type GuardOutcome = { ok: true } | { ok: false; timedOut: true } | { ok: false; timedOut: false; message: string };

/**
 * Runs a function in the agent's own thread under a V8 execution timeout: past it, V8 terminates the call (from
 * another thread: nothing in this one could) and the agent's code goes on.
 */
export interface SliceGuard {
  readonly kind: 'inspector' | 'vm';
  run(fn: () => void, timeoutMs: number): GuardOutcome;
}

/** Where the guarded expression finds the function to run (one slot: guarded calls never nest). */
const SLOT = Symbol.for('flotilla.sliceGuard.fn');
const slot = globalThis as unknown as Record<typeof SLOT, () => void>;
const EXPRESSION = 'void globalThis[Symbol.for("flotilla.sliceGuard.fn")]()';

const OK: GuardOutcome = { ok: true };
const TIMED_OUT: GuardOutcome = { ok: false, timedOut: true };
const failed = (message: string): GuardOutcome => ({ ok: false, timedOut: false, message: message.split('\n', 1)[0] });

/**
 * The cheapest guard this Node has. An in-process inspector session's `Runtime.evaluate` with a `timeout` arms a
 * delayed task on the V8 platform's standing worker threads; node:vm's `timeout` starts and joins a watchdog thread
 * per call, which costs most of a restart and all of its tail (bench/README.md, "Restart latency"). node:vm stays
 * for Node built without the inspector (`process.features.inspector`).
 */
export function sliceGuard(): SliceGuard {
  return process.features.inspector ? inspectorGuard() : vmGuard();
}

interface EvaluateReply {
  exceptionDetails?: { text: string; exception?: { description?: string; value?: unknown } };
}

interface InspectorSession {
  connect(): void;
  post(method: 'Runtime.evaluate', params: object, callback: (err: Error | null, reply: EvaluateReply) => void): void;
}

export function inspectorGuard(): SliceGuard {
  // Loaded only here: on a Node without the inspector, loading it throws. A builtin resolves from any base path
  // (import.meta.url is empty in a CJS bundle).
  const { Session } = createRequire('/')('node:inspector') as { Session: new () => InspectorSession };
  const session = new Session();
  session.connect();
  return {
    kind: 'inspector',
    run(fn, timeoutMs) {
      slot[SLOT] = fn;
      let outcome: GuardOutcome | undefined;
      // An in-process session answers within post (the callback runs before post returns).
      session.post('Runtime.evaluate', { expression: EXPRESSION, timeout: timeoutMs, silent: true }, (err, reply) => {
        if (err) outcome = /Execution was terminated/.test(err.message) ? TIMED_OUT : failed(err.message);
        else if (reply.exceptionDetails) {
          const { exception, text } = reply.exceptionDetails;
          // An Error is described by its stack; a thrown primitive only has a value.
          outcome = failed(exception?.description ?? (exception && 'value' in exception ? String(exception.value) : text));
        } else outcome = OK;
      });
      return outcome ?? failed('the inspector session did not answer');
    },
  };
}

export function vmGuard(): SliceGuard {
  const script = new vm.Script(EXPRESSION, { filename: 'flotilla-slice-guard' });
  return {
    kind: 'vm',
    run(fn, timeoutMs) {
      slot[SLOT] = fn;
      try {
        script.runInThisContext({ timeout: timeoutMs });
        return OK;
      } catch (err) {
        if ((err as { code?: string }).code === 'ERR_SCRIPT_EXECUTION_TIMEOUT') return TIMED_OUT;
        return failed(err instanceof Error ? err.message : String(err));
      }
    },
  };
}
