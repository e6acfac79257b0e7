export { writeFileAtomic } from './atomic-write.js';
export { ContentStore, isSha256 } from './content-store.js';
export { DurableFile, type DurableFileSpec, type StoreObserver, type StoreOptions } from './durable-file.js';
export { CorruptContentError, StoreWriteError } from './errors.js';
export { openMapFile } from './map-file.js';
