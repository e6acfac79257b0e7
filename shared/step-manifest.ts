import { createHash } from 'node:crypto';
import { z } from 'zod';
import { ValidationError, describeZodError } from './errors.js';
import { DEFAULT_LIMITS, MAX_MEMORY_PAGES, STEP_ABI_VERSION } from './step-abi.js';

/**
 * A step's manifest: what it is, which bytes it is (sha256), which ABI it speaks and the limits it runs under.
 * Written by `flotilla step build` beside the `.wasm`, stored with the module in the agent's step store.
 */
export const StepLimits = z.object({
  maxMemoryPages: z.number().int().min(0).max(MAX_MEMORY_PAGES).default(DEFAULT_LIMITS.maxMemoryPages),
  timeBudgetMs: z.number().int().positive().max(3_600_000).default(DEFAULT_LIMITS.timeBudgetMs),
  maxOutputBytes: z.number().int().nonnegative().default(DEFAULT_LIMITS.maxOutputBytes),
  maxInputBytes: z.number().int().nonnegative().default(DEFAULT_LIMITS.maxInputBytes),
});
export type StepLimits = z.infer<typeof StepLimits>;

export const StepManifest = z.object({
  // The same names a step reference (`name@version`) and the coordinator's step registry accept.
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'letters, digits, ".", "_" or "-", at most 64, starting with a letter or digit'),
  version: z.string().min(1).max(64),
  sha256: z.string().regex(/^[0-9a-f]{64}$/, 'expected 64 lower-case hex digits'),
  abi: z.literal(STEP_ABI_VERSION, { message: `unsupported step ABI version (this agent speaks ABI ${STEP_ABI_VERSION})` }),
  limits: StepLimits.default(StepLimits.parse({})),
});
export type StepManifest = z.infer<typeof StepManifest>;
export type StepManifestInput = z.input<typeof StepManifest>;

/** Parses a manifest at the boundary; throws a ValidationError naming each bad field. */
export function parseStepManifest(raw: unknown): StepManifest {
  const result = StepManifest.safeParse(raw);
  if (!result.success) throw new ValidationError(`invalid step manifest: ${describeZodError(result.error)}`);
  return result.data;
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** The manifest for `bytes`: its sha256, the current ABI, and the given limits over the defaults. */
export function manifestFor(bytes: Uint8Array, meta: { name: string; version: string; limits?: Partial<StepLimits> }): StepManifest {
  return parseStepManifest({ ...meta, sha256: sha256Hex(bytes), abi: STEP_ABI_VERSION, limits: meta.limits ?? {} });
}
