export { Coordinator, type CoordinatorOptions } from './coordinator.js';
export { main, coordinatorSpec } from './main.js';
