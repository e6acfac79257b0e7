import type { ClusterNode, DeviceSummary, Rollup } from '../../shared/api.js';
import type { AliveMessage, BridgeStateMessage, SummaryMessage } from '../../shared/federation.js';
import type { EventMessage } from '../../shared/messages.js';
import { qualifyId, type ClusterPath } from '../../shared/fleet-topics.js';
import { EMPTY_ROLLUP, combine } from '../../shared/rollup.js';
import { EVENTS_PER_DEVICE } from './fleet-state.js';

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
  /**
   * What the API shows: `sent` with its id qualified by its path, `cluster` the full path from this coordinator, and
   * last-seen (and uptime) brought forward by the cluster's `alive`. The one place a remote device becomes a summary.
   */
  summary: DeviceSummary;
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

/** What changed in the view: a remote device's summary (or its removal: it is no longer listed), an event, the tree. */
export type SubtreeChange =
  | { kind: 'remote'; id: string }
  | { kind: 'remote_event'; id: string; event: EventMessage }
  /** What `tree()` shows of the clusters below changed (a summary, a bridge state, a new node). */
  | { kind: 'clusters' };

/**
 * What a coordinator (cluster `self`) knows about the clusters below it, built only from the uplink messages it
 * received (summaries, bridge states, device details and events), keyed by cluster path relative to itself. Pure:
 * the clock is injected, changes go to the injected sink, no I/O.
 */
export class SubtreeView {
  private readonly nodes = new Map<string, NodeState>();
  readonly devices = new Map<string, RemoteDevice>();

  constructor(
    private readonly self: string,
    private readonly clock: () => number = Date.now,
    private readonly onChange: (change: SubtreeChange) => void = () => {},
  ) {}

  private node(path: ClusterPath): NodeState {
    const key = path.join('/');
    let n = this.nodes.get(key);
    if (!n) {
      this.nodes.set(key, (n = { path, devices: new Set() }));
      this.onChange({ kind: 'clusters' });
    }
    return n;
  }

  private present(path: ClusterPath, sent: DeviceSummary, heardAt: number | undefined): DeviceSummary {
    return { ...freshen(sent, heardAt), id: qualifyId(path, sent.id), cluster: [this.self, ...path].join('/') };
  }

  /** Whether a cluster at `path` below has been heard of (`[]` is the answering coordinator itself). */
  has(path: ClusterPath): boolean {
    return path.length === 0 || this.nodes.has(path.join('/'));
  }

  summary(path: ClusterPath, msg: SummaryMessage): void {
    const n = this.node(path);
    n.summary = msg;
    n.summaryAt = this.clock();
    this.onChange({ kind: 'clusters' });
  }

  /** A cluster vouched for its online devices: bring their last-seen forward. */
  alive(path: ClusterPath, msg: AliveMessage): void {
    const n = this.node(path);
    n.heardAt = msg.heardAt ?? undefined;
    for (const qid of n.devices) {
      const d = this.devices.get(qid)!;
      const fresh = this.present(path, d.sent, n.heardAt);
      if (fresh.lastSeen === d.summary.lastSeen) continue;
      d.summary = fresh;
      this.onChange({ kind: 'remote', id: qid });
    }
  }

  bridge(path: ClusterPath, msg: BridgeStateMessage): void {
    const n = this.node(path);
    if (n.bridge === msg.state) return;
    n.bridge = msg.state;
    // Our clock, not the message's: a `down` is the child's last will, stamped when its link was set up.
    n.bridgeSince = this.clock();
    this.onChange({ kind: 'clusters' });
  }

  detail(path: ClusterPath, sent: DeviceSummary): void {
    const key = qualifyId(path, sent.id);
    const n = this.node(path);
    const summary = this.present(path, sent, n.heardAt);
    const existing = this.devices.get(key);
    if (existing) Object.assign(existing, { sent, summary });
    else this.devices.set(key, { path, sent, summary, events: [] });
    n.devices.add(key);
    this.onChange({ kind: 'remote', id: key });
  }

  /** A device removed from its cluster's registry. */
  remove(path: ClusterPath, id: string): void {
    const key = qualifyId(path, id);
    this.node(path).devices.delete(key);
    if (this.devices.delete(key)) this.onChange({ kind: 'remote', id: key });
  }

  event(path: ClusterPath, id: string, event: EventMessage): void {
    const key = qualifyId(path, id);
    const d = this.devices.get(key);
    if (!d) return;
    d.events.push(event);
    if (d.events.length > EVENTS_PER_DEVICE) d.events.splice(0, d.events.length - EVENTS_PER_DEVICE);
    this.onChange({ kind: 'remote_event', id: key, event });
  }

  /** Direct children and whether their bridge is up (what a subtree request fans out to). */
  children(): { name: string; up: boolean }[] {
    return [...this.nodes.values()].filter((n) => n.path.length === 1).map((n) => ({ name: n.path[0], up: n.bridge === 'up' }));
  }

  /** The sum of the direct children's subtree roll-ups: what this coordinator adds to its own in its summary. */
  childrenRollup(): Rollup {
    return [...this.nodes.values()].filter((n) => n.path.length === 1 && n.summary).reduce((acc, n) => combine(acc, n.summary!.subtree), EMPTY_ROLLUP);
  }

  /** Remote devices as the API lists them. */
  summaries(): DeviceSummary[] {
    return [...this.devices.values()].map((d) => d.summary);
  }

  /** The tree rooted at this coordinator (with its own roll-up `own`), every known path placed under its parent. */
  tree(own: Rollup): ClusterNode {
    const { self } = this;
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
