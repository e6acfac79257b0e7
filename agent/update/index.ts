/** Over-the-air agent updates, the agent's side (docs/flashing.md): A/B slots kept with the launcher. */
export { Updater, type UpdaterDeps } from './updater.js';
export { launchEnv, SlotHome, type LaunchEnv, type Slot } from './slots.js';
export { download, DownloadError } from './download.js';
export { decideUpdate } from './decide.js';
