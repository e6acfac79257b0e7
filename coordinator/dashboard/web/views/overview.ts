import { html } from 'htm/preact';
import { useState } from 'preact/hooks';
import type { DeviceCounts, DeviceSummary, HealthState } from '../../../../shared/api.js';
import { countBy } from '../../../../shared/rollup.js';
import { clusterPaths, count, matches, NO_FILTER, selectorOf, type Filter } from '../fleet-view.js';
import { href } from '../route.js';
import type { FleetStore } from '../store.js';
import { ClusterTree } from './cluster-tree.js';
import { CountCards } from './common.js';
import { DeviceTable } from './device-table.js';

/** Problems first: what is wrong is at the top of the list. */
const STATE_ORDER: Record<HealthState, number> = { offline: 0, degraded: 1, unknown: 2, ok: 3 };

export function byUrgency(a: DeviceSummary, b: DeviceSummary): number {
  return STATE_ORDER[a.state] - STATE_ORDER[b.state] || a.id.localeCompare(b.id);
}

function GroupTable({ caption, rows, link }: { caption: string; rows: [string, DeviceCounts][]; link(key: string): string }) {
  return html`<table class="groups">
    <caption>${caption}</caption>
    <thead><tr><th scope="col">${caption.replace(/^By (.)/, (_, c: string) => c.toUpperCase())}</th><th scope="col" class="num">Devices</th><th scope="col" class="num">Online</th><th scope="col" class="num">Offline</th><th scope="col" class="num">Degraded</th></tr></thead>
    <tbody>
      ${rows.map(
        ([key, c]) => html`<tr key=${key}>
          <th scope="row"><a href=${link(key)}>${key}</a></th>
          <td class="num">${c.total}</td><td class="num">${c.online}</td><td class="num">${c.offline}</td><td class="num">${c.degraded}</td>
        </tr>`,
      )}
    </tbody>
  </table>`;
}

function Filters({ filter, set, clusters, arches }: { filter: Filter; set(f: Filter): void; clusters: string[]; arches: string[] }) {
  const field = (key: keyof Filter) => (e: Event) => set({ ...filter, [key]: (e.target as HTMLInputElement).value });
  const options = (values: string[], all: string) => [html`<option value="">${all}</option>`, ...values.map((v) => html`<option value=${v}>${v}</option>`)];
  return html`<form class="filters" role="search" aria-label="Filter devices" onSubmit=${(e: Event) => e.preventDefault()}>
    <label>Device id <input type="search" name="q" value=${filter.q} onInput=${field('q')} placeholder="e.g. sensor-12" autocomplete="off" /></label>
    <label>Cluster <select name="cluster" value=${filter.cluster} onChange=${field('cluster')}>${options(clusters, 'all clusters')}</select></label>
    <label>Arch <select name="arch" value=${filter.arch} onChange=${field('arch')}>${options(arches, 'all architectures')}</select></label>
    <label>State <select name="state" value=${filter.state} onChange=${field('state')}>${options(['ok', 'degraded', 'offline', 'unknown'], 'all states')}</select></label>
    <label>Step <input type="search" name="step" value=${filter.step} onInput=${field('step')} placeholder="step ref" autocomplete="off" /></label>
    <label>Labels <input type="search" name="select" value=${filter.select} onInput=${field('select')} placeholder="site=paris,tier!=lab" autocomplete="off" aria-describedby="select-error" /></label>
    <button type="button" onClick=${() => set(NO_FILTER)} disabled=${JSON.stringify(filter) === JSON.stringify(NO_FILTER)}>Clear filters</button>
  </form>`;
}

export function Overview({ store, initial }: { store: FleetStore; initial: Filter }) {
  const [filter, setFilterState] = useState(initial);
  const setFilter = (f: Filter) => {
    setFilterState(f);
    // Keep the filter in the address (shareable, survives reload) without a history entry per keystroke.
    history.replaceState(null, '', href.overview(f));
  };
  const all = [...store.devices.values()];
  const tree = store.clusters;
  // Clusters of the tree, plus any a device names that the tree has not caught up with yet.
  const clusters = [...new Set([...(tree ? clusterPaths(tree) : []), ...all.map((d) => d.cluster).sort()])];
  const byArch = countBy(all, (d) => d.arch);
  const selector = selectorOf(filter);
  const shown = all.filter((d) => matches(d, filter, selector)).sort(byUrgency);
  return html`<section aria-labelledby="page-title">
    <h1 id="page-title" tabindex="-1">Fleet overview</h1>
    <${CountCards} counts=${count(all)} />
    <div class="panels">
      <section class="panel" aria-labelledby="tree-title">
        <h2 id="tree-title">Clusters</h2>
        ${tree ? html`<${ClusterTree} nodes=${[tree]} label="Cluster tree" />` : null}
      </section>
      <section class="panel">
        <${GroupTable} caption="By cluster" rows=${countBy(all, (d) => d.cluster)} link=${(c: string) => href.cluster(c)} />
      </section>
      <section class="panel">
        <${GroupTable} caption="By architecture" rows=${byArch} link=${(a: string) => href.overview({ arch: a })} />
      </section>
    </div>
    <h2>Devices</h2>
    <${Filters} filter=${filter} set=${setFilter} clusters=${clusters} arches=${byArch.map(([a]) => a)} />
    ${selector.error ? html`<p class="error" id="select-error" role="alert">${selector.error}</p>` : null}
    <p class="muted" role="status" aria-live="polite" id="shown-count">${shown.length} of ${all.length} devices match</p>
    <${DeviceTable} key=${JSON.stringify(filter)} devices=${shown} caption="Devices" />
  </section>`;
}
