import type { z } from 'zod';
import { StepUpload, type StepInfo, type StepList } from '../../shared/modules.js';
import { sha256Hex } from '../../shared/step-manifest.js';
import { HttpError, type Router } from '../http/router.js';
import { MAX_BODY_BYTES, readJson } from '../http/server.js';
import type { StepRegistry } from './step-registry.js';
import type { ContentStore } from '../../shared/durable/index.js';

const WASM_MAGIC = [0x00, 0x61, 0x73, 0x6d];

/** `POST /api/v1/steps` (upload module + manifest) and `GET /api/v1/steps` (docs/api.md, "Steps"). */
export function addStepRoutes(router: Router, steps: StepRegistry, store: ContentStore): void {
  router.add('GET', '/api/v1/steps', (): { body: z.infer<typeof StepList> } => ({ body: { steps: steps.list() } }));

  router.add('POST', '/api/v1/steps', async ({ req }): Promise<{ status: number; body: StepInfo }> => {
    // The module travels as one base64 string: the body may be as large as a module, its string too.
    const upload = await readJson(req, StepUpload, { maxBytes: MAX_BODY_BYTES, maxString: MAX_BODY_BYTES });
    const bytes = Buffer.from(upload.module, 'base64');
    if (bytes.length < 8 || !WASM_MAGIC.every((b, i) => bytes[i] === b)) throw new HttpError(400, 'invalid request body: module: not a WebAssembly binary (no \\0asm header)');
    const sha256 = sha256Hex(bytes);
    if (upload.sha256 && upload.sha256 !== sha256) throw new HttpError(400, `invalid request body: sha256: the module hashes to ${sha256}, not ${upload.sha256}`);
    const ref = `${upload.name}@${upload.version}`;
    const existing = steps.resolve(ref);
    // A version names one module forever: re-uploading the same bytes is fine, different bytes are refused.
    if (existing && existing.sha256 !== sha256) throw new HttpError(409, `${ref} is already registered with sha256 ${existing.sha256}; publish a new version`);
    await store.put(bytes);
    const info: StepInfo = existing ?? { ref, name: upload.name, version: upload.version, sha256, size: bytes.length, uploadedAt: Date.now(), ...(upload.limits ? { limits: upload.limits } : {}) };
    if (!existing) await steps.add(info);
    return { status: existing ? 200 : 201, body: info };
  });
}
