import type { Allocation, AllocationUser, Config, FreedPort, Owner, ServiceType, State } from './types';
import { ownValue } from './types';
import { derivePort, type ProjectIdentity } from './origin';
import { orderByReuse } from './port-memory';
import { markSettledPorts } from './settled';
import { isoTime } from './time';

export interface AllocationRequest {
  serviceType: string;
  /** Given by the user: makes the allocation sticky for (type, instance id, project). */
  instanceId?: string;
  /** A specific port to try first. */
  port?: number;
  project: string;
  owner: Owner;
  /** The Unix user asking (recorded on the allocation; none where there are no uids). */
  user?: AllocationUser;
  /**
   * The project's identity across machines: with an instance id, the range is searched from the
   * service's derived home port (core/origin.ts) instead of its start.
   */
  identity?: ProjectIdentity;
  /** The type's preferred ports were set by a project or user config: they come before the derived port. */
  preferredFirst?: boolean;
  /** `--block N`: N contiguous ports (2-100), held and released together; the candidates are then their first ports. */
  block?: number;
  /** Recorded on a new allocation: a free-form label (`--label`) and the session that asked (`--session`). */
  label?: string;
  session?: string;
}

/** Why the requested port was passed over, when it was. */
export interface RequestedPortNote {
  port: number;
  reason: string;
}

export type AllocationPlan =
  /** No such type in the config: auto-allocation decides. */
  | { kind: 'unknown' }
  /** A single-instance type already has a live allocation: hand that back. */
  | { kind: 'existing'; allocation: Allocation; reused: boolean; message: string }
  /** The same type + instance id + project already holds a live allocation. */
  | { kind: 'reused'; allocation: Allocation }
  /** Try these ports in order; the first that the OS also finds free wins. */
  | {
      kind: 'candidates';
      type: ServiceType;
      ports: number[];
      requestedPortNote?: RequestedPortNote;
      /** The caller's remembered home port, tried right after a requested port. */
      homePort?: number;
      /** The sticky service's derived home port (core/origin.ts), where the range's search starts. */
      derivedPort?: number;
      /** Candidates freed lately by another service, tried last: what to say when one is used. */
      cooling?: ReadonlyMap<number, FreedPort>;
    };

export function isSingleInstance(type: ServiceType | undefined): boolean {
  return type?.instance_behavior === 'single';
}

/** The live allocation that a single-instance type's callers share, derived from the state. */
export function findSingletonHolder(state: State, serviceType: string): Allocation | undefined {
  return state.allocations.find((a) => a.serviceType === serviceType);
}

export function singletonMessage(serviceType: string): string {
  return `Service '${serviceType}' only allows single instance`;
}

/**
 * Decides what an allocate call gets, given a state already pruned of dead owners:
 * the running single instance, the caller's own sticky allocation, or the ordered candidate ports
 * (requested port, preferred ports, then the range ascending) that no live allocation holds,
 * reordered by the freed-port memory (see core/port-memory): the caller's home port first, ports
 * another service freed within the cool-down last.
 */
export function planAllocation(config: Config, state: State, request: AllocationRequest, facts: { now: number } = { now: 0 }): AllocationPlan {
  const type = ownValue(config.service_types, request.serviceType);
  if (!type) return { kind: 'unknown' };

  const sticky = request.instanceId === undefined ? undefined : findSticky(state, request);
  if (isSingleInstance(type)) {
    const holder = findSingletonHolder(state, request.serviceType);
    // Its own reservation comes back to the caller as its sticky allocation: nothing runs yet.
    if (holder && !(holder === sticky && isReservedOwner(holder.owner))) {
      return { kind: 'existing', allocation: holder, reused: holder === sticky, message: singletonMessage(request.serviceType) };
    }
  }
  if (sticky) return { kind: 'reused', allocation: sticky };
  return planCandidates(config, state, request, type, facts.now);
}

type CandidatesPlan = Extract<AllocationPlan, { kind: 'candidates' }>;

/** A new allocation's candidates, in the order they are tried, and what to say about them. */
function planCandidates(config: Config, state: State, request: AllocationRequest, type: ServiceType, now: number): CandidatesPlan {
  const held = markHeldPorts(state);
  const { ports: free, requestedPortNote, derived } = orderCandidates(state, request, type, held);
  const ports = request.block !== undefined && request.block > 1 ? blockStarts(free, request.block, request.port, type.port_range[1], held) : free;
  const pinned = request.port !== undefined && ports[0] === request.port ? 1 : 0;
  const asker = {
    serviceType: request.serviceType,
    project: request.project,
    singleInstance: isSingleInstance(type),
    ...(request.instanceId !== undefined && { instanceId: request.instanceId }),
  };
  const order = orderByReuse(ports, pinned, asker, state.recentlyFreed, now, config.port_reuse);
  return {
    kind: 'candidates',
    type,
    ports: order.ports,
    ...(requestedPortNote && { requestedPortNote }),
    ...(order.home !== undefined && { homePort: order.home }),
    ...(derived !== undefined && { derivedPort: derived }),
    ...(order.cooling.size > 0 && { cooling: order.cooling }),
  };
}

/** One byte a port, 1 where a live allocation (or a settled one, by its summary) holds it. */
function markHeldPorts(state: State): Uint8Array {
  // A byte a port: with 50 000 allocations a Map of them took ~5 ms to build, in a call that runs once.
  const held = new Uint8Array(65536);
  for (const allocation of state.allocations) held.fill(1, allocation.port, allocation.port + portCount(allocation));
  // Settled allocations that were not read: their summary says which ports they hold.
  markSettledPorts(held, state.settled);
  return held;
}

/**
 * The ports nobody holds, in the order tried: the requested port, the type's preferred ports
 * (passed over for a derived port, unless the project or user set them), then the range from the
 * derived port (else its start) upward and round from its start.
 */
function orderCandidates(
  state: State,
  request: AllocationRequest,
  type: ServiceType,
  held: Uint8Array,
): { ports: number[]; requestedPortNote?: RequestedPortNote; derived?: number } {
  const ports: number[] = [];
  const seen = new Set<number>();
  const add = (port: number): void => {
    if (!seen.has(port) && held[port] !== 1) ports.push(port);
    seen.add(port);
  };
  let requestedPortNote: RequestedPortNote | undefined;
  if (request.port !== undefined) {
    const holder = held[request.port] === 1 ? findLastHolder(state, request.port) : undefined;
    if (holder) requestedPortNote = { port: request.port, reason: `allocated to ${holder.lockId}` };
    add(request.port);
  }
  const [low, high] = type.port_range;
  const derived =
    request.identity && request.instanceId !== undefined ? derivePort(request.identity, request.serviceType, request.instanceId, type.port_range) : undefined;
  // Built-in preferred ports (3000 for dev) are conventions, not a project's choice: a service
  // with a derived port passes them over, or the first worktree on each machine would take 3000,
  // every collision would fall back on it, and one port per service on every machine would not hold.
  if (derived === undefined || request.preferredFirst) for (const port of type.preferred_ports ?? []) if (port >= low && port <= high) add(port);
  // From the derived port onward, then round from the range's start: the same order on every machine.
  const start = derived ?? low;
  for (let port = start; port <= high; port++) add(port);
  for (let port = low; port < start; port++) add(port);
  return { ports, ...(requestedPortNote && { requestedPortNote }), ...(derived !== undefined && { derived }) };
}

/**
 * A block's candidates are its first ports: each whose `size` ports are all in the range (a
 * requested port may lie outside it) and held by nobody.
 */
function blockStarts(ports: readonly number[], size: number, requested: number | undefined, high: number, held: Uint8Array): number[] {
  const fits = (first: number): boolean => {
    const last = first + size - 1;
    if (last > 65535 || (first !== requested && last > high)) return false;
    for (let port = first; port <= last; port++) if (held[port] === 1) return false;
    return true;
  };
  return ports.filter(fits);
}

/** The last allocation of `port` (there is one at most). */
function findLastHolder(state: State, port: number): Allocation | undefined {
  for (let i = state.allocations.length - 1; i >= 0; i--) {
    const a = state.allocations[i];
    if (a && holdsPort(a, port)) return a;
  }
  return undefined;
}

/** How many ports an allocation holds: one, or its block's. */
export function portCount(a: Pick<Allocation, 'block'>): number {
  return a.block ?? 1;
}

/** Whether `port` is the allocation's, or one of its block's. */
export function holdsPort(a: Pick<Allocation, 'port' | 'block'>, port: number): boolean {
  return port >= a.port && port < a.port + portCount(a);
}

/** Every port an allocation holds, in order. */
export function portsOf(a: Pick<Allocation, 'port' | 'block'>): number[] {
  return Array.from({ length: portCount(a) }, (_, i) => a.port + i);
}

/** An owner that has ended with nothing listening: its allocation is kept only for the grace. */
function isReservedOwner(owner: Owner): boolean {
  return owner.kind === 'process' && owner.reservedUntil !== undefined;
}

function findSticky(state: State, request: AllocationRequest): Allocation | undefined {
  return state.allocations.find(
    (a) => a.serviceType === request.serviceType && a.instanceId === request.instanceId && a.project === request.project && isSameUser(a.user, request.user),
  );
}

/**
 * In a shared home two users' sticky services of one project are two services, each its user's
 * (a single instance is still shared). A record an older Styxy wrote, or made where there are no
 * uids, matches anyone.
 */
function isSameUser(a: AllocationUser | undefined, b: AllocationUser | undefined): boolean {
  return a === undefined || b === undefined || a.uid === b.uid;
}

export interface NewAllocationIds {
  /** Used as the instance id when the request names none. */
  generatedInstanceId: string;
  /** Makes the lock id unique. */
  lockSuffix: string;
}

/** The allocation record for a port the caller has found free. */
export function buildAllocation(request: AllocationRequest, port: number, ids: NewAllocationIds, now: number): Allocation {
  const instanceId = request.instanceId ?? ids.generatedInstanceId;
  return {
    lockId: `${request.serviceType}-${instanceId}-${ids.lockSuffix}`,
    serviceType: request.serviceType,
    instanceId,
    port,
    project: request.project,
    owner: request.owner,
    allocatedAt: isoTime(now),
    ...(request.instanceId !== undefined && { sticky: true as const }),
    ...(request.user && { user: request.user }),
    ...(request.block !== undefined && request.block > 1 && { block: request.block }),
    ...(request.label !== undefined && { label: request.label }),
    ...(request.session !== undefined && { session: request.session }),
  };
}

export function addAllocation(state: State, allocation: Allocation): State {
  return { ...state, allocations: [...state.allocations, allocation] };
}

/** What to tell a user whose type has no free port. */
export function exhaustedSuggestions(serviceType: string, type: ServiceType, types: Readonly<Record<string, ServiceType>> = {}): string[] {
  const [low, high] = type.port_range;
  const wider = planWiderRange(serviceType, types);
  return [
    `See who holds them: styxy list -v -s ${serviceType}; styxy scan --start ${low} --end ${high}`,
    `Release what you no longer need: styxy release <lock id>`,
    wider
      ? `Widen the range: styxy config set service-types.${serviceType}.port-range ${wider[0]}-${wider[1]}`
      : `Give '${serviceType}' a range where there is room, in your config (styxy config path)`,
  ];
}

/** Ports a range may take when widened: never below 1024, where binding needs privileges. */
const LOWEST_WIDENED_PORT = 1024;

/**
 * A wider range for `name` that overlaps no other type's: its own size again (at least 10 ports)
 * above it when there is room, else below it, else as much as the larger free side allows; null
 * when both neighbours touch it. For the hint of RANGE_EXHAUSTED, which must name a command that
 * works as printed.
 */
export function planWiderRange(name: string, types: Readonly<Record<string, ServiceType>>): [number, number] | null {
  const own = ownValue(types, name);
  if (!own) return null;
  const [low, high] = own.port_range;
  const others = Object.entries(types)
    .filter(([n]) => n !== name)
    .map(([, t]) => t.port_range);
  const ceiling = Math.min(65535, ...others.filter(([l]) => l > high).map(([l]) => l - 1));
  const floor = Math.max(LOWEST_WIDENED_PORT - 1, ...others.filter(([, h]) => h < low).map(([, h]) => h));
  // A range that already overlaps another (a config that says so) has no free side to grow into.
  if (others.some(([l, h]) => l <= high && h >= low)) return null;
  const grow = Math.max(high - low + 1, 10);
  const up = Math.max(0, ceiling - high);
  const down = Math.max(0, low - 1 - floor);
  if (up >= grow) return [low, high + grow];
  if (down >= grow) return [low - grow, high];
  if (up === 0 && down === 0) return null;
  return up >= down ? [low, high + up] : [low - down, high];
}

/** What a sticky re-allocation did to its allocation's owner. */
export type OwnerChange = 'hand-over' | 'renew' | 'persist';

/**
 * The owner a sticky re-allocation (same type + instance id + project) leaves on its allocation:
 * `--pid N` hands it to N, `--ttl D` renews the lease to D from now, `--persistent` makes it
 * persistent, and a caller Styxy detected claims an allocation kept only by its reservation
 * grace. A detected caller never takes a live owner's allocation. Null when nothing changes.
 */
export function planOwnerChange(current: Allocation, requested: Owner): { allocation: Allocation; change: OwnerChange } | null {
  const owner = current.owner;
  const change = ((): OwnerChange | null => {
    switch (requested.kind) {
      case 'persistent':
        return owner.kind === 'persistent' ? null : 'persist';
      case 'lease':
        return 'renew';
      case 'process':
        if (requested.detected) return owner.kind === 'process' && owner.reservedUntil !== undefined ? 'hand-over' : null;
        return owner.kind === 'process' && owner.pid === requested.pid && owner.startTime === requested.startTime && owner.reservedUntil === undefined
          ? null
          : 'hand-over';
    }
  })();
  return change ? { allocation: { ...current, owner: requested }, change } : null;
}

/** The state with the allocation of the same lock id replaced, every other one as it was. */
export function replaceAllocation(state: State, allocation: Allocation): State {
  return { ...state, allocations: state.allocations.map((a) => (a.lockId === allocation.lockId ? allocation : a)) };
}
