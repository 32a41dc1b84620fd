import { StyxyError } from '../errors';
import { randomHex } from '../os/random';
import {
  addAllocation,
  buildAllocation,
  exhaustedSuggestions,
  planOwnerChange,
  portsOf,
  replaceAllocation,
  type AllocationPlan,
  type AllocationRequest,
} from '../core/allocation';
import type { Allocation, ConfigLayer, FreedPort, Owner, ProcessOwner, State } from '../core/types';
import { findOwnerHostPid, type OwnerFacts } from '../core/prune';
import { findFirstFreeBlock, findFirstFreePort, probePortFree } from '../os/ports';
import type { AuditInput } from '../store/audit-log';
import type { LoadedConfig } from '../store/config-files';
import type { LiveView } from './context';
import type { AllocateInput, AllocateResult, CoolingNote } from './allocate-shapes';

// The outcomes of one type's allocation, each a function of the plan (core/allocation.ts):
// the running single instance, the caller's sticky allocation (handed over where it changes
// owner), or a new port; and the answer each gives.

/** What of the caller's input an outcome looks at. */
export type StepInput = Pick<AllocateInput, 'dryRun' | 'yes' | 'newType' | 'keepFound' | 'hostStyle'>;

/** The config and state one type's step sees: the transaction's, or what the batch's earlier types left. */
export type StepView = { config: LoadedConfig; state: State; pruned: number; starting: LiveView['starting']; owners?: OwnerFacts };

/** A plan of a type the config knows (made known by allocate-step.ts first, when it was not). */
export type KnownPlan = Exclude<AllocationPlan, { kind: 'unknown' }>;

export type PlanOf<K extends KnownPlan['kind']> = Extract<KnownPlan, { kind: K }>;

/** What every outcome of one type's allocation carries: the answer's flags, the config, the auto-allocation's writes. */
export interface StepBase {
  flags: Pick<AllocateResult, 'autoAllocated' | 'singleInstance' | 'pruned' | 'newRange' | 'autoAllocation' | 'dryRun'>;
  config: LoadedConfig;
  writes: AllocateStep['writes'];
  /** The auto-allocation's event, when there was one: it comes first. */
  audit: AuditInput[];
}

/** What one type's allocation decided, inside a transaction: the result and what to write. */
export interface AllocateStep {
  result: AllocateResult;
  /** The state with this allocation in it (unchanged for an existing or reused one, and on a dry run). */
  state: State;
  /** The config as it is after this step (with an auto-allocated type in it). */
  config: LoadedConfig;
  writes: { userConfig?: ConfigLayer; afterCommit?: () => void };
  audit: AuditInput[];
}

/** An outcome's step, before allocateStep adds what every outcome's result carries (its origin). */
export type OutcomeStep = Omit<AllocateStep, 'result'> & { result: Omit<AllocateResult, 'url' | 'envNames'> };

/**
 * A single-instance type already runs: its holder is the answer (re-allocated to the caller when
 * it is the caller's own sticky one). A holder kept only by its reservation is not running: when
 * the caller takes it over, the caller is the one to start the service (`existing: false`); while
 * the server its ended owner started is still starting, it is left to that server.
 */
export function existingInstance(input: StepInput, request: AllocationRequest, plan: PlanOf<'existing'>, view: StepView, base: StepBase): OutcomeStep {
  const tree = view.starting.get(plan.allocation.lockId);
  const handOver = plan.reused && !tree ? planHandOver(input, request, plan.allocation) : null;
  const holder = handOver?.allocation ?? plan.allocation;
  const owner = holder.owner;
  if (handOver && isReserved(plan.allocation.owner)) {
    return {
      result: {
        success: true,
        ...allocationFields(holder),
        outcome: 'claimed',
        existing: false,
        reused: true,
        listening: false,
        ...base.flags,
        ...handOver.answer,
      },
      ...withHandOver(view.state, base, handOver),
    };
  }
  const reserved = isReserved(owner);
  return {
    result: {
      success: true,
      ...allocationFields(holder),
      outcome: 'existing',
      existing: true,
      reused: plan.reused,
      listening: false,
      ...base.flags,
      ...handOver?.answer,
      existingInstanceId: holder.instanceId,
      // An owner that has ended is named by no PID: not a dead one, not the caller's.
      existingPid: tree ? (tree[0]?.pid ?? null) : owner.kind === 'process' && !reserved ? pidHere(owner, view.owners) : null,
      ...((tree || reserved) && { starting: true as const }),
      message: reserved
        ? `Service '${holder.serviceType}' only allows a single instance; '${holder.instanceId}' is starting on port ${holder.port} (its owner, PID ${(owner as { pid: number }).pid}, has ended; nothing listens yet)`
        : plan.message,
    },
    ...withHandOver(view.state, base, handOver),
  };
}

/**
 * The owner's PID as this caller numbers it: one recorded in another PID namespace is another
 * process here under that number (PID 2 on the host is a kernel thread), so it is named by its
 * host PID where the caller sees it (the host), else by none.
 */
function pidHere(owner: ProcessOwner, owners: OwnerFacts | undefined): number | null {
  if (owner.pidNs === undefined || !owners?.pidNs || owner.pidNs === owners.pidNs) return owner.pid;
  return findOwnerHostPid(owner, owners) ?? null;
}

const isReserved = (owner: Owner): boolean => owner.kind === 'process' && owner.reservedUntil !== undefined;

/** The same type, instance id and project already hold a port: the caller gets it back. */
export function stickyReuse(input: StepInput, request: AllocationRequest, plan: PlanOf<'reused'>, view: StepView, base: StepBase): OutcomeStep {
  // The server an ended `run` started is still starting: it takes the allocation once it listens.
  const tree = view.starting.get(plan.allocation.lockId);
  const handOver = tree ? null : planHandOver(input, request, plan.allocation);
  return {
    result: {
      success: true,
      ...allocationFields(handOver?.allocation ?? plan.allocation),
      // Taken over from an owner that had ended: the caller's now, as if it had made it.
      outcome: handOver && isReserved(plan.allocation.owner) ? 'claimed' : 'reused',
      existing: false,
      reused: true,
      listening: false,
      ...base.flags,
      ...handOver?.answer,
      ...(tree && { starting: true as const, existingPid: tree[0]?.pid ?? null }),
    },
    ...withHandOver(view.state, base, handOver),
  };
}

/** A sticky re-allocation that changes the owner (hand-over, renewal, made persistent): the new record, what to say, what to log. */
interface HandOver {
  allocation: Allocation;
  answer: Pick<AllocateResult, 'ownerChange' | 'previousOwner'>;
  audit: AuditInput;
}

/**
 * A found allocation stays with its owner when `run` keeps what it found, unless that owner has
 * ended and only its reservation keeps it: then the caller, who is about to use the port, takes it over.
 */
function planHandOver(input: StepInput, request: AllocationRequest, current: Allocation): HandOver | null {
  if (input.keepFound && !(current.owner.kind === 'process' && current.owner.reservedUntil !== undefined)) return null;
  const planned = planOwnerChange(current, request.owner);
  if (!planned) return null;
  const { allocation, change } = planned;
  return {
    allocation,
    answer: { ownerChange: change, previousOwner: current.owner },
    audit: {
      action: change,
      serviceType: allocation.serviceType,
      lockId: allocation.lockId,
      port: allocation.port,
      instanceId: allocation.instanceId,
      from: current.owner,
      to: allocation.owner,
    },
  };
}

/** The found allocation, handed over when it changed owner; the state and the log say so. */
function withHandOver(state: State, base: StepBase, handOver: HandOver | null): Pick<AllocateStep, 'state' | 'config' | 'writes' | 'audit'> {
  return {
    state: handOver ? replaceAllocation(state, handOver.allocation) : state,
    config: base.config,
    writes: base.writes,
    audit: [...base.audit, ...(handOver ? [handOver.audit] : [])],
  };
}

/** The first candidate the OS finds free becomes a new allocation (written unless this is a dry run). */
export async function newAllocation(request: AllocationRequest, plan: PlanOf<'candidates'>, state: State, base: StepBase, now: number): Promise<OutcomeStep> {
  const port = request.block ? await findFirstFreeBlock(plan.ports, request.block) : await findFirstFreePort(plan.ports);
  if (port === undefined) throw noFreePort(request, plan, base);
  const allocation = buildAllocation(request, port, newIds(), now);
  return {
    result: newAllocationResult(request, plan, allocation, base, now),
    // Also on a dry run: a batch's next step must see this port taken. A dry run writes no state.
    state: addAllocation(state, allocation),
    config: base.config,
    writes: base.writes,
    audit: [
      ...base.audit,
      {
        action: 'allocate',
        serviceType: allocation.serviceType,
        lockId: allocation.lockId,
        port,
        instanceId: allocation.instanceId,
        project: allocation.project,
      },
    ],
  };
}

/** Every candidate is taken: a new range that is already full fails its auto-allocation, a configured one is exhausted. */
function noFreePort(request: AllocationRequest, plan: PlanOf<'candidates'>, base: StepBase): StyxyError {
  const { serviceType } = request;
  const [low, high] = plan.type.port_range;
  if (request.block && !base.flags.autoAllocated) {
    return new StyxyError('RANGE_EXHAUSTED', `No ${request.block} contiguous free ports for '${serviceType}' in ${low}-${high}; nothing was allocated`, {
      suggestions: exhaustedSuggestions(serviceType, plan.type, base.config.config.service_types),
      details: { serviceType, range: [low, high], block: request.block },
    });
  }
  if (base.flags.autoAllocated) {
    return new StyxyError('AUTO_ALLOCATION_FAILED', `Every port of the new range ${low}-${high} for '${serviceType}' is in use; nothing was written`, {
      details: { serviceType, range: [low, high] },
      suggestions: [`See what holds them: styxy scan --start ${low} --end ${high}`, 'Try again: the next proposal avoids them'],
    });
  }
  return new StyxyError('RANGE_EXHAUSTED', `No free port for '${serviceType}' in ${low}-${high}`, {
    suggestions: exhaustedSuggestions(serviceType, plan.type, base.config.config.service_types),
    details: { serviceType, range: [low, high] },
  });
}

function newAllocationResult(
  request: AllocationRequest,
  plan: PlanOf<'candidates'>,
  allocation: Allocation,
  base: StepBase,
  now: number,
): OutcomeStep['result'] {
  const { port } = allocation;
  const range = plan.type.port_range;
  const note =
    request.port !== undefined && port !== request.port
      ? `port ${request.port} is ${plan.requestedPortNote?.reason ?? 'in use by another program'}; allocated ${port} instead`
      : outsideRangeNote(request.serviceType, port, range);
  const cooling = plan.cooling?.get(port);
  return {
    success: true,
    ...allocationFields(allocation),
    outcome: 'new',
    existing: false,
    reused: false,
    listening: false,
    ...base.flags,
    ...(request.port !== undefined && { requestedPort: request.port }),
    ...(note && { requestedPortNote: note }),
    ...(plan.homePort === port && { homePort: true as const }),
    ...(plan.derivedPort === port && { derivedPort: true as const }),
    ...(cooling && { cooling: coolingNote(cooling, now, base.config.config.port_reuse.cooldown_seconds, range) }),
    ...(base.flags.autoAllocated && { message: `New service type '${request.serviceType}' auto-configured` }),
  };
}

/** A port given with --port outside the type's range is granted (the user named it), and said so, so that a mistyped -p does not pass unnoticed. */
function outsideRangeNote(serviceType: string, port: number, [low, high]: readonly [number, number]): string | undefined {
  if (port >= low && port <= high) return undefined;
  return `port ${port} is outside the range of '${serviceType}' (${low}-${high}); allocated it as asked`;
}

/** What the output says when a port still cooling from another service had to be used. */
function coolingNote(freed: FreedPort, now: number, cooldownSeconds: number, range: [number, number]): CoolingNote {
  const freedSecondsAgo = Math.max(0, Math.round((now - Date.parse(freed.freedAt)) / 1000));
  return {
    freedAt: freed.freedAt,
    freedSecondsAgo,
    cooldownSeconds,
    previousHolder: { serviceType: freed.serviceType, instanceId: freed.instanceId, project: freed.project },
    message: `port ${freed.port} was freed ${freedSecondsAgo} s ago by ${freed.serviceType} '${freed.instanceId}' and is still in its ${cooldownSeconds} s cool-down; it was used because every other port of ${range[0]}-${range[1]} is taken`,
  };
}

function allocationFields(
  a: Allocation,
): Pick<AllocateResult, 'port' | 'lockId' | 'serviceType' | 'instanceId' | 'project' | 'owner' | 'allocatedAt' | 'ports' | 'label' | 'session' | 'user'> {
  return {
    port: a.port,
    ...(a.block !== undefined && { ports: portsOf(a) }),
    lockId: a.lockId,
    serviceType: a.serviceType,
    instanceId: a.instanceId,
    project: a.project,
    owner: a.owner,
    allocatedAt: a.allocatedAt,
    ...(a.label !== undefined && { label: a.label }),
    ...(a.session !== undefined && { session: a.session }),
    ...(a.user && { user: a.user }),
  };
}

function newIds(): { generatedInstanceId: string; lockSuffix: string } {
  const hex = randomHex(7);
  return { generatedInstanceId: hex.slice(0, 8), lockSuffix: hex.slice(8) };
}

/**
 * Whether something listens on the port of an allocation that was found rather than made, probed
 * outside the lock. A new allocation's port was found free a moment ago: it is not probed again.
 */
export async function withListening(result: AllocateResult): Promise<AllocateResult> {
  if (result.outcome === 'new') return result;
  return { ...result, listening: !(await probePortFree(result.port)) };
}
