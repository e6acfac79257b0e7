export { Workload, type WorkloadDeps } from './workload.js';
export { attachWorkload } from './attach.js';
