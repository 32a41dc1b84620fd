import type { Allocation, State } from '../core/types';
import { decideLifetimes, findEndedProcessOwners, findUnjudgedOwners, foreignNamespaces, ownerPids, type LifetimeResult, type OwnerFacts } from '../core/prune';
import { trackFreedPorts } from '../core/port-memory';
import { readListenerProcesses, readListeners } from '../os/ports';
import { hasProc, isProcOwnNamespace, namespaceNumber, probeLiveProcesses, probeNamespaceProcesses, readBootId, readOwnPidNamespace } from '../os/processes';
import { findMarkedProcesses, type TrackedProcess } from '../os/process-tree';
import { runMarkerEntry } from '../core/run-plan';
import { writeErr } from '../os/stdio';
import { resolvePaths } from '../store/paths';
import { withTransaction, type TransactionCommit, type TransactionContext, type TransactionOptions, type TransactionOutcome } from '../store/transaction';
import type { AuditInput } from '../store/audit-log';
import type { LoadedConfig } from '../store/config-files';

/** What every use case is handed; the CLI and the Node API know it by this name, not the store's. */
export type AppContext = TransactionContext;

/** The context of one CLI invocation: where its files are, the clock, where warnings go. */
export function defaultContext(): TransactionContext {
  return {
    paths: resolvePaths(process.env),
    cwd: process.cwd(),
    now: Date.now,
    warn: (message) => writeErr(`${message}\n`),
  };
}

export interface LiveView {
  config: LoadedConfig;
  /** The state without the allocations whose owner is gone. */
  state: State;
  /** The allocations dropped because their owner is gone. */
  pruned: Allocation[];
  /** The allocations kept whose owner cannot be judged from here (a PID namespace not visible from here). */
  unjudged: Allocation[];
  /** The state as read, before pruning. */
  stateAsRead: State;
  /**
   * Allocations kept by a reservation whose owner was a `styxy run` that ended while the server it
   * started is still starting: that server's processes, eldest first, by lock id.
   */
  starting: ReadonlyMap<string, readonly TrackedProcess[]>;
  /** What the OS said of the owners, as they were judged. */
  owners: OwnerFacts;
}

export interface LiveStateOptions<T = unknown> extends TransactionOptions {
  /** false: nothing is written (a dry run); a function: nothing is written when it says false of the work's result (a question returned before anything was decided). */
  write?: boolean | ((result: T) => boolean);
}

/**
 * A transaction in which the state is first pruned of dead and expired owners. When `work`
 * returns no state of its own, the pruned state is written (if anything was pruned), and each
 * pruned allocation is logged, unless the work logs that allocation itself. Hands back the
 * work's result and what the commit did (where config.json was backed up).
 */
export async function withLiveState<T>(
  ctx: TransactionContext,
  work: (view: LiveView) => Promise<TransactionOutcome<T>> | TransactionOutcome<T>,
  options: LiveStateOptions<T> = {},
): Promise<TransactionCommit<T>> {
  return withTransaction(
    ctx,
    async ({ config, state: stateAsRead }) => {
      const owners = readOwnerFacts(stateAsRead, ctx.now());
      const lifetimes = decideAllocationLifetimes(stateAsRead, owners, config.config.lifetime.reservation_grace_seconds * 1000);
      // What was pruned just now cools like the rest, for the decision of this very call too.
      const liveState = trackFreedPorts(stateAsRead, lifetimes.state, ctx.now(), config.config.port_reuse);
      const outcome = await work({
        config,
        state: liveState,
        pruned: lifetimes.pruned,
        unjudged: lifetimes.unjudged,
        stateAsRead,
        starting: lifetimes.starting,
        owners,
      });
      if (options.write === false || (typeof options.write === 'function' && !options.write(outcome.result))) return { result: outcome.result };
      return {
        ...outcome,
        // Whatever this call released or pruned is remembered for the cool-down and home ports.
        state: trackFreedPorts(stateAsRead, outcome.state ?? liveState, ctx.now(), config.config.port_reuse),
        audit: [...lifetimeEvents(lifetimes), ...pruneEvents(lifetimes, outcome.audit ?? []), ...(outcome.audit ?? [])],
      };
    },
    { configOptional: options.configOptional === true, ...(options.summaryWillDo && { summaryWillDo: options.summaryWillDo }) },
  );
}

/**
 * One event per allocation: one the work itself logs (a release by name of an allocation whose
 * owner just died) says what became of it, not a prune as well.
 */
function pruneEvents(lifetimes: LifetimeResult, logged: readonly AuditInput[]): AuditInput[] {
  const loggedIds = new Set(logged.map((event) => event.lockId));
  return lifetimes.pruned
    .filter((a) => !loggedIds.has(a.lockId))
    .map((a) => ({
      action: 'prune',
      serviceType: a.serviceType,
      lockId: a.lockId,
      port: a.port,
      reason: lifetimes.reasons.get(a.lockId) ?? 'owner gone',
    }));
}

/**
 * Which allocations live on, from the owners' liveness; only when an owner has ended are the
 * listeners on its port looked up (a listing of /proc/net/tcp{,6}, and a walk of /proc/*\/fd only
 * when something listens there), so a call whose owners all live costs what it did.
 */
function decideAllocationLifetimes(stateAsRead: State, facts: OwnerFacts, graceMs: number): LifetimeResult & { starting: Map<string, TrackedProcess[]> } {
  const ended = findEndedProcessOwners(stateAsRead, facts);
  const hiddenListeners: Array<{ port: number; uid: number }> = [];
  const listeners = ended.length === 0 ? [] : readListenerProcesses(new Set(ended.map((a) => a.port)), hiddenListeners);
  const unjudged = findUnjudgedOwners(stateAsRead, facts);
  const served = unjudged.length > 0 ? readServedPorts(unjudged) : null;
  const decided = decideLifetimes(stateAsRead, {
    ...facts,
    graceMs,
    listeners,
    hiddenListeners,
    ...(unjudged.length > 0 && { served }),
  });
  const starting = findStartingElsewhere(decided.unjudged, served);
  return ended.length === 0 ? { ...decided, starting } : dropEndedRuns(decided, starting);
}

/**
 * A reservation whose owner ended in another PID namespace (a container's `run` killed before its
 * server listened) may belong to a server starting there, where this caller cannot look for a
 * run's marked processes, or to one that listens already and that only a call in that namespace
 * (or on the host) can let take it over. Either way the service is there: it counts as starting
 * (with no process known), so that the same service asked from here is waited for, never taken
 * over and started a second time. The reservation still ends at its time.
 */
function findStartingElsewhere(unjudged: readonly Allocation[], served: ReadonlySet<number> | null): Map<string, TrackedProcess[]> {
  const starting = new Map<string, TrackedProcess[]>();
  for (const a of unjudged) {
    if (a.owner.kind !== 'process' || a.owner.reservedUntil === undefined) continue;
    if (a.owner.via === 'run' || served?.has(a.port)) starting.set(a.lockId, []);
  }
  return starting;
}

/**
 * A reservation kept for a `run` that ended is kept while what that run started still runs (a
 * server still starting), and found: every process a run starts carries its marker. When none
 * does, nothing is starting: the allocation goes now rather than at the end of the grace, so that
 * no one waits for a server that will never come. Where processes cannot be read, the grace holds.
 */
function dropEndedRuns(decided: LifetimeResult, starting: Map<string, TrackedProcess[]>): LifetimeResult & { starting: Map<string, TrackedProcess[]> } {
  const gone: Allocation[] = [];
  // The marked processes of a run judged nowhere near here are not in this /proc, and another
  // user's do not show this caller their environment (a shared home): their absence means nothing.
  const elsewhere = new Set(decided.unjudged.map((a) => a.lockId));
  const me = typeof process.getuid === 'function' ? process.getuid() : undefined;
  const unreadable = (a: Allocation) => a.user !== undefined && me !== undefined && me !== 0 && a.user.uid !== me;
  for (const a of decided.state.allocations) {
    const owner = a.owner;
    if (owner.kind !== 'process' || owner.via !== 'run' || owner.reservedUntil === undefined || elsewhere.has(a.lockId) || unreadable(a)) continue;
    const tree = findMarkedProcesses(runMarkerEntry(owner), Number(owner.startTime));
    if (tree === null) continue;
    if (tree.length > 0) starting.set(a.lockId, tree);
    else gone.push(a);
  }
  if (gone.length === 0) return { ...decided, starting };
  const goneIds = new Set(gone.map((a) => a.lockId));
  const reasons = new Map(decided.reasons);
  for (const a of gone) reasons.set(a.lockId, 'owner gone');
  return {
    ...decided,
    state: { ...decided.state, allocations: decided.state.allocations.filter((a) => !goneIds.has(a.lockId)) },
    pruned: [...decided.pruned, ...gone],
    reasons,
    reserved: decided.reserved.filter((a) => !goneIds.has(a.lockId)),
    starting,
  };
}

/**
 * What the OS says of the owners of `state`: which of their PIDs live (with start times), this
 * boot, this call's PID namespace, and what is visible of the other namespaces owners were
 * recorded in (looked into only when there are such owners). Every judgement of owners (prune,
 * doctor, and any command that asks whether an owner lives) starts from these facts.
 */
export function readOwnerFacts(state: State, now: number): OwnerFacts {
  // A /proc of another namespace (unshare -p without --mount-proc) tells nothing about these PIDs' namespace.
  const pidNs = hasProc() && isProcOwnNamespace() ? namespaceNumber(readOwnPidNamespace()) : null;
  const foreign = foreignNamespaces(state, pidNs);
  return {
    now,
    liveProcesses: probeLiveProcesses(ownerPids(state)),
    bootId: readBootId(),
    pidNs,
    ...(foreign.size > 0 && pidNs !== null && { namespaces: probeNamespaceProcesses(foreign, pidNs) }),
  };
}

/** The ports of `allocations` that something listens on as seen from here (this network namespace), or null where that cannot be read. */
function readServedPorts(allocations: readonly Allocation[]): Set<number> | null {
  const ports = new Set(allocations.map((a) => a.port));
  const listeners = readListeners();
  return listeners === null ? null : new Set(listeners.filter((l) => ports.has(l.port)).map((l) => l.port));
}

function lifetimeEvents(lifetimes: LifetimeResult): AuditInput[] {
  const events: AuditInput[] = [];
  for (const { from, to } of lifetimes.adopted) {
    const owner = to.owner as { pid: number; command?: string };
    events.push({
      action: 'adopt',
      serviceType: to.serviceType,
      lockId: to.lockId,
      port: to.port,
      // `pid` in an audit line is the writing styxy's own.
      ownerPid: owner.pid,
      ...(owner.command && { command: owner.command }),
      previousPid: (from.owner as { pid: number }).pid,
      reason: 'owner gone, this process listens on the port',
    });
  }
  for (const a of lifetimes.reserved) {
    const owner = a.owner as { pid: number; reservedUntil?: string };
    events.push({
      action: 'reserve',
      serviceType: a.serviceType,
      lockId: a.lockId,
      port: a.port,
      previousPid: owner.pid,
      until: owner.reservedUntil,
      reason: 'owner gone, nothing listening yet',
    });
  }
  return events;
}
