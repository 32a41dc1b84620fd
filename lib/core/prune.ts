import type { Allocation, Owner, State } from './types';

/** What the OS says about owners, gathered before the decision. */
export interface OwnerFacts {
  /** Milliseconds since the epoch. */
  now: number;
  /** Every PID of interest that is alive (not a zombie), with its start time where known. */
  liveProcesses: ReadonlyMap<number, string | null>;
}

/**
 * An owner lives while its process runs with the same start time (a reused PID is a different
 * process), while its lease has not expired, or forever when persistent. Age alone never kills it.
 */
export function isOwnerLive(owner: Owner, facts: OwnerFacts): boolean {
  switch (owner.kind) {
    case 'persistent':
      return true;
    case 'lease':
      return Date.parse(owner.expiresAt) > facts.now;
    case 'process': {
      if (!facts.liveProcesses.has(owner.pid)) return false;
      const actual = facts.liveProcesses.get(owner.pid) ?? null;
      return owner.startTime === null || actual === null || actual === owner.startTime;
    }
  }
}

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

/** Drops every allocation whose owner is gone. */
export function pruneAllocations(state: State, facts: OwnerFacts): PruneResult {
  return partition(state, (allocation) => isOwnerLive(allocation.owner, facts));
}

/**
 * `cleanup --force`: besides dead owners, drops every allocation whose port has no listener,
 * whatever its owner. Persistent and leased allocations go too: the user asked for it (and was
 * shown them first: `isSpared` keeps those they did not agree to).
 */
export function pruneUnused(state: State, isListening: (port: number) => boolean, isSpared: (allocation: Allocation) => boolean = () => false): PruneResult {
  return partition(state, (allocation) => isListening(allocation.port) || isSpared(allocation));
}

function partition(state: State, keep: (allocation: Allocation) => boolean): PruneResult {
  const kept: Allocation[] = [];
  const pruned: Allocation[] = [];
  for (const allocation of state.allocations) (keep(allocation) ? kept : pruned).push(allocation);
  return { state: pruned.length === 0 ? state : { ...state, allocations: kept }, pruned };
}
