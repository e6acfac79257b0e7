import type { z } from 'zod';
import { StepUpload, type StepInfo, type StepList } from '../../shared/modules.js';
import { DEFAULT_LIMITS } from '../../shared/step-abi.js';
import { sha256Hex } from '../../shared/step-manifest.js';
import { checkAbi } from '../../shared/wasm/abi-check.js';
import { inspectModule } from '../../shared/wasm/binary.js';
import { StepLoadError } from '../../shared/wasm/step-load-error.js';
import { HttpError, type Router } from '../http/router.js';
import { MAX_BODY_BYTES, readJson } from '../http/server.js';
import type { StepRegistry } from './step-registry.js';
import type { ContentStore } from '../../shared/durable/index.js';
import { signatureProblem, type TrustedKeys } from '../../shared/signing.js';

/**
 * What an agent would refuse at load is refused at upload (issue 11, finding 6): the module must compile and meet
 * ABI 1 — only the ABI's imports, the required exports with their signatures, one memory whose initial size fits the
 * manifest's limit. Same checks as the agent's (shared/wasm/), so an accepted module cannot fail there for these.
 */
async function checkModule(bytes: Uint8Array, maxMemoryPages: number): Promise<void> {
  try {
    checkAbi(inspectModule(bytes), maxMemoryPages);
    await WebAssembly.compile(bytes);
  } catch (err) {
    if (err instanceof StepLoadError || err instanceof WebAssembly.CompileError) throw new HttpError(400, `invalid request body: module: ${err.message}`);
    throw err;
  }
}

/**
 * `POST /api/v1/steps` (upload module + manifest) and `GET /api/v1/steps` (docs/api.md, "Steps"). With trusted
 * publisher keys, an upload they did not sign is refused (403) before anything is stored; so is one signed by a
 * `revoked` key, trusted keys or not.
 */
export function addStepRoutes(router: Router, steps: StepRegistry, store: ContentStore, trusted: TrustedKeys, revoked: () => ReadonlySet<string>): void {
  router.add('GET', '/api/v1/steps', (): { body: z.infer<typeof StepList> } => ({ body: { steps: steps.list() } }));

  router.add('POST', '/api/v1/steps', async ({ req }): Promise<{ status: number; body: StepInfo }> => {
    // The module travels as one base64 string: the body may be as large as a module, its string too.
    const upload = await readJson(req, StepUpload, { maxBytes: MAX_BODY_BYTES, maxString: MAX_BODY_BYTES });
    const bytes = Buffer.from(upload.module, 'base64');
    const sha256 = sha256Hex(bytes);
    if (upload.sha256 && upload.sha256 !== sha256) throw new HttpError(400, `invalid request body: sha256: the module hashes to ${sha256}, not ${upload.sha256}`);
    const ref = `${upload.name}@${upload.version}`;
    const existing = steps.resolve(ref);
    // A version names one module forever: re-uploading the same bytes is fine, different bytes are refused.
    if (existing && existing.sha256 !== sha256) throw new HttpError(409, `${ref} is already registered with sha256 ${existing.sha256}; publish a new version`);
    // Bytes already registered passed these checks at their first upload: compile only what is new.
    if (!existing) await checkModule(bytes, upload.limits?.maxMemoryPages ?? DEFAULT_LIMITS.maxMemoryPages);
    const limits = existing ? existing.limits : upload.limits;
    const refused = signatureProblem(trusted, { ref, sha256, limits }, upload.signature, revoked());
    if (refused) throw new HttpError(403, `step refused: ${refused}`);
    await store.put(bytes);
    const fresh: StepInfo = { ref, name: upload.name, version: upload.version, sha256, size: bytes.length, uploadedAt: Date.now(), ...(limits ? { limits } : {}) };
    // The same bytes pushed again with a signature (a build signed later, or re-signed by a new key) keep it.
    const info: StepInfo = upload.signature ? { ...(existing ?? fresh), signature: upload.signature } : (existing ?? fresh);
    if (info !== existing) await steps.add(info);
    return { status: existing ? 200 : 201, body: info };
  });
}
