import { z } from 'zod';
import { Sha256 } from '../shared/module-fetch.js';
import { TargetName } from '../shared/agent-release.js';

/** In a runtime-tree artifact, `flotilla/<this>` holds the digest of `flotilla/runtime/` (package.ts hashEntries). */
export const RUNTIME_DIGEST_FILE = 'runtime.sha256';

const Tarball = z.object({ file: z.string().min(1), installBytes: z.number().int().nonnegative() });

/**
 * `dist/targets/<target>/release.json`, written by the build and read by `flotilla agent-release push`: the
 * artifact's tarballs (the whole agent; for runtime-tree targets also the bundle without the runtime) and what a
 * device needs to know before installing one.
 */
export const BuildRelease = z.object({
  target: TargetName,
  full: Tarball,
  bundle: Tarball.optional(),
  runtime: Sha256.optional(),
});
export type BuildRelease = z.infer<typeof BuildRelease>;
