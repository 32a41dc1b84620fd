import type { Allocation } from './types';

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
  callerUid?: number;
  force: boolean;
}

export type StopPlan =
  /** End the tree under `root` (root included), then release the allocation if any. */
  | { kind: 'end-tree'; root: StopProcess; reason: StopReason; allocation: Allocation | null }
  /** Nothing to signal: release the allocation only. */
  | { kind: 'release-only'; reason: string; allocation: Allocation }
  /** Refused: `code` with a message and what to do. */
  | { kind: 'refused'; code: 'FORCE_REQUIRED' | 'NOT_FOUND'; message: string; suggestions: string[] };

/**
 * Why this root: `run` (the allocation's `styxy run`, which ends its command's tree and releases),
 * `owner` (the owner is the server itself, or was named with --pid), `started-by-owner` (the
 * owner is the shell or script that asked; what it started to serve the port is ended, not the
 * shell), `forced` (a listener Styxy cannot attribute, ended because --force was given).
 */
export type StopReason = 'run' | 'owner' | 'started-by-owner' | 'forced';

/** Decides what stopping the holder of `facts.port` ends. */
export function planStop(facts: StopFacts): StopPlan {
  const { port, allocation: a, owner } = facts;
  const listener = facts.listeners[0];
  const forced = (what: string): StopPlan => {
    if (listener && facts.force) return { kind: 'end-tree', root: listener, reason: 'forced', allocation: a };
    if (!listener)
      return { kind: 'refused', code: 'NOT_FOUND', message: `Nothing that this caller can see holds port ${port}`, suggestions: [`styxy why ${port}`] };
    return {
      kind: 'refused',
      code: 'FORCE_REQUIRED',
      message: `Port ${port} is held by PID ${listener.pid}${listener.command ? ` (${listener.command})` : ''}, ${what}; nothing was signalled`,
      suggestions: [`See it: styxy why ${port}`, `End exactly that process tree: styxy stop ${port} --force (try --dry-run first)`],
    };
  };

  if (!a) {
    if (!listener && facts.hiddenListener) {
      return {
        kind: 'refused',
        code: 'NOT_FOUND',
        message: `Port ${port} is held by a process this caller cannot see; nothing was signalled`,
        suggestions: [`styxy why ${port}`],
      };
    }
    const other = listener?.uid !== undefined && facts.callerUid !== undefined && listener.uid !== facts.callerUid;
    return forced(other ? "another user's process, outside Styxy" : 'a process outside Styxy');
  }

  if (owner && a.owner.kind === 'process') {
    if (a.owner.via === 'run') return { kind: 'end-tree', root: owner, reason: 'run', allocation: a };
    const explicit = a.owner.detected !== true;
    if (!listener) {
      if (explicit) return { kind: 'end-tree', root: owner, reason: 'owner', allocation: a };
      return { kind: 'release-only', reason: `nothing listens on port ${port}; its owner PID ${owner.pid} asked for it and is left running`, allocation: a };
    }
    if (listener.pid === owner.pid) return { kind: 'end-tree', root: owner, reason: 'owner', allocation: a };
    const depth = listener.ancestors.findIndex((p) => p.pid === owner.pid && p.startTime === owner.startTime);
    if (depth >= 0) {
      if (explicit) return { kind: 'end-tree', root: owner, reason: 'owner', allocation: a };
      // The owner's child on the way down to the server: the job the shell started, not the shell.
      const child = listener.ancestors[depth - 1];
      const root = child ? { ...child, ancestors: listener.ancestors.slice(depth) } : listener;
      return { kind: 'end-tree', root, reason: 'started-by-owner', allocation: a };
    }
    return forced(`which is not in the tree of the allocation's owner PID ${owner.pid}`);
  }

  // Persistent, a lease, or an owner that has ended (reserved): nobody Styxy can vouch for.
  if (!listener) {
    if (facts.hiddenListener)
      return { kind: 'release-only', reason: `port ${port} is served by a process this caller cannot see; it is left running`, allocation: a };
    return { kind: 'release-only', reason: `nothing listens on port ${port}`, allocation: a };
  }
  return forced(`which Styxy cannot attribute to the ${a.owner.kind === 'process' ? 'ended owner' : a.owner.kind} allocation ${a.lockId}`);
}
