export { Workload, type WorkloadDeps } from './workload.js';
export { attachWorkload } from './attach.js';
export { AgentRevocations } from './revocations.js';
