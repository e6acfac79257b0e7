/** Agent releases (docs/flashing.md, "Over-the-air agent updates"): the registry, the artifacts and their routes. */
export { ArtifactStore } from './artifact-store.js';
export { ReleaseRegistry } from './release-registry.js';
export { addReleaseRoutes } from './routes.js';
export { agentPin } from './agent-change.js';
