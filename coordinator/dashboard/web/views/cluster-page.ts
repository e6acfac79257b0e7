import { html } from 'htm/preact';
import type { ClusterNode } from '../../../../shared/api.js';
import { count, findCluster, matches, NO_FILTER } from '../fleet-view.js';
import { href } from '../route.js';
import type { FleetStore } from '../store.js';
import { BridgeBadge, ClusterTree, rollupText } from './cluster-tree.js';
import { CountCards, StateBadge } from './common.js';
import { DeviceTable } from './device-table.js';
import { clock, duration, num } from './format.js';
import { byUrgency } from './overview.js';

/** What the tree says about a cluster below this coordinator: its bridge and its last summary. */
function RemoteCoordinator({ node }: { node: ClusterNode }) {
  return html`<dl class="facts compact">
    <div><dt>Bridge to its parent</dt><dd><${BridgeBadge} node=${node} top=${false} /></dd></div>
    <div><dt>Last summary</dt><dd>${clock(node.updatedAt)}</dd></div>
    <div><dt>Worst state</dt><dd><${StateBadge} state=${node.subtree.worst} /></dd></div>
    <div><dt>Own devices</dt><dd>${rollupText(node.own)}</dd></div>
    <div><dt>With sub-clusters</dt><dd>${rollupText(node.subtree)}</dd></div>
    <div><dt>Invalid messages</dt><dd>${node.subtree.invalidMessages}</dd></div>
  </dl>`;
}

/** One cluster: its subtree's devices, its sub-clusters, its coordinator and message rates. */
export function ClusterPage({ store, path }: { store: FleetStore; path: string }) {
  const all = [...store.devices.values()];
  const node = store.clusters && findCluster(store.clusters, path);
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
    ${devices.length ? html`<${CountCards} counts=${count(devices)} cluster=${path} />` : html`<p class="muted">No devices in this cluster yet.</p>`}
    <div class="panels">
      <section class="panel" aria-labelledby="coord-title">
        <h2 id="coord-title">Coordinator</h2>
        ${own && store.cluster
          ? html`<dl class="facts compact">
              <div><dt>Version</dt><dd>${store.cluster.coordinatorVersion}</dd></div>
              <div><dt>Uptime</dt><dd>${duration(store.cluster.uptimeS)}</dd></div>
              <div><dt>Bridge</dt><dd>none (the coordinator serving this page)</dd></div>
              ${node ? html`<div><dt>With sub-clusters</dt><dd>${rollupText(node.subtree)}</dd></div>` : null}
              <div><dt>Invalid messages</dt><dd>${store.cluster.invalidMessages}</dd></div>
              <div><dt>Denied requests</dt><dd>${store.cluster.deniedRequests}</dd></div>
            </dl>`
          : node
            ? html`<${RemoteCoordinator} node=${node} />`
            : html`<p class="muted">Not in the cluster tree of ${store.cluster?.cluster ?? 'this coordinator'}.</p>`}
      </section>
      <section class="panel" aria-labelledby="rates-title">
        <h2 id="rates-title">Message rates</h2>
        ${rates
          ? html`<dl class="facts compact" data-rates>
              <div><dt>Device messages</dt><dd>${num(rates.deviceMessagesPerS, 1)} /s</dd></div>
              <div><dt>Step messages in</dt><dd>${num(rates.stepsInPerS, 1)} /s</dd></div>
              <div><dt>Step messages out</dt><dd>${num(rates.stepsOutPerS, 1)} /s</dd></div>
            </dl>
            <p class="muted">
              Measured by ${store.cluster?.cluster ?? 'this coordinator'} over the last heartbeat${own ? '' : ', for its whole subtree (step messages: its own devices)'}.
            </p>`
          : html`<p class="muted">Waiting for the first heartbeat…</p>`}
      </section>
      ${node?.children.length
        ? html`<section class="panel" aria-labelledby="sub-title"><h2 id="sub-title">Sub-clusters</h2><${ClusterTree} nodes=${node.children} depth=${1} label="Sub-clusters" /></section>`
        : null}
    </div>
    <${DeviceTable} devices=${devices} caption=${`Devices in ${path}`} />
  </section>`;
}
