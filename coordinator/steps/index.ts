/** The coordinator's step registry and module cache (docs/federation.md, "Module caching"). */
export { ModuleServer } from './module-server.js';
export { addStepRoutes } from './routes.js';
export { StepRegistry } from './step-registry.js';
