import parsePrometheusTextFormat from 'parse-prometheus-text-format';

interface Family {
  name: string;
  type: string;
  metrics: { value?: string; labels?: Record<string, string>; count?: string }[];
}

/**
 * Scrape a coordinator's `GET /metrics` and parse it with a real Prometheus text-format parser. `value(name, labels)`
 * sums the samples of a family whose labels include `labels` (0 when none match; a histogram gives its count).
 */
export async function scrape(api: string, token?: string) {
  const res = await fetch(`${api}/metrics`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  if (res.status !== 200) throw new Error(`GET /metrics: ${res.status} ${await res.text()}`);
  const families = parsePrometheusTextFormat(await res.text()) as Family[];
  const byName = new Map(families.map((f) => [f.name, f]));
  return {
    contentType: res.headers.get('content-type'),
    families: byName,
    value(name: string, labels: Record<string, string> = {}): number {
      const family = byName.get(name);
      if (!family) return 0;
      return family.metrics
        .filter((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v))
        .reduce((n, m) => n + Number(m.value ?? m.count ?? 0), 0);
    },
  };
}

/** One metric value, scraped now. */
export async function metric(api: string, name: string, labels: Record<string, string> = {}, token?: string): Promise<number> {
  return (await scrape(api, token)).value(name, labels);
}
