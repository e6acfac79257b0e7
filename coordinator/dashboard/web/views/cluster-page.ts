import { html } from 'htm/preact';
import { clusterTree, count, matches, NO_FILTER, type ClusterNode } from '../fleet-view.js';
import { href } from '../route.js';
import type { FleetStore } from '../store.js';
import { CountCards } from './common.js';
import { DeviceTable } from './device-table.js';
import { duration, num } from './format.js';
import { byUrgency, ClusterTree } from './overview.js';

function find(nodes: ClusterNode[], path: string): ClusterNode | undefined {
  for (const n of nodes) {
    if (n.path === path) return n;
    if (path.startsWith(`${n.path}/`)) return find(n.children, path);
  }
  return undefined;
}

/** One cluster: its subtree's devices, its sub-clusters, its coordinator and message rates. */
export function ClusterPage({ store, path }: { store: FleetStore; path: string }) {
  const all = [...store.devices.values()];
  const node = find(clusterTree(all), path);
  const devices = all.filter((d) => matches(d, { ...NO_FILTER, cluster: path })).sort(byUrgency);
  const own = store.cluster?.cluster === path;
  const rates = store.rates;
  const parts = path.split('/');
  return html`<section aria-labelledby="page-title">
    <nav aria-label="Breadcrumb" class="crumbs">
      <a href="#/">Overview</a>${parts.map((p, i) => {
        const sub = parts.slice(0, i + 1).join('/');
        return html` › ${i === parts.length - 1 ? html`<span aria-current="page">${p}</span>` : html`<a href=${href.cluster(sub)}>${p}</a>`}`;
      })}
    </nav>
    <h1 id="page-title" tabindex="-1">Cluster ${path}</h1>
    ${node ? html`<${CountCards} counts=${count(devices)} cluster=${path} />` : html`<p class="muted">No devices in this cluster yet.</p>`}
    <div class="panels">
      <section class="panel" aria-labelledby="coord-title">
        <h2 id="coord-title">Coordinator</h2>
        ${own && store.cluster
          ? html`<dl class="facts compact">
              <div><dt>Version</dt><dd>${store.cluster.coordinatorVersion}</dd></div>
              <div><dt>Uptime</dt><dd>${duration(store.cluster.uptimeS)}</dd></div>
              <div><dt>Bridge</dt><dd data-bridge>none (this dashboard's own coordinator)</dd></div>
              <div><dt>Invalid messages</dt><dd>${store.cluster.invalidMessages}</dd></div>
              <div><dt>Denied requests</dt><dd>${store.cluster.deniedRequests}</dd></div>
            </dl>`
          : html`<p class="muted" data-bridge>Reached through a bridge; its state is not reported by this coordinator.</p>`}
      </section>
      <section class="panel" aria-labelledby="rates-title">
        <h2 id="rates-title">Message rates</h2>
        ${rates
          ? html`<dl class="facts compact" data-rates>
              <div><dt>Device messages</dt><dd>${num(rates.deviceMessagesPerS, 1)} /s</dd></div>
              <div><dt>Step messages in</dt><dd>${num(rates.stepsInPerS, 1)} /s</dd></div>
              <div><dt>Step messages out</dt><dd>${num(rates.stepsOutPerS, 1)} /s</dd></div>
            </dl>
            <p class="muted">Measured by this coordinator over the last heartbeat.</p>`
          : html`<p class="muted">Waiting for the first heartbeat…</p>`}
      </section>
      ${node?.children.length
        ? html`<section class="panel" aria-labelledby="sub-title"><h2 id="sub-title">Sub-clusters</h2><${ClusterTree} nodes=${node.children} label="Sub-clusters" /></section>`
        : null}
    </div>
    <${DeviceTable} devices=${devices} caption=${`Devices in ${path}`} />
  </section>`;
}
