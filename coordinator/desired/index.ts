/** Desired state per device (docs/api.md, "Desired state"): resolved, stored, published retained, routed down the tree. */
export { DesiredStates } from './desired-states.js';
export { addDesiredRoutes } from './routes.js';
export { moduleRefOf, resolveSpec } from './resolve.js';
