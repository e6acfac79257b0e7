/** The coordinator's step registry and module cache (docs/federation.md, "Module caching"). */
export { ModuleServer, type ModuleServerStats } from './module-server.js';
export { addStepRoutes } from './routes.js';
export { StepRegistry } from './step-registry.js';
