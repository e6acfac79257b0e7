import type { Router } from '../http/router.js';
import type { CoordinatorMetrics } from './metrics.js';

/** `GET /metrics`: the Prometheus text format (docs/api.md, "Metrics"), under the API token like /api. */
export function addMetricsRoute(router: Router, metrics: CoordinatorMetrics): void {
  router.add('GET', '/metrics', async ({ res }) => {
    const { contentType, text } = await metrics.scrape();
    res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store' });
    res.end(text);
    return undefined;
  });
}
