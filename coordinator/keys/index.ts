/** Publisher keys at a coordinator: the revocation list it holds and hands down (docs/flashing.md, "Revoking a key"). */
export { Revocations } from './revocations.js';
export { addKeyRoutes } from './routes.js';
