export { FleetLogs } from './fleet-logs.js';
export { LogRings, DEVICE_LOG_BURST, DEVICE_LOG_RATE_PER_S } from './log-rings.js';
export { addLogRoutes, localLogs, type LogRouteDeps } from './routes.js';
