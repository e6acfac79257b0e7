import { html } from 'htm/preact';
import type { ClusterNode, Rollup } from '../../../../shared/api.js';
import { href } from '../route.js';
import { StateBadge } from './common.js';
import { clock } from './format.js';

/** "3/4 online · 1 offline · 2 restarts": what a node's roll-up says, zeros left out except the first. */
export function rollupText(r: Rollup): string {
  const d = r.devices;
  const parts = [`${d.online}/${d.total} online`];
  if (d.offline) parts.push(`${d.offline} offline`);
  if (d.degraded) parts.push(`${d.degraded} degraded`);
  if (r.restartsTotal) parts.push(`${r.restartsTotal} restart${r.restartsTotal === 1 ? '' : 's'}`);
  return parts.join(' · ');
}

/** A child cluster's link to its parent, with when this coordinator learnt of it; the top node has none. */
export function BridgeBadge({ node, top }: { node: ClusterNode; top: boolean }) {
  if (top) return null;
  const state = node.bridge ?? 'unknown';
  const since = node.bridgeSince ? ` since ${clock(node.bridgeSince)}` : '';
  return html`<span class=${`badge bridge-${state}`} data-bridge=${state} title=${node.bridgeSince ? new Date(node.bridgeSince).toISOString() : undefined}>
    bridge ${state}${since}
  </span>`;
}

/**
 * The cluster tree of `GET /api/v1/clusters` (root → region → site): each node's subtree roll-up (worst state,
 * counts, restarts) and bridge state. A node whose bridge is down shows figures of its last summary, and says when.
 */
export function ClusterTree({ nodes, label, depth = 0 }: { nodes: ClusterNode[]; label?: string; depth?: number }) {
  return html`<ul class="tree" aria-label=${label}>
    ${nodes.map(
      (n) => html`<li key=${n.path} data-node=${n.path}>
        <div class="node">
          <a href=${href.cluster(n.path)} data-cluster=${n.path}>${n.name}</a>
          <${StateBadge} state=${n.subtree.worst} />
          <${BridgeBadge} node=${n} top=${depth === 0} />
          <span class="muted node-counts" data-rollup>${rollupText(n.subtree)}${n.bridge === 'down' && n.updatedAt ? ` (as of ${clock(n.updatedAt)})` : ''}</span>
        </div>
        ${n.children.length ? html`<${ClusterTree} nodes=${n.children} depth=${depth + 1} />` : null}
      </li>`,
    )}
  </ul>`;
}
