import { shellWord } from './shell-word';
import type { Allocation, ProcessOwner } from './types';

/**
 * What `styxy stop` ends for one port, decided from facts the caller read: never a process by
 * its name, only a tree whose root Styxy can attribute (PID and start time), or, with `--force`,
 * the exact process that listens. Pure, so every case is a row in a table test.
 */

/** A process known by PID and start time, with its chain of parents (nearest first). */
export interface StopProcess {
  pid: number;
  startTime: string | null;
  uid?: number;
  command?: string;
  /** PID 1 of its PID namespace (init here, or a container's first process): never a root to end. */
  namespaceInit?: boolean;
  /** Its parents, nearest first, up to init: how a server is found under the owner that started it. */
  ancestors: readonly { pid: number; startTime: string | null }[];
}

export interface StopFacts {
  port: number;
  /** The live allocation on the port, if any. */
  allocation: Allocation | null;
  /** The allocation's owner, when it is a process that still runs as recorded (PID and start time). */
  owner: StopProcess | null;
  /** The processes listening on the port that this caller can see. */
  listeners: readonly StopProcess[];
  /** Something listens that this caller cannot see (another PID namespace, hidden /proc). */
  hiddenListener: boolean;
  /** The uid of that hidden socket (from /proc/net/tcp), when known. */
  hiddenListenerUid?: number;
  callerUid?: number;
  /** The allocation's owner was recorded in another PID namespace: its PID names another process here. */
  ownerElsewhere?: boolean;
  /** The caller and its ancestors (PIDs): a tree holding one of them is never ended. */
  spared?: readonly number[];
  force: boolean;
}

/** Why a tree is refused even with --force (STOP_REFUSED `details.reason`). */
export type StopRefusal = TreeRefusal | 'unseen' | 'docker';
/** Why a tree is never ended: its root is init, a PID namespace's init, or the caller or one of its ancestors. */
export type TreeRefusal = 'init' | 'namespace-init' | 'caller-in-tree';

export type StopPlan =
  /** End the tree under `root` (root included), then release the allocation if any. */
  | { kind: 'end-tree'; root: StopProcess; reason: StopReason; allocation: Allocation | null }
  /** Nothing to signal: release the allocation only. */
  | { kind: 'release-only'; reason: string; allocation: Allocation }
  /** Refused: `code` with a message and what to do. */
  | { kind: 'refused'; code: 'FORCE_REQUIRED' | 'NOT_FOUND'; message: string; suggestions: string[] }
  /** Refused whatever the flags: the tree is init's, a PID namespace's, or holds the caller; or the server cannot be seen from here. */
  | { kind: 'refused'; code: 'STOP_REFUSED'; reason: StopRefusal; message: string; suggestions: string[] };

/**
 * Why this root: `run` (the allocation's `styxy run`, which ends its command's tree and releases),
 * `owner` (the owner is the server itself, or was named with --pid), `started-by-owner` (the
 * owner is the shell or script that asked; what it started to serve the port is ended, not the
 * shell), `forced` (a listener Styxy cannot attribute, ended because --force was given).
 */
export type StopReason = 'run' | 'owner' | 'started-by-owner' | 'forced';

/**
 * Decides what stopping the holder of `facts.port` ends. A tree is ended only when its root is
 * vouched for and the caller's, or with --force; never (not even with --force) when the root is
 * init, a PID namespace's init, or the caller or one of its ancestors: ending such a tree ends
 * processes nobody asked to stop (every SSH session under sshd, the caller's own shell's jobs).
 */
export function planStop(facts: StopFacts): StopPlan {
  const plan = decide(facts);
  if (plan.kind !== 'end-tree') return plan;
  const refusal = findStopRefusal(plan.root, facts.spared ?? []);
  if (refusal) return refusedTree(facts.port, plan.root, refusal);
  // Another user's process (root's too, for a non-root caller; any user's for root) is not the
  // caller's to end on Styxy's word alone: an adopted owner may be anyone who bound the port.
  const listener = facts.listeners[0];
  const uid = [plan.root.uid, listener?.uid].find((u) => u !== undefined && facts.callerUid !== undefined && u !== facts.callerUid);
  if (!facts.force && uid !== undefined) {
    return {
      kind: 'refused',
      code: 'FORCE_REQUIRED',
      message: `PID ${plan.root.pid}${plan.root.command ? ` (${plan.root.command})` : ''} belongs to uid ${uid}, not to this caller (uid ${facts.callerUid}); nothing was signalled`,
      suggestions: [`See it: styxy why ${facts.port}`, `End exactly that process tree: styxy stop ${facts.port} --force (try --dry-run first)`],
    };
  }
  return plan;
}

/** Why ending the tree under `root` would reach what nobody asked to stop, or null. */
export function findStopRefusal(root: { pid: number; namespaceInit?: boolean }, spared: readonly number[]): TreeRefusal | null {
  if (root.pid === 1) return 'init';
  if (root.namespaceInit) return 'namespace-init';
  // Every process of a tree descends from its root: the tree holds the caller or one of its
  // ancestors exactly when the root is one of them.
  if (spared.includes(root.pid)) return 'caller-in-tree';
  return null;
}

/** The message of a STOP_REFUSED, with what to do instead. */
export function refusedTree(port: number, root: { pid: number; command?: string }, reason: TreeRefusal): StopPlan {
  const who = `PID ${root.pid}${root.command ? ` (${root.command})` : ''}`;
  const why =
    reason === 'init'
      ? `is init: its tree is every process here`
      : reason === 'namespace-init'
        ? `is the first process (PID 1) of a PID namespace: its tree is every process of that container or sandbox`
        : `is this styxy stop or one of its ancestors: its tree holds the caller's own session and its other jobs`;
  return {
    kind: 'refused',
    code: 'STOP_REFUSED',
    reason,
    message: `Port ${port} is held under ${who}, which ${why}; nothing was signalled (--force does not change this)`,
    suggestions:
      reason === 'caller-in-tree'
        ? [`End the server its own way (Ctrl-C in its terminal, kill its PID), or run styxy stop ${port} from outside that tree`]
        : [`Stop it its own way (systemctl stop the service or socket; docker stop the container)`, `Or take another port: styxy allocate -s TYPE`],
  };
}

function decide(facts: StopFacts): StopPlan {
  const { port, allocation: a, owner } = facts;
  const listener = facts.listeners[0];
  const docker = publishedByDocker(facts);
  if (docker) return docker;
  if (!a) return decideOutsideStyxy(facts, listener);
  if (owner && a.owner.kind === 'process') return decideForOwner(facts, a, a.owner, owner, listener);
  // Persistent, a lease, an owner that has ended (reserved), or one in a PID namespace this
  // caller cannot see into: nobody Styxy can vouch for.
  if (!listener) {
    if (facts.hiddenListener) return unseenServer(facts, a);
    return { kind: 'release-only', reason: `nothing listens on port ${port}`, allocation: a };
  }
  const whose =
    a.owner.kind !== 'process'
      ? `the ${a.owner.kind} allocation ${a.lockId}`
      : facts.ownerElsewhere
        ? `allocation ${a.lockId}, whose owner PID ${a.owner.pid} is in another PID namespace (stop it there, where Styxy can vouch for its server)`
        : `allocation ${a.lockId}, whose owner PID ${a.owner.pid} ${a.owner.reservedUntil ? 'has ended' : 'cannot be verified as running'}`;
  return onlyForced(facts, listener, `which Styxy cannot attribute to ${whose}`);
}

/**
 * A port `styxy compose` allocated: Docker publishes it through docker-proxy, and ending that
 * would leave the container running and its port dead. Refused whatever the flags; Compose
 * stops it (and releases). A docker-proxy outside Styxy is any outsider's process: --force.
 */
function publishedByDocker(facts: StopFacts): StopPlan | null {
  const a = facts.allocation;
  if (!a?.compose) return null;
  const { project, service } = a.compose;
  return {
    kind: 'refused',
    code: 'STOP_REFUSED',
    reason: 'docker',
    message: `Port ${facts.port} is published by Docker for service '${service}' of the Compose project ${project}: ending docker-proxy would leave the container running; nothing was signalled (--force does not change this)`,
    suggestions: [
      `cd ${shellWord(a.project)} && styxy compose -- down`,
      `Or that service alone: docker compose -p ${shellWord(project)} stop ${shellWord(service)}`,
    ],
  };
}

/**
 * The allocation's port is served by a process this caller cannot see (a container's server seen
 * from another container, another user's process behind a hidden /proc): nothing here can end it,
 * and releasing the allocation would leave that server running on a port Styxy then hands out as
 * unallocated. Refused whatever the flags, and the allocation is kept.
 */
function unseenServer(facts: StopFacts, a: Allocation): StopPlan {
  const uid = facts.hiddenListenerUid;
  const theirs = uid !== undefined && facts.callerUid !== undefined && uid !== facts.callerUid;
  const socket = uid === undefined ? '' : theirs ? ` (another user's: uid ${uid})` : ` (socket of uid ${uid})`;
  return {
    kind: 'refused',
    code: 'STOP_REFUSED',
    reason: 'unseen',
    message: `Port ${facts.port} (${a.serviceType} '${a.instanceId}', lock ${a.lockId}) is served by a process this caller cannot see${socket}: in another PID namespace, or hidden by /proc; nothing was signalled and the allocation was kept (--force does not change this)`,
    suggestions: [
      `Stop it from where its server runs (its container, or the host): styxy stop ${facts.port}`,
      `Only free the allocation, leaving the server running: styxy release ${a.lockId}`,
    ],
  };
}

/** A listener Styxy cannot vouch for (`what` says why): its tree is ended only with --force. */
function onlyForced(facts: StopFacts, listener: StopProcess | undefined, what: string): StopPlan {
  const { port, allocation: a } = facts;
  if (listener && facts.force) return { kind: 'end-tree', root: listener, reason: 'forced', allocation: a };
  if (!listener)
    return { kind: 'refused', code: 'NOT_FOUND', message: `Nothing that this caller can see holds port ${port}`, suggestions: [`styxy why ${port}`] };
  return {
    kind: 'refused',
    code: 'FORCE_REQUIRED',
    message: `Port ${port} is held by PID ${listener.pid}${listener.command ? ` (${listener.command})` : ''}, ${what}; nothing was signalled`,
    suggestions: [`See it: styxy why ${port}`, `End exactly that process tree: styxy stop ${port} --force (try --dry-run first)`],
  };
}

/** No allocation holds the port: whatever listens is outside Styxy. */
function decideOutsideStyxy(facts: StopFacts, listener: StopProcess | undefined): StopPlan {
  const port = facts.port;
  const hiddenUid = facts.hiddenListenerUid;
  if (!listener && facts.hiddenListener && !facts.force && hiddenUid !== undefined && facts.callerUid !== undefined && hiddenUid !== facts.callerUid) {
    // Another user's process (root's, to a user): the promise is FORCE_REQUIRED, whether or not
    // /proc lets this caller see which process it is.
    return {
      kind: 'refused',
      code: 'FORCE_REQUIRED',
      message: `Port ${port} is held by another user's process (uid ${hiddenUid}), outside Styxy; nothing was signalled`,
      suggestions: [`See it: styxy why ${port}`, 'Ask that user (or root) to stop it, or take another port: styxy allocate -s TYPE'],
    };
  }
  if (!listener && facts.hiddenListener) {
    return {
      kind: 'refused',
      code: 'NOT_FOUND',
      message: `Port ${port} is held by a process this caller cannot see; nothing was signalled`,
      suggestions: [`styxy why ${port}`],
    };
  }
  const other = listener?.uid !== undefined && facts.callerUid !== undefined && listener.uid !== facts.callerUid;
  return onlyForced(facts, listener, other ? "another user's process, outside Styxy" : 'a process outside Styxy');
}

/** The allocation's owner process still runs: end what it started to serve the port, never more on Styxy's word. */
function decideForOwner(facts: StopFacts, a: Allocation, recorded: ProcessOwner, owner: StopProcess, listener: StopProcess | undefined): StopPlan {
  const port = facts.port;
  if (recorded.via === 'run') return { kind: 'end-tree', root: owner, reason: 'run', allocation: a };
  const explicit = recorded.detected !== true;
  // An owner that is not itself the listener (a shell, named with --pid or found) is never
  // ended on Styxy's word: only what it started to serve the port, unless --force.
  if (!listener) {
    if (facts.hiddenListener) return unseenServer(facts, a);
    if (explicit && facts.force) return { kind: 'end-tree', root: owner, reason: 'forced', allocation: a };
    return { kind: 'release-only', reason: `nothing listens on port ${port}; its owner PID ${owner.pid} asked for it and is left running`, allocation: a };
  }
  if (listener.pid === owner.pid) return { kind: 'end-tree', root: owner, reason: 'owner', allocation: a };
  const depth = listener.ancestors.findIndex((p) => p.pid === owner.pid && p.startTime !== null && p.startTime === owner.startTime);
  if (depth < 0) return onlyForced(facts, listener, `which is not in the tree of the allocation's owner PID ${owner.pid}`);
  if (explicit && facts.force) return { kind: 'end-tree', root: owner, reason: 'forced', allocation: a };
  // The owner's child on the way down to the server: the job the shell started, not the shell.
  const child = listener.ancestors[depth - 1];
  const root = child ? { ...child, ancestors: listener.ancestors.slice(depth) } : listener;
  return { kind: 'end-tree', root, reason: 'started-by-owner', allocation: a };
}
