import { isCleanExit, type SupervisorEvent } from '../../shared/supervisor-events.js';
import {
  isSupervisorChild,
  type ChildSpec,
  type StartChildCommand,
  type SupervisorSpec,
  type TerminateChildCommand,
  type WorkerChild,
} from '../../shared/supervisor-spec.js';
import { addRestart, exceedsIntensity } from './intensity.js';
import { diffChildren, isDynamic, needsReplace, type ChildChange } from './plan.js';

/**
 * The supervision tree as a pure state machine with Erlang/OTP `supervisor` semantics (docs/supervision.md).
 * Inputs are method calls (a worker started, failed to start, exited; a shutdown timer fired; a command); each
 * returns the decisions the caller must carry out, in order. No timers, workers or sockets in here: time comes
 * from the injected clock, and the runner (runner.ts) turns decisions into step instances and timers.
 *
 * Like an OTP supervisor, each supervisor does one thing at a time: it starts children one by one in order and
 * stops them one by one in reverse order. Exits it cannot handle while busy wait in its mailbox (`deferred`), as
 * OTP's `'EXIT'` messages do, and are handled when it is idle again.
 */

export interface Clock {
  /** Monotonic milliseconds. */
  nowMs(): number;
}

export type Decision =
  /** Start an instance of this worker; answer with `started` or `startFailed`. */
  | { type: 'start'; path: string; child: WorkerChild }
  /** Ask this worker to stop (reason `shutdown`); answer with `exited`. The core sends `kill` if it must. */
  | { type: 'stop'; path: string; shutdown: number | 'infinity' }
  /** Kill this worker (or cancel its pending start). Final: the instance must never report again. */
  | { type: 'kill'; path: string }
  /** Call `timerFired(path)` after `ms` unless cleared first. One timer per path. */
  | { type: 'set_timer'; path: string; ms: number }
  | { type: 'clear_timer'; path: string }
  /** Replace the step of a running worker in place (desired-state hot swap). */
  | { type: 'swap'; path: string; child: WorkerChild }
  | { type: 'event'; event: SupervisorEvent };

export type Status = 'stopped' | 'starting' | 'running' | 'stopping';

/** Per-child state for health: `restarting` while a restart of it is under way. */
export type ChildPhase = 'starting' | 'running' | 'restarting' | 'stopped';

export interface ChildSnapshot {
  path: string;
  kind: 'worker' | 'supervisor';
  state: ChildPhase;
  restarts: number;
  step?: string;
}

export class CommandError extends Error {
  override name = 'CommandError';
}

interface NodeBase {
  id: string;
  path: string;
  parent: SupervisorNode | null;
  status: Status;
  /** In the current operation's start list: `restarting` if it ran before, else just waiting for its first start. */
  queued: boolean;
  restarting: boolean;
  /** Incarnation: bumped at every start, so a late exit of an old incarnation is recognised and ignored. */
  starts: number;
  timerArmed: boolean;
}

interface WorkerNode extends NodeBase {
  kind: 'worker';
  spec: WorkerChild;
}

interface SupervisorNode extends NodeBase {
  kind: 'supervisor';
  spec: ChildSpec & { supervisor: SupervisorSpec };
  children: Node[];
  /** Restart timestamps (whole seconds), newest first. */
  restarts: number[];
  op: Operation | null;
  deferred: (() => void)[];
}

type Node = WorkerNode | SupervisorNode;

/** A sequential job of one supervisor: stop these children (in this order), then start those (in this order). */
interface Operation {
  stops: Node[];
  starts: Node[];
  current: Node | null;
  onDone(): void;
  onStartFailed(child: Node, reason: string): void;
}

export class SupervisorCore {
  private readonly clock: Clock;
  private root: SupervisorNode;
  /** A replacement root spec, started when the current root has exited. */
  private pendingRoot: SupervisorSpec | null = null;
  private readonly index = new Map<string, Node>();
  private readonly startCounts = new Map<string, number>();
  // Stryker disable next-line ArrayDeclaration: equivalent, run() replaces it before anything is emitted.
  private out: Decision[] = [];

  constructor(spec: SupervisorSpec, options: { clock: Clock }) {
    this.clock = options.clock;
    this.root = this.createRoot(spec);
  }

  /** The root supervisor's state: `running` once every child has started, `stopped` after it exited. */
  get status(): Status {
    return this.root.status;
  }

  get rootPath(): string {
    return this.root.path;
  }

  /** Starts the tree: every child in spec order, depth first. */
  start(): Decision[] {
    return this.run(() => {
      if (this.root.status !== 'stopped') throw new CommandError('the tree is already started');
      this.startSupervisor(this.root);
    });
  }

  /** Stops the tree: every child in reverse start order; the root exits with `shutdown`. */
  stop(): Decision[] {
    return this.run(() => {
      if (this.root.status !== 'stopped') this.requestShutdown(this.root);
    });
  }

  started(path: string): Decision[] {
    return this.run(() => {
      const node = this.index.get(path);
      if (node?.kind !== 'worker' || node.status !== 'starting') return;
      this.childStarted(node.parent!, node);
    });
  }

  /** `message` says why; the reason becomes `start_failed:<message>` unless it already is one. */
  startFailed(path: string, message: string): Decision[] {
    return this.run(() => {
      const node = this.index.get(path);
      if (node?.kind !== 'worker' || node.status !== 'starting') return;
      this.childStartFailed(node.parent!, node, message.startsWith('start_failed:') ? message : `start_failed:${message}`);
    });
  }

  exited(path: string, reason: string): Decision[] {
    return this.run(() => {
      const node = this.index.get(path);
      if (node?.kind !== 'worker' || node.status === 'stopped') return;
      if (node.status === 'starting') this.childStartFailed(node.parent!, node, `start_failed:${reason}`);
      else this.childExited(node.parent!, node, reason);
    });
  }

  /** A `set_timer` ran out: the child did not stop within its shutdown time. */
  timerFired(path: string): Decision[] {
    return this.run(() => {
      const node = this.index.get(path);
      if (!node || !node.timerArmed) return;
      node.timerArmed = false;
      // OTP: a child that has not stopped `shutdown` ms after being asked is killed (exit(Child, kill)).
      this.kill(node);
    });
  }

  /** simple_one_for_one: add a child from the template at run time (docs/supervision.md, `start_child`). */
  startChild(command: Omit<StartChildCommand, 'type'>): Decision[] {
    return this.run(() => {
      const sup = this.dynamicSupervisor(command.supervisor);
      if (sup.children.some((c) => c.id === command.child)) {
        throw new CommandError(`${sup.path} already has a child "${command.child}"`);
      }
      const template = sup.spec.supervisor.children[0];
      let spec: ChildSpec = { ...template, id: command.child };
      if (!isSupervisorChild(template)) {
        spec = { ...template, id: command.child, ...pick(command, ['config', 'input', 'output']) };
      } else if (command.config || command.input || command.output) {
        throw new CommandError(`${sup.path}: config, input and output apply to worker templates only`);
      }
      const node = this.createNode(spec, sup);
      sup.children.push(node);
      this.whenIdle(sup, () => {
        this.begin(sup, {
          stops: [],
          starts: [node],
          onDone: () => {},
          // OTP: a dynamic child whose start fails is not kept (start_child returns {error, Reason}).
          onStartFailed: (child) => this.remove(sup, child),
        });
      });
    });
  }

  /** simple_one_for_one: stop a run-time child and forget it (docs/supervision.md, `terminate_child`). */
  terminateChild(command: Omit<TerminateChildCommand, 'type'>): Decision[] {
    return this.run(() => {
      const sup = this.dynamicSupervisor(command.supervisor);
      const child = sup.children.find((c) => c.id === command.child);
      if (!child) throw new CommandError(`${sup.path} has no child "${command.child}"`);
      this.whenIdle(sup, () => {
        if (!sup.children.includes(child)) return;
        // OTP: terminate_child on a simple_one_for_one supervisor stops the child and deletes it.
        this.begin(sup, { stops: [child], starts: [], onDone: () => this.remove(sup, child), onStartFailed: () => {} });
      });
    });
  }

  /**
   * Replaces the spec at run time, changing only what differs (plan.ts): unchanged children keep running, swaps and
   * in-place updates happen at once, removed and changed children stop in reverse order, changed and added ones
   * start in order. A child that fails to start here is handled like one that failed to restart.
   */
  apply(desired: SupervisorSpec): Decision[] {
    return this.run(() => {
      if (needsReplace(this.root.spec.supervisor, desired)) {
        if (this.root.status === 'stopped') this.root = this.createRoot(desired);
        else {
          this.pendingRoot = desired;
          this.requestShutdown(this.root);
        }
        return;
      }
      this.reconcile(this.root, { ...this.root.spec, supervisor: desired });
    });
  }

  /** The health state of the child at `path`; undefined when there is no such child (any more). */
  phase(path: string): ChildPhase | undefined {
    const node = this.index.get(path);
    return node && node !== this.root ? phase(node) : undefined;
  }

  /** Every worker in the tree with the spec it runs (or will run next), depth first in start order. */
  workers(): { path: string; child: WorkerChild }[] {
    const out: { path: string; child: WorkerChild }[] = [];
    const walk = (sup: SupervisorNode) => {
      for (const c of sup.children) c.kind === 'worker' ? out.push({ path: c.path, child: c.spec }) : walk(c);
    };
    walk(this.root);
    return out;
  }

  /** Every child of the tree, depth first in start order, for health. */
  snapshot(): ChildSnapshot[] {
    const out: ChildSnapshot[] = [];
    const walk = (sup: SupervisorNode) => {
      for (const child of sup.children) {
        out.push({
          path: child.path,
          kind: child.kind,
          state: phase(child),
          restarts: Math.max(0, (this.startCounts.get(child.path) ?? 0) - 1),
          ...(child.kind === 'worker' ? { step: child.spec.step } : {}),
        });
        if (child.kind === 'supervisor') walk(child);
      }
    };
    walk(this.root);
    return out;
  }

  // ---- plumbing ------------------------------------------------------------------------------------------------

  private run(fn: () => void): Decision[] {
    const outer = this.out;
    this.out = [];
    try {
      fn();
      return this.out;
      // Stryker disable next-line BlockStatement: equivalent, run() is never re-entered, so restoring `outer` is unobservable.
    } finally {
      this.out = outer;
    }
  }

  private emit(decision: Decision): void {
    this.out.push(decision);
  }

  private event(event: SupervisorEvent): void {
    this.emit({ type: 'event', event });
  }

  private createRoot(spec: SupervisorSpec): SupervisorNode {
    this.index.clear();
    const root = { id: spec.id, restart: 'permanent', significant: false, shutdown: 'infinity', supervisor: spec } as const;
    return this.createNode(root, null) as SupervisorNode;
  }

  private createNode(spec: ChildSpec, parent: SupervisorNode | null): Node {
    const path = parent ? `${parent.path}/${spec.id}` : spec.id;
    const base = { id: spec.id, path, parent, status: 'stopped' as Status, queued: false, restarting: false, starts: 0, timerArmed: false };
    const node: Node = isSupervisorChild(spec)
      ? { ...base, kind: 'supervisor', spec, children: [], restarts: [], op: null, deferred: [] }
      : { ...base, kind: 'worker', spec };
    this.index.set(path, node);
    return node;
  }

  private forget(node: Node): void {
    if (this.index.get(node.path) === node) this.index.delete(node.path);
    if (node.kind === 'supervisor') node.children.forEach((c) => this.forget(c));
  }

  private remove(sup: SupervisorNode, child: Node): void {
    const i = sup.children.indexOf(child);
    if (i >= 0) sup.children.splice(i, 1);
    this.forget(child);
  }

  private dynamicSupervisor(path: string): SupervisorNode {
    const sup = this.index.get(path);
    if (sup?.kind !== 'supervisor') throw new CommandError(`no supervisor at ${path}`);
    if (sup.spec.supervisor.strategy !== 'simple_one_for_one') {
      throw new CommandError(`${path} is ${sup.spec.supervisor.strategy}; start_child/terminate_child need simple_one_for_one`);
    }
    if (sup.status === 'stopped' || sup.status === 'stopping') throw new CommandError(`${path} is not running`);
    return sup;
  }

  /** Run `fn` now if the supervisor is idle, else when its current operation is done (OTP: one message at a time). */
  private whenIdle(sup: SupervisorNode, fn: () => void): void {
    if (sup.op) sup.deferred.push(fn);
    else fn();
  }

  private drain(sup: SupervisorNode): void {
    while (!sup.op && sup.deferred.length && sup.status === 'running') sup.deferred.shift()!();
  }

  private begin(sup: SupervisorNode, op: Omit<Operation, 'current'>): void {
    for (const child of sup.children) child.queued = child.restarting = false;
    for (const child of op.starts) {
      child.queued = true;
      child.restarting = child.starts > 0;
    }
    sup.op = { ...op, current: null };
    this.advance(sup);
  }

  private advance(sup: SupervisorNode): void {
    const op = sup.op;
    if (!op || op.current) return;
    for (let child = op.stops.shift(); child; child = op.stops.shift()) {
      if (child.status === 'stopped') continue;
      op.current = child;
      this.stopChild(child);
      return;
    }
    const next = op.starts.shift();
    if (next) {
      op.current = next;
      this.startNode(next);
      return;
    }
    sup.op = null;
    op.onDone();
    this.drain(sup);
  }

  // ---- starting ------------------------------------------------------------------------------------------------

  private startNode(node: Node): void {
    node.queued = false;
    node.starts++;
    this.startCounts.set(node.path, (this.startCounts.get(node.path) ?? 0) + 1);
    if (node.kind === 'supervisor') {
      this.startSupervisor(node);
      return;
    }
    node.status = 'starting';
    this.emit({ type: 'start', path: node.path, child: node.spec });
  }

  /** A supervisor (re)starts as a fresh process would: children from its spec, an empty restart history. */
  private startSupervisor(sup: SupervisorNode): void {
    sup.children.forEach((c) => this.forget(c));
    const spec = sup.spec.supervisor;
    // OTP: a simple_one_for_one supervisor starts with no children; its one child spec is only a template.
    sup.children = spec.strategy === 'simple_one_for_one' ? [] : spec.children.map((c) => this.createNode(c, sup));
    sup.restarts = [];
    sup.deferred = [];
    sup.status = 'starting';
    this.begin(sup, {
      stops: [],
      // OTP: children are started one by one in the order of the child specs.
      starts: [...sup.children],
      onDone: () => {
        if (sup.parent) this.childStarted(sup.parent, sup);
        else sup.status = 'running';
      },
      onStartFailed: (child, reason) => {
        // OTP: if a child fails to start, the supervisor terminates the children already started (in reverse
        // order) and its own start fails with {shutdown, {failed_to_start_child, Id, Reason}}.
        const failure = `start_failed:${child.id}: ${reason}`;
        sup.status = 'stopping';
        this.begin(sup, {
          stops: liveChildren(sup).reverse(),
          starts: [],
          onDone: () => this.supervisorExited(sup, failure, true),
          onStartFailed: () => {},
        });
      },
    });
  }

  private childStarted(sup: SupervisorNode, child: Node): void {
    child.status = 'running';
    child.restarting = false;
    this.event({ type: 'child_started', supervisor: sup.path, child: child.id });
    if (sup.op?.current === child) {
      sup.op.current = null;
      this.advance(sup);
    }
  }

  private childStartFailed(sup: SupervisorNode, child: Node, reason: string): void {
    child.status = 'stopped';
    child.restarting = false;
    this.event({ type: 'child_terminated', supervisor: sup.path, child: child.id, reason });
    const op = sup.op;
    if (op?.current !== child) return;
    sup.op = null;
    op.onStartFailed(child, reason);
    this.drain(sup);
  }

  // ---- stopping ------------------------------------------------------------------------------------------------

  private stopChild(child: Node): void {
    const shutdown = child.spec.shutdown;
    if (shutdown === 'brutal_kill') {
      // OTP: brutal_kill terminates the child at once with exit(Child, kill).
      this.kill(child);
      return;
    }
    if (child.kind === 'worker') {
      child.status = 'stopping';
      this.emit({ type: 'stop', path: child.path, shutdown });
    }
    if (typeof shutdown === 'number') {
      // OTP: an integer shutdown asks the child to stop (exit(Child, shutdown)) and kills it after that many ms.
      child.timerArmed = true;
      this.emit({ type: 'set_timer', path: child.path, ms: shutdown });
    }
    if (child.kind === 'supervisor') this.requestShutdown(child);
  }

  /** A supervisor is told to stop (reason `shutdown`); a busy one gets to it when idle, as OTP handles its mailbox. */
  private requestShutdown(sup: SupervisorNode): void {
    this.whenIdle(sup, () => {
      if (sup.status === 'running') this.shutdownSupervisor(sup, 'shutdown');
    });
  }

  /** Stops all children in reverse start order, then exits with `reason`. */
  private shutdownSupervisor(sup: SupervisorNode, reason: string): void {
    sup.status = 'stopping';
    this.begin(sup, {
      // OTP: children are terminated in reverse start order (for simple_one_for_one the order is undefined).
      stops: liveChildren(sup).reverse(),
      starts: [],
      onDone: () => this.supervisorExited(sup, reason, false),
      onStartFailed: () => {},
    });
  }

  private supervisorExited(sup: SupervisorNode, reason: string, duringStart: boolean): void {
    sup.deferred = [];
    this.event({ type: 'supervisor_shutdown', supervisor: sup.path, reason });
    if (!sup.parent) {
      sup.status = 'stopped';
      const next = this.pendingRoot;
      this.pendingRoot = null;
      if (next) {
        this.root = this.createRoot(next);
        this.startSupervisor(this.root);
      }
      return;
    }
    if (duringStart) this.childStartFailed(sup.parent, sup, reason);
    // OTP: a supervisor that exits is, to its parent, a child that exited with that reason (escalation).
    else this.childExited(sup.parent, sup, reason);
  }

  /** Kills a child its supervisor is stopping; the supervisor sees it exit with `killed`. */
  private kill(node: Node): void {
    this.destroy(node);
    this.childExited(node.parent!, node, 'killed');
  }

  /** Kill decisions for a worker, or for a supervisor's whole subtree, without telling its parent. */
  private destroy(node: Node): void {
    if (node.kind === 'worker') {
      this.emit({ type: 'kill', path: node.path });
      return;
    }
    // OTP: killing a supervisor kills its whole subtree through links, without an orderly shutdown.
    for (const child of liveChildren(node).reverse()) {
      this.destroy(child);
      this.markStopped(node, child, 'killed');
    }
    node.op = null;
    node.deferred = [];
    this.event({ type: 'supervisor_shutdown', supervisor: node.path, reason: 'killed' });
  }

  private clearTimer(node: Node): void {
    node.timerArmed = false;
    this.emit({ type: 'clear_timer', path: node.path });
  }

  private markStopped(sup: SupervisorNode, child: Node, reason: string): void {
    if (child.timerArmed) this.clearTimer(child);
    child.status = 'stopped';
    this.event({ type: 'child_terminated', supervisor: sup.path, child: child.id, reason });
    // OTP: a temporary child is removed when it terminates, whatever the reason; it is never started again.
    if (child.spec.restart === 'temporary') this.remove(sup, child);
  }

  // ---- exits and restarts --------------------------------------------------------------------------------------

  private childExited(sup: SupervisorNode, child: Node, reason: string): void {
    this.markStopped(sup, child, reason);
    const op = sup.op;
    if (op?.current === child) {
      // The stop this operation asked for is done.
      op.current = null;
      this.advance(sup);
      return;
    }
    if (op && op.stops.includes(child)) {
      // OTP: a child that dies while its group is being stopped counts as stopped; it is restarted with the group.
      op.stops.splice(op.stops.indexOf(child), 1);
      return;
    }
    const incarnation = child.starts;
    this.whenIdle(sup, () => {
      if (child.starts === incarnation && child.status === 'stopped') this.handleExit(sup, child, reason);
    });
  }

  /** OTP `do_restart/4`: what an idle, running supervisor does when a child exits by itself. */
  private handleExit(sup: SupervisorNode, child: Node, reason: string): void {
    const restart = child.spec.restart;
    // OTP: a permanent child is always restarted; a transient one only after an abnormal exit (not normal, shutdown
    // or {shutdown, _}); a temporary child is never restarted.
    if (restart === 'permanent' || (restart === 'transient' && !isCleanExit(reason))) {
      this.restart(sup, child);
      return;
    }
    // OTP: a simple_one_for_one child that is not restarted is deleted.
    if (sup.spec.supervisor.strategy === 'simple_one_for_one') this.remove(sup, child);
    this.autoShutdown(sup, child);
  }

  /** OTP `do_auto_shutdown/2`: only a significant child's own exit counts, never a stop caused by the supervisor. */
  private autoShutdown(sup: SupervisorNode, child: Node): void {
    const mode = sup.spec.supervisor.autoShutdown;
    if (mode === 'never' || !child.spec.significant) return;
    // OTP: any_significant shuts the supervisor down when any significant child exits by itself.
    if (mode === 'any_significant') {
      this.shutdownSupervisor(sup, 'shutdown');
      return;
    }
    // OTP: all_significant shuts it down when no significant child is left alive.
    if (!sup.children.some((c) => c.spec.significant && c.status !== 'stopped')) this.shutdownSupervisor(sup, 'shutdown');
  }

  /** OTP `restart/2`: count the restart, give up past the intensity, else restart by strategy. */
  private restart(sup: SupervisorNode, child: Node): void {
    const { intensity, period, strategy } = sup.spec.supervisor;
    // OTP: every restart is counted, a group restart as one; exits that cause no restart are not counted.
    sup.restarts = addRestart(sup.restarts, this.clock.nowMs(), period);
    if (exceedsIntensity(sup.restarts, intensity)) {
      // OTP: more than `intensity` restarts within `period` seconds: reached_max_restart_intensity, stop all
      // children and exit with reason shutdown.
      this.event({ type: 'reached_max_restart_intensity', supervisor: sup.path });
      if (strategy === 'simple_one_for_one') this.remove(sup, child);
      this.shutdownSupervisor(sup, 'shutdown');
      return;
    }
    const at = sup.children.indexOf(child);
    // OTP: one_for_one (and simple_one_for_one) restarts only the child that exited; one_for_all stops all others and
    // restarts all; rest_for_one stops the children after it and restarts it and those after it.
    const group = strategy === 'one_for_all' ? [...sup.children] : strategy === 'rest_for_one' ? sup.children.slice(at) : [child];
    this.begin(sup, {
      // OTP: the group is stopped in reverse start order, then started again in start order.
      // Stryker disable next-line ConditionalExpression: equivalent, advance() skips children that are already stopped.
      stops: group.filter((c) => c.status !== 'stopped').reverse(),
      // OTP: temporary children are never restarted, even in a one_for_all or rest_for_one group restart.
      starts: group.filter((c) => c.spec.restart !== 'temporary'),
      onDone: () => {},
      // OTP: a child that fails to start again is retried as a new restart (try_again_restart), which counts.
      onStartFailed: (failed) => this.restart(sup, failed),
    });
  }
  // ---- desired state -------------------------------------------------------------------------------------------

  private reconcile(sup: SupervisorNode, spec: SupervisorNode['spec']): void {
    const running = sup.spec.supervisor;
    // The new spec applies at once to anything started from now on, including a restart of this supervisor.
    sup.spec = spec;
    if (sup.status === 'stopped') return;
    this.whenIdle(sup, () => {
      // OTP: the children of a simple_one_for_one supervisor keep running; a new template applies to new children.
      if (sup.status === 'running' && !isDynamic(running)) this.reconcileChildren(sup, spec.supervisor, diffChildren(running, spec.supervisor));
    });
  }

  private reconcileChildren(sup: SupervisorNode, desired: SupervisorSpec, changes: ChildChange[]): void {
    const byId = new Map(sup.children.map((c) => [c.id, c]));
    const leaving = new Set<Node>();
    for (const change of changes) {
      const node = byId.get(change.child.id);
      if (!node) continue; // added, or a temporary child that is gone
      if (change.kind === 'update') {
        if (node.kind === 'worker' && !isSupervisorChild(change.child)) node.spec = change.child;
        if (node.kind === 'supervisor' && isSupervisorChild(change.child)) node.spec = change.child;
      } else if (change.kind === 'swap' && node.kind === 'worker' && !isSupervisorChild(change.child)) {
        node.spec = change.child;
        if (node.status === 'running') this.emit({ type: 'swap', path: node.path, child: change.child });
      } else if (change.kind === 'nested' && node.kind === 'supervisor') this.reconcile(node, change.child);
      else if (change.kind === 'remove' || change.kind === 'restart') leaving.add(node);
    }
    const fresh = new Set(changes.filter((c) => c.kind === 'add' || c.kind === 'restart').map((c) => c.child.id));
    this.begin(sup, {
      stops: sup.children.filter((c) => leaving.has(c)).reverse(),
      starts: [],
      onDone: () => {
        for (const node of leaving) this.remove(sup, node);
        const kept = new Map(sup.children.map((c) => [c.id, c]));
        const starts: Node[] = [];
        sup.children = [];
        for (const child of desired.children) {
          const node = fresh.has(child.id) ? this.createNode(child, sup) : kept.get(child.id);
          if (!node) continue;
          sup.children.push(node);
          if (fresh.has(child.id)) starts.push(node);
        }
        this.begin(sup, { stops: [], starts, onDone: () => {}, onStartFailed: (failed) => this.restart(sup, failed) });
      },
      onStartFailed: () => {},
    });
  }
}

function liveChildren(sup: SupervisorNode): Node[] {
  return sup.children.filter((c) => c.status !== 'stopped');
}

function phase(node: Node): ChildPhase {
  if (node.restarting) return 'restarting';
  if (node.status === 'running') return 'running';
  if (node.status === 'starting' || node.queued) return 'starting';
  return 'stopped';
}

function pick<T extends object, K extends keyof T>(value: T, keys: K[]): Partial<Pick<T, K>> {
  const out: Partial<Pick<T, K>> = {};
  for (const k of keys) if (value[k] !== undefined) out[k] = value[k];
  return out;
}
