import { z } from 'zod';
import { StepRef } from './supervisor-spec.js';
import { Sha256 } from './module-fetch.js';
import { StepLimits } from './step-manifest.js';
import { StepSignature } from './signing.js';

/** A step in a coordinator's registry (`GET /api/v1/steps`). */
export const StepInfo = z.object({
  ref: StepRef,
  name: z.string(),
  version: z.string(),
  sha256: Sha256,
  size: z.number().int().nonnegative(),
  uploadedAt: z.number(),
  /** Limits from the step's manifest, sent to agents with the module (shared/desired.ts ModuleRef). */
  limits: StepLimits.partial().optional(),
  /** The publisher's signature (shared/signing.ts), sent to agents with the module like the limits. */
  signature: StepSignature.optional(),
});
export type StepInfo = z.infer<typeof StepInfo>;

/**
 * `POST /api/v1/steps`: the module base64-encoded, its manifest's limits, its publisher's signature; `sha256`, when
 * given, must match the bytes.
 */
export const StepUpload = z.object({
  name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'must be 1-64 characters of A-Z a-z 0-9 _ . -'),
  version: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}$/, 'must be 1-64 characters of A-Z a-z 0-9 _ . + -'),
  sha256: Sha256.optional(),
  module: z.string().min(1, 'must hold the module, base64-encoded'),
  limits: StepLimits.partial().optional(),
  signature: StepSignature.optional(),
});
export type StepUpload = z.infer<typeof StepUpload>;

export const StepList = z.object({ steps: z.array(StepInfo) });
