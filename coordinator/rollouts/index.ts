/** Staged rollouts (docs/rollouts.md): the pure planner and share cores, and their executor at a coordinator. */
export { Rollouts } from './rollouts.js';
export { addRolloutRoutes } from './routes.js';
export { changeEnv } from './change-env.js';
