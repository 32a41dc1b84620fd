import type { Allocation, Owner, ProcessOwner, State } from './types';
import { isoTime } from './time';

/** What the OS says about owners, gathered before the decision. */
export interface OwnerFacts {
  /** Milliseconds since the epoch. */
  now: number;
  /** Every PID of interest that is alive (not a zombie), with its start time where known. */
  liveProcesses: ReadonlyMap<number, string | null>;
  /** This boot's id (see ProcessOwner.bootId), or null/absent where it cannot be read. */
  bootId?: string | null;
  /**
   * The caller's PID namespace (an inode number, as ProcessOwner.pidNs), null where it cannot be
   * read. An owner recorded in another namespace is judged through `namespaces`, never by its PID.
   */
  pidNs?: string | null;
  /** What the caller sees of the other namespaces its owners were recorded in. */
  namespaces?: NamespaceView;
}

/** The host's initial PID namespace (the kernel's PROC_PID_INIT_INO): every process on the machine is visible from it. */
export const INITIAL_PID_NAMESPACE = '4026531836';

/**
 * What a caller sees of other PID namespaces. A namespace is visible whole or not at all: a
 * parent namespace sees every process of its children (under PIDs of its own), a child sees
 * nothing of its parent or of a sibling.
 */
export interface NamespaceView {
  /** Namespaces of which a process is visible from here: an owner recorded there and not among `live` has ended. */
  seen: ReadonlySet<string>;
  /** The processes visible from here in those namespaces, as `<ns>:<PID inside it>` → start time. */
  live: ReadonlyMap<string, string | null>;
  /**
   * The processes of deeper namespaces nested in those (a container's own container), by the PID
   * they have at the depth of `<ns>`, as `<ns>:<PID>` → their start times. A level of NSpid does
   * not say which namespace of that depth it is, so a sibling's process may be listed too: only
   * one with the owner's start time counts.
   */
  nested?: ReadonlyMap<string, ReadonlySet<string | null>>;
  /** The PID here of each process listed, as `<ns>:<PID inside it>:<start time>` → PID as numbered in the caller's namespace. */
  here?: ReadonlyMap<string, number>;
}

/**
 * What the caller can tell of an owner: alive, ended, or nothing (a process in a PID namespace it
 * cannot see: its parent's, a sibling container's).
 */
export type OwnerVerdict = 'live' | 'ended' | 'unjudged';

/** Whether `owner` was recorded in another PID namespace than the caller's (an owner recorded without one is taken as the caller's). */
export function isForeignOwner(owner: Owner, facts: Pick<OwnerFacts, 'pidNs'>): owner is ProcessOwner & { pidNs: string } {
  return owner.kind === 'process' && owner.pidNs !== undefined && owner.pidNs !== facts.pidNs;
}

/**
 * Whether an owner recorded in boot `recorded` can belong to the boot `current`. Unknown on
 * either side counts as the same boot (states written before boot ids were recorded). A boot
 * time (`boottime:<seconds>`, where there is no boot id) may drift by a second or two with
 * clock adjustments, so it matches within 2 s.
 */
export function isSameBoot(recorded: string | undefined, current: string | null | undefined): boolean {
  if (recorded === undefined || current === undefined || current === null || recorded === current) return true;
  const a = /^boottime:(\d+)$/.exec(recorded);
  const b = /^boottime:(\d+)$/.exec(current);
  return a !== null && b !== null && Math.abs(Number(a[1]) - Number(b[1])) <= 2;
}

/**
 * An owner lives while its process runs with the same start time in the same boot (a reused
 * PID, or one from before a reboot, is a different process), while its lease has not expired,
 * or forever when persistent. Age alone never kills it.
 */
export function isOwnerLive(owner: Owner, facts: OwnerFacts): boolean {
  return judgeOwner(owner, facts) !== 'ended';
}

/**
 * The verdict on an owner. One recorded in another PID namespace is alive when its PID there,
 * with its start time, is visible from here; ended when that namespace is visible from here (or
 * the caller is in the initial namespace, which sees every one) and it is not among its
 * processes; else it cannot be judged from here.
 */
export function judgeOwner(owner: Owner, facts: OwnerFacts): OwnerVerdict {
  switch (owner.kind) {
    case 'persistent':
      return 'live';
    case 'lease':
      return Date.parse(owner.expiresAt) > facts.now ? 'live' : 'ended';
    case 'process': {
      if (!isSameBoot(owner.bootId, facts.bootId)) return 'ended';
      if (isForeignOwner(owner, facts)) return judgeForeignOwner(owner, facts);
      if (isProcessLive(owner, facts)) return 'live';
      return isUnplacedOwner(owner, facts) ? 'unjudged' : 'ended';
    }
  }
}

function judgeForeignOwner(owner: ProcessOwner & { pidNs: string }, facts: OwnerFacts): OwnerVerdict {
  const view = facts.namespaces;
  const key = `${owner.pidNs}:${owner.pid}`;
  if (view?.live.has(key)) {
    const actual = view.live.get(key) ?? null;
    if (owner.startTime === null || actual === null || actual === owner.startTime) return 'live';
    return 'ended';
  }
  const nested = view?.nested?.get(key);
  if (nested && (owner.startTime === null || nested.has(null) || nested.has(owner.startTime))) return 'live';
  const visible = facts.pidNs === INITIAL_PID_NAMESPACE || view?.seen.has(owner.pidNs) === true;
  return visible && view !== undefined ? 'ended' : 'unjudged';
}

/**
 * An owner recorded before owners carried their namespace (no `pidNs`), read in a PID namespace
 * other than the initial one: it may be the host's (where older Styxys ran), whose PID means
 * nothing here. Its PID found here with its start time is still its process (the start time makes
 * a false match negligible); missing, or with another start time, it cannot be judged from here.
 * The host judges it by its PID, as it always did.
 */
function isUnplacedOwner(owner: ProcessOwner, facts: OwnerFacts): boolean {
  return owner.pidNs === undefined && typeof facts.pidNs === 'string' && facts.pidNs !== INITIAL_PID_NAMESPACE;
}

/**
 * The host's PID of an owner recorded in another PID namespace (a container's), where the caller
 * is the host and sees it: the number a `kill` on the host would need. Undefined elsewhere.
 */
export function findOwnerHostPid(owner: Owner, facts: OwnerFacts): number | undefined {
  if (facts.pidNs !== INITIAL_PID_NAMESPACE || !isForeignOwner(owner, facts) || owner.startTime === null) return undefined;
  return facts.namespaces?.here?.get(`${owner.pidNs}:${owner.pid}:${owner.startTime}`);
}

/** Why an owner cannot be judged from here, as list -v, list --json (`ownerNote`) and doctor say it. */
export function describeUnjudged(owner: Owner): string {
  if (owner.kind === 'process' && owner.pidNs !== undefined) return `cannot judge: owner in PID namespace ${owner.pidNs}`;
  return 'cannot judge: owner recorded without its PID namespace (by an older Styxy); the host judges it';
}

function isProcessLive(owner: ProcessOwner, facts: OwnerFacts): boolean {
  if (!facts.liveProcesses.has(owner.pid)) return false;
  const actual = facts.liveProcesses.get(owner.pid) ?? null;
  return owner.startTime === null || actual === null || actual === owner.startTime;
}

/** The PID namespaces other than the caller's that owners were recorded in: those a prune must look into. */
export function foreignNamespaces(state: State, pidNs: string | null): Set<string> {
  const namespaces = new Set<string>();
  for (const allocation of state.allocations) {
    const owner = allocation.owner;
    if (owner.kind === 'process' && owner.pidNs !== undefined && owner.pidNs !== pidNs) namespaces.add(owner.pidNs);
  }
  return namespaces;
}

/**
 * How long an owner that cannot be judged from here (see judgeOwner) is kept while nothing
 * listens on its port as seen from here, counted from when it was allocated or taken over. A
 * call that can judge it (its own namespace, the host) decides sooner, and `release` frees it.
 */
export const UNJUDGED_KEEP_MS = 24 * 60 * 60 * 1000;

/** The PIDs whose liveness a prune needs to know. */
export function ownerPids(state: State): number[] {
  const pids = new Set<number>();
  for (const allocation of state.allocations) {
    if (allocation.owner.kind === 'process') pids.add(allocation.owner.pid);
  }
  return [...pids];
}

export interface PruneResult {
  state: State;
  pruned: Allocation[];
}

/**
 * `cleanup --force`: besides dead owners, drops every allocation whose port has no listener,
 * whatever its owner. Persistent and leased allocations go too: the user asked for it (and was
 * shown them first: `isSpared` keeps those they did not agree to).
 */
export function pruneUnused(state: State, isListening: (port: number) => boolean, isSpared: (allocation: Allocation) => boolean = () => false): PruneResult {
  return partition(state, (allocation) => isListening(allocation.port) || isSpared(allocation));
}

/**
 * `cleanup --gone`: the allocations of projects whose directory no longer exists (a removed
 * worktree) that no live process holds: persistent ones, leases, and reservations of owners that
 * ended. One whose owner still runs stays (its server may run from a deleted directory); it goes
 * when the owner ends. `isGone` is told a project directory and answers from the disk.
 */
export function pruneGoneProjects(state: State, isGone: (project: string) => boolean, mayDrop: (allocation: Allocation) => boolean = () => true): PruneResult {
  const verdicts = new Map<string, boolean>();
  const gone = (project: string) => {
    let verdict = verdicts.get(project);
    if (verdict === undefined) verdicts.set(project, (verdict = isGone(project)));
    return verdict;
  };
  return partition(state, (a) => (a.owner.kind === 'process' && a.owner.reservedUntil === undefined) || !mayDrop(a) || !gone(a.project));
}

function partition(state: State, keep: (allocation: Allocation) => boolean): PruneResult {
  const kept: Allocation[] = [];
  const pruned: Allocation[] = [];
  for (const allocation of state.allocations) (keep(allocation) ? kept : pruned).push(allocation);
  return { state: pruned.length === 0 ? state : { ...state, allocations: kept }, pruned };
}

/** A process listening on a port, as the OS tells it. */
export interface ListenerProcess {
  port: number;
  pid: number;
  /** The process's start time in the owners' format (see ProcessOwner.startTime). */
  startTime: string | null;
  /** When the process started, in milliseconds since the epoch, where known. */
  startedAt: number | null;
  command?: string;
  /** The Unix user whose socket it is, where known. */
  uid?: number;
}

export interface LifetimeFacts extends OwnerFacts {
  /** How long a detected owner's allocation stays reserved after it ends with nothing listening. */
  graceMs: number;
  /**
   * The listeners on the ports of allocations whose process owner has ended (see
   * findEndedProcessOwners), or null where they cannot be read.
   */
  listeners: readonly ListenerProcess[] | null;
  /**
   * Sockets on those ports of processes this caller cannot see (another user's, in a shared
   * home): the heir, maybe, of that user's allocation, which only that user can name.
   */
  hiddenListeners?: ReadonlyArray<{ port: number; uid: number }>;
  /**
   * The ports listened on as seen from here (whoever holds them), among those of owners that
   * cannot be judged; null where they cannot be read. Absent when there are no such owners.
   */
  served?: ReadonlySet<number> | null;
}

/** Why an allocation was dropped. */
export type PruneReason = 'owner gone' | 'lease expired' | 'reservation over' | 'owner not judged for too long';

export interface LifetimeResult extends PruneResult {
  /** Why each pruned allocation went, by lock id. */
  reasons: ReadonlyMap<string, PruneReason>;
  /** Allocations whose ended owner gave way to the process listening on the port. */
  adopted: { from: Allocation; to: Allocation }[];
  /** Allocations newly reserved: their detected owner ended with nothing listening. */
  reserved: Allocation[];
  /** Allocations kept whose owner cannot be judged from here (in a PID namespace not visible from here). */
  unjudged: Allocation[];
}

/**
 * A listener that started before the allocation was made is not its server; start times are
 * known to ~10 ms, and the wall clock and the boot clock may disagree by a little, hence the slack.
 */
export const ADOPTION_SLACK_MS = 1000;

/**
 * The allocations whose owner is a process that has ended: the only ones for which the OS must
 * be asked who listens on their port, so that a call whose owners all live costs no more.
 */
export function findEndedProcessOwners(state: State, facts: OwnerFacts): Allocation[] {
  return state.allocations.filter((a) => a.owner.kind === 'process' && !isOwnerLive(a.owner, facts));
}

/** The allocations whose owner cannot be judged from here: for them the OS is asked whether their port is served. */
export function findUnjudgedOwners(state: State, facts: OwnerFacts): Allocation[] {
  return state.allocations.filter((a) => a.owner.kind === 'process' && judgeOwner(a.owner, facts) === 'unjudged');
}

/**
 * An owner that cannot be judged: kept while its port is served as seen from here (whatever its
 * reservation says: a reservation made where the owner could be judged ends when a server
 * listens, and only a call that can judge that server may hand the port on), else while a
 * reservation it already has lasts, else for UNJUDGED_KEEP_MS since it was allocated or taken over.
 */
function keepsUnjudged(allocation: Allocation, owner: ProcessOwner, facts: LifetimeFacts): PruneReason | null {
  if (facts.served?.has(allocation.port)) return null;
  if (owner.reservedUntil !== undefined) return Date.parse(owner.reservedUntil) > facts.now ? null : 'reservation over';
  const since = Date.parse(owner.adoptedAt ?? allocation.allocatedAt);
  return Number.isFinite(since) && facts.now - since >= UNJUDGED_KEEP_MS ? 'owner not judged for too long' : null;
}

/**
 * Decides what becomes of each allocation whose owner has ended:
 * - a process that started after the allocation and listens on its port takes it over (the
 *   server a script left running, or the orphan of a killed `styxy run`), and the allocation
 *   then ends when that process ends;
 * - else, when Styxy detected the owner itself (no --pid), or the owner was a `styxy run`, and nothing listens, the allocation
 *   stays reserved for `graceMs` from the moment Styxy finds the owner gone, so that the server
 *   the next command starts can take it;
 * - else it is dropped, as is an expired lease or a reservation whose time is up.
 */
export function decideLifetimes(state: State, facts: LifetimeFacts): LifetimeResult {
  // Made at the first allocation that changes: until then every allocation is kept as it is, and
  // the common call, where all owners live, copies none of them.
  let kept: Allocation[] | undefined;
  const pruned: Allocation[] = [];
  const reasons = new Map<string, PruneReason>();
  const adopted: { from: Allocation; to: Allocation }[] = [];
  const reserved: Allocation[] = [];
  const unjudged: Allocation[] = [];
  const allocations = state.allocations;
  for (let i = 0; i < allocations.length; i++) {
    const allocation = allocations[i] as Allocation;
    const fate = decideFate(allocation, facts);
    if (fate.kind === 'keep' || fate.kind === 'unjudged') {
      if (fate.kind === 'unjudged') unjudged.push(allocation);
      kept?.push(allocation);
      continue;
    }
    kept ??= allocations.slice(0, i);
    if (fate.kind === 'drop') {
      pruned.push(allocation);
      reasons.set(allocation.lockId, fate.reason);
      continue;
    }
    if (fate.kind === 'adopt') adopted.push({ from: allocation, to: fate.to });
    else reserved.push(fate.to);
    kept.push(fate.to);
  }
  return { state: kept ? { ...state, allocations: kept } : state, pruned, reasons, adopted, reserved, unjudged };
}

/** What becomes of one allocation: kept as it is, dropped, taken over by its server, or reserved for it. */
type Fate =
  | { readonly kind: 'keep' }
  | { readonly kind: 'unjudged' }
  | { readonly kind: 'drop'; readonly reason: PruneReason }
  | { readonly kind: 'adopt' | 'reserve'; readonly to: Allocation };
// Shared, so that the common fate (a live owner) allocates nothing.
const KEEP: Fate = { kind: 'keep' };
const UNJUDGED: Fate = { kind: 'unjudged' };

function decideFate(allocation: Allocation, facts: LifetimeFacts): Fate {
  const owner = allocation.owner;
  const verdict = judgeOwner(owner, facts);
  if (verdict === 'unjudged') {
    const reason = keepsUnjudged(allocation, owner as ProcessOwner, facts);
    return reason === null ? UNJUDGED : { kind: 'drop', reason };
  }
  if (verdict === 'live') return KEEP;
  if (owner.kind !== 'process') return { kind: 'drop', reason: 'lease expired' };
  return fateAfterOwner(allocation, owner, facts);
}

/** The fate of an allocation whose owner process has ended (the rules of decideLifetimes). */
function fateAfterOwner(allocation: Allocation, owner: ProcessOwner, facts: LifetimeFacts): Fate {
  const heir = findHeir(allocation, facts.listeners ?? []);
  if (heir) return { kind: 'adopt', to: { ...allocation, owner: adoptedOwner(heir, facts) } };
  // Kept as it is while a hidden process of the allocation's own user listens on the port:
  // that user's next call sees the process and lets it take over (or drops the allocation).
  if (facts.hiddenListeners?.some((l) => l.port === allocation.port && (allocation.user === undefined || l.uid === allocation.user.uid))) return KEEP;
  // A `run` killed before its server listened leaves that server starting: the reservation
  // keeps the port for it (and it takes the allocation over once it listens), as for any owner
  // Styxy found itself.
  if ((owner.detected || owner.via === 'run') && owner.adoptedAt === undefined && facts.graceMs > 0) {
    if (owner.reservedUntil === undefined)
      return { kind: 'reserve', to: { ...allocation, owner: { ...owner, reservedUntil: isoTime(facts.now + facts.graceMs) } } };
    return Date.parse(owner.reservedUntil) > facts.now ? KEEP : { kind: 'drop', reason: 'reservation over' };
  }
  return { kind: 'drop', reason: 'owner gone' };
}

/** The process that takes an allocation over: the first-started listener on its port that started after it. */
function findHeir(allocation: Allocation, listeners: readonly ListenerProcess[]): ListenerProcess | undefined {
  const since = Date.parse(allocation.allocatedAt) - ADOPTION_SLACK_MS;
  let heir: ListenerProcess | undefined;
  for (const l of listeners) {
    if (l.port !== allocation.port || l.startedAt === null || l.startedAt < since) continue;
    if (allocation.owner.kind === 'process' && l.pid === allocation.owner.pid) continue;
    // Another user's server is theirs, not the heir of this one's allocation.
    if (allocation.user !== undefined && l.uid !== undefined && l.uid !== allocation.user.uid) continue;
    if (!heir || (heir.startedAt as number) > l.startedAt) heir = l;
  }
  return heir;
}

function adoptedOwner(heir: ListenerProcess, facts: LifetimeFacts): ProcessOwner {
  return {
    kind: 'process',
    pid: heir.pid,
    startTime: heir.startTime,
    ...(heir.command && { command: heir.command.slice(0, 300) }),
    ...(facts.bootId && { bootId: facts.bootId }),
    ...(facts.pidNs && { pidNs: facts.pidNs }),
    adoptedAt: isoTime(facts.now),
  };
}
