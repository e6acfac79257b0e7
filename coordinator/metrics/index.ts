/** The coordinator's metrics and `GET /metrics` (docs/api.md, "Metrics"). */
export { CoordinatorMetrics, MAX_DEVICE_SERIES, type InvalidSource } from './metrics.js';
export { addMetricsRoute } from './route.js';
