import { isForeignOwner, judgeOwner, type OwnerFacts } from './prune';
import type { Allocation } from './types';

/** A listening socket, with the process that holds it where it could be found. */
export interface ListenerFact {
  port: number;
  pid?: number;
  command?: string;
}

export interface ForeignListener {
  allocation: Allocation;
  listener: ListenerFact & { pid: number };
}

export interface AllocationReview {
  /** Owners that have ended: the next styxy call drops these (or hands them to their listener). */
  ended: Allocation[];
  /** Owners that have ended with nothing listening, kept for the reservation grace. */
  reserved: Allocation[];
  /** Live allocations whose port nobody listens on (a server not started yet, or gone). */
  unlistened: Allocation[];
  /** Owners that cannot be judged from here (recorded in a PID namespace not visible from here): kept while their port is served, or for a bounded time. */
  unjudged: Allocation[];
  /** Live allocations whose port is listened on by a process that is neither the owner nor one of its descendants. */
  foreign: ForeignListener[];
}

/**
 * What `styxy doctor` reports about allocations, from facts gathered beforehand. `ancestry(pid)`
 * gives the PID and its ancestors up to init, so that a server started by the owning shell counts
 * as the owner's. Owners that are not processes (leases, persistent) are never called foreign.
 */
export function reviewAllocations(
  allocations: readonly Allocation[],
  facts: OwnerFacts,
  listeners: readonly ListenerFact[],
  ancestry: (pid: number) => readonly number[],
): AllocationReview {
  const byPort = new Map<number, ListenerFact[]>();
  for (const l of listeners) byPort.set(l.port, [...(byPort.get(l.port) ?? []), l]);
  const review: AllocationReview = { ended: [], reserved: [], unlistened: [], unjudged: [], foreign: [] };
  for (const allocation of allocations) {
    if (allocation.owner.kind === 'process' && allocation.owner.reservedUntil !== undefined && Date.parse(allocation.owner.reservedUntil) > facts.now) {
      review.reserved.push(allocation);
      continue;
    }
    const verdict = judgeOwner(allocation.owner, facts);
    if (verdict === 'ended') {
      review.ended.push(allocation);
      continue;
    }
    if (verdict === 'unjudged') {
      // Its PID means another process here: neither its liveness nor its listener can be told.
      review.unjudged.push(allocation);
      continue;
    }
    const onPort = byPort.get(allocation.port) ?? [];
    if (onPort.length === 0) {
      review.unlistened.push(allocation);
      continue;
    }
    const owner = allocation.owner;
    // An owner of another namespace has another PID here than the one recorded: no listener can be told its own.
    if (owner.kind !== 'process' || isForeignOwner(owner, facts)) continue;
    const stranger = onPort.find((l) => l.pid !== undefined && !ancestry(l.pid).includes(owner.pid));
    if (stranger) review.foreign.push({ allocation, listener: stranger as ListenerFact & { pid: number } });
  }
  return review;
}
