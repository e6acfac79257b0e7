import type { ClusterNode, DeviceSummary, Rollup } from '../../shared/api.js';
import type { AliveMessage, BridgeStateMessage, SummaryMessage } from '../../shared/federation.js';
import type { EventMessage } from '../../shared/messages.js';
import { qualifyId, type ClusterPath } from '../../shared/fleet-topics.js';
import { EVENTS_PER_DEVICE } from '../fleet/fleet-state.js';
import { EMPTY_ROLLUP, combine } from './rollup.js';

interface NodeState {
  path: ClusterPath;
  summary?: SummaryMessage;
  summaryAt?: number;
  bridge?: BridgeStateMessage['state'];
  bridgeSince?: number;
  /** From the cluster's last `alive`: every device it lists as online was heard at or after this (its clock). */
  heardAt?: number;
  /** Qualified ids of the cluster's own devices. */
  devices: Set<string>;
}

export interface RemoteDevice {
  path: ClusterPath;
  /** What the API shows: `sent`, with last-seen (and uptime) brought forward by the cluster's `alive`. */
  detail: DeviceSummary;
  /** The summary as its cluster last sent it up. */
  sent: DeviceSummary;
  events: EventMessage[];
}

/**
 * A remote device's summary as of the time `heardAt` its cluster last vouched for all its online devices. An online
 * device was heard at or after `heardAt`; it stayed online since `sent` (going offline is a significant change and
 * would have been sent), so its uptime grew by as much.
 */
export function freshen(sent: DeviceSummary, heardAt: number | undefined): DeviceSummary {
  if (!sent.online || heardAt === undefined || sent.lastSeen === null || heardAt <= sent.lastSeen) return sent;
  const uptimeS = sent.uptimeS === null ? null : sent.uptimeS + (heardAt - sent.lastSeen) / 1000;
  return { ...sent, lastSeen: heardAt, uptimeS };
}

/**
 * What a coordinator knows about the clusters below it, built only from the uplink messages it received
 * (summaries, bridge states, device details and events), keyed by cluster path relative to itself. Pure: the
 * clock is injected, no I/O.
 */
export class SubtreeView {
  private readonly nodes = new Map<string, NodeState>();
  readonly devices = new Map<string, RemoteDevice>();
  /** Grows whenever what `tree()` shows of the clusters below changes (a summary, a bridge state, a new node). */
  revision = 0;

  constructor(private readonly clock: () => number = Date.now) {}

  private node(path: ClusterPath): NodeState {
    const key = path.join('/');
    let n = this.nodes.get(key);
    if (!n) {
      this.nodes.set(key, (n = { path, devices: new Set() }));
      this.revision++;
    }
    return n;
  }

  /** Whether a cluster at `path` below has been heard of (`[]` is the answering coordinator itself). */
  has(path: ClusterPath): boolean {
    return path.length === 0 || this.nodes.has(path.join('/'));
  }

  summary(path: ClusterPath, msg: SummaryMessage): void {
    const n = this.node(path);
    n.summary = msg;
    n.summaryAt = this.clock();
    this.revision++;
  }

  /** A cluster vouched for its online devices: bring their last-seen forward (the API and the live stream see new objects). */
  alive(path: ClusterPath, msg: AliveMessage): void {
    const n = this.node(path);
    n.heardAt = msg.heardAt ?? undefined;
    for (const qid of n.devices) {
      const d = this.devices.get(qid)!;
      const fresh = freshen(d.sent, n.heardAt);
      // A new object only when something moved: the live stream pushes replaced objects.
      if (fresh.lastSeen !== d.detail.lastSeen) d.detail = fresh;
    }
  }

  bridge(path: ClusterPath, msg: BridgeStateMessage): void {
    const n = this.node(path);
    if (n.bridge === msg.state) return;
    n.bridge = msg.state;
    // Our clock, not the message's: a `down` is the child's last will, stamped when its link was set up.
    n.bridgeSince = this.clock();
    this.revision++;
  }

  detail(path: ClusterPath, sent: DeviceSummary): RemoteDevice {
    const key = qualifyId(path, sent.id);
    const n = this.node(path);
    const detail = freshen(sent, n.heardAt);
    const existing = this.devices.get(key);
    if (existing) Object.assign(existing, { sent, detail });
    else this.devices.set(key, { path, sent, detail, events: [] });
    n.devices.add(key);
    return this.devices.get(key)!;
  }

  /** A device removed from its cluster's registry. */
  remove(path: ClusterPath, id: string): void {
    const key = qualifyId(path, id);
    this.devices.delete(key);
    this.node(path).devices.delete(key);
  }

  event(path: ClusterPath, id: string, event: EventMessage): void {
    const d = this.devices.get(qualifyId(path, id));
    if (!d) return;
    d.events.push(event);
    if (d.events.length > EVENTS_PER_DEVICE) d.events.splice(0, d.events.length - EVENTS_PER_DEVICE);
  }

  /** Direct children and whether their bridge is up (what a subtree request fans out to). */
  children(): { name: string; up: boolean }[] {
    return [...this.nodes.values()].filter((n) => n.path.length === 1).map((n) => ({ name: n.path[0], up: n.bridge === 'up' }));
  }

  /** The sum of the direct children's subtree roll-ups: what this coordinator adds to its own in its summary. */
  childrenRollup(): Rollup {
    return [...this.nodes.values()].filter((n) => n.path.length === 1 && n.summary).reduce((acc, n) => combine(acc, n.summary!.subtree), EMPTY_ROLLUP);
  }

  /** Remote devices as the API lists them: id qualified by path, `cluster` the full path from `self`. */
  deviceList(self: string): DeviceSummary[] {
    return [...this.devices.entries()].map(([qid, d]) => ({ ...d.detail, id: qid, cluster: [self, ...d.path].join('/') }));
  }

  /** The tree rooted at this coordinator (`self`, with its own roll-up), every known path placed under its parent. */
  tree(self: string, own: Rollup): ClusterNode {
    const root: ClusterNode = { name: self, path: self, bridge: null, bridgeSince: null, own, subtree: combine(own, this.childrenRollup()), updatedAt: this.clock(), children: [] };
    const byKey = new Map<string, ClusterNode>([['', root]]);
    const place = (path: ClusterPath): ClusterNode => {
      const key = path.join('/');
      const found = byKey.get(key);
      if (found) return found;
      const parent = place(path.slice(0, -1));
      const n = this.nodes.get(key);
      const node: ClusterNode = {
        name: path[path.length - 1],
        path: [self, ...path].join('/'),
        bridge: n?.bridge ?? null,
        bridgeSince: n?.bridgeSince ?? null,
        own: n?.summary?.own ?? EMPTY_ROLLUP,
        subtree: n?.summary?.subtree ?? EMPTY_ROLLUP,
        updatedAt: n?.summaryAt ?? null,
        children: [],
      };
      parent.children.push(node);
      byKey.set(key, node);
      return node;
    };
    for (const key of [...this.nodes.keys()].sort()) place(this.nodes.get(key)!.path);
    return root;
  }
}
