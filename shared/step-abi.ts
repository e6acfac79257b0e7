/**
 * The step ABI, version 1 (docs/step-abi.md is the normative text; every constant here is cited there).
 * Pure data and string helpers shared by the agent runtime, the CLI and the coordinator.
 */

export const STEP_ABI_VERSION = 1;

/** ABI: the only import module a step may use, and its functions. */
export const IMPORT_MODULE = 'flotilla';

/** ABI: every import a step may declare, with its exact signature (AssemblyScript's `env.abort` included). */
export const ALLOWED_IMPORTS: ReadonlyArray<{ module: string; name: string; params: string[]; results: string[] }> = [
  { module: IMPORT_MODULE, name: 'emit', params: ['i32', 'i32'], results: [] },
  { module: IMPORT_MODULE, name: 'log', params: ['i32', 'i32', 'i32'], results: [] },
  { module: IMPORT_MODULE, name: 'now_ms', params: [], results: ['f64'] },
  { module: 'env', name: 'abort', params: ['i32', 'i32', 'i32', 'i32'], results: [] },
];

/** ABI: exports a step must (or, for `init`, may) provide, with their exact signatures. */
export const REQUIRED_EXPORTS: ReadonlyArray<{ name: string; params: string[]; results: string[]; optional?: boolean }> = [
  { name: 'alloc', params: ['i32'], results: ['i32'] },
  { name: 'process', params: ['i32', 'i32'], results: ['i32'] },
  { name: 'init', params: ['i32', 'i32'], results: ['i32'], optional: true },
];

/** ABI: return values of `process`. Anything else is an abnormal exit `exit:<code>`. */
export const PROCESS_CONTINUE = 0;
export const PROCESS_FINISHED = 1;

/** ABI: `log` levels. */
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type StepLogLevel = (typeof LOG_LEVELS)[number];

/** Wasm page size in bytes. */
export const WASM_PAGE_BYTES = 65_536;

/** ABI: default limits when a manifest leaves them out. */
export const DEFAULT_LIMITS = {
  /** 256 pages = 16 MiB; `memory.grow` past this returns -1. */
  maxMemoryPages: 256,
  /** Per `init`/`process` call; exceeded = exit `timeout`. */
  timeBudgetMs: 1_000,
  /** Bytes emitted plus bytes logged per input message (and by `init`); exceeded = exit `output_limit`. */
  maxOutputBytes: 1_048_576,
  /** Largest input message the host accepts for this step; larger ones are refused at `push`, never delivered. */
  maxInputBytes: 1_048_576,
} as const;

/** ABI hard ceiling: 65,536 pages = 4 GiB, the whole 32-bit address space. */
export const MAX_MEMORY_PAGES = 65_536;

/**
 * Why a step stopped, in the one documented string form (ABI: exit reasons).
 * `normal` and `shutdown` are normal exits (OTP: a transient child is not restarted after them); all others are abnormal.
 */
export type ExitReason =
  | 'normal'
  | 'shutdown'
  | 'killed'
  | 'timeout'
  | 'output_limit'
  | `exit:${number}`
  | `trap:${string}`
  | `start_failed:${string}`;

export type ParsedExitReason =
  | { kind: 'normal' | 'shutdown' | 'killed' | 'timeout' | 'output_limit' }
  | { kind: 'exit'; code: number }
  | { kind: 'trap' | 'start_failed'; message: string };

const SIMPLE = new Set(['normal', 'shutdown', 'killed', 'timeout', 'output_limit']);

/** Parses the string form; returns undefined for anything that is not a valid exit reason. */
export function parseExitReason(text: string): ParsedExitReason | undefined {
  if (SIMPLE.has(text)) return { kind: text as 'normal' };
  const colon = text.indexOf(':');
  if (colon < 0) return undefined;
  const [kind, rest] = [text.slice(0, colon), text.slice(colon + 1)];
  if (kind === 'exit') return /^-?\d+$/.test(rest) && Number.isSafeInteger(Number(rest)) ? { kind, code: Number(rest) } : undefined;
  if (kind === 'trap' || kind === 'start_failed') return { kind, message: rest };
  return undefined;
}

export function formatExitReason(reason: ParsedExitReason): ExitReason {
  switch (reason.kind) {
    case 'exit':
      return `exit:${reason.code}`;
    case 'trap':
    case 'start_failed':
      return `${reason.kind}:${oneLine(reason.message)}`;
    default:
      return reason.kind;
  }
}

/** Exit reasons are single-line strings: messages are flattened so the form stays parseable in logs and MQTT. */
function oneLine(message: string): string {
  return message.replace(/\s*\n\s*/g, ' ').trim();
}

/** OTP: `normal` and `shutdown` are normal exit reasons; everything else is abnormal. */
export function isNormalExit(reason: ExitReason): boolean {
  return reason === 'normal' || reason === 'shutdown';
}
