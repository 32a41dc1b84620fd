import path = require('path');
import { StyxyError, isStyxyError } from '../errors';
import { randomHex } from '../os/random';
import {
  addAllocation,
  buildAllocation,
  exhaustedSuggestions,
  isSingleInstance,
  planAllocation,
  planOwnerChange,
  replaceAllocation,
  type AllocationRequest,
  type OwnerChange,
} from '../core/allocation';
import { findNameProblem } from '../core/names';
import type { RangeProposal } from '../core/range-placement';
import type { Allocation, ConfigLayer, FreedPort, Owner, State } from '../core/types';
import { ownValue } from '../core/types';
import { findFirstFreePort, waitForPort } from '../os/ports';
import { findProjectRoot } from '../os/project';
import type { AuditInput } from '../store/audit-log';
import type { LoadedConfig } from '../store/config-files';
import type { TransactionContext } from '../store/transaction';
import { acceptProposal, confirmationRequired, proposalDetails, proposeRange, type AcceptedRange } from './auto-allocate';
import { withLiveState } from './context';
import { refuseNearMissType } from './near-miss';
import { resolveOwner, type OwnerOptions } from './owner';

export interface AllocateInput {
  serviceType: string;
  instanceId?: string;
  port?: number;
  project?: string;
  owner: OwnerOptions;
  dryRun?: boolean;
  /** Accept an auto-allocation without asking, even when require_confirmation is on. */
  yes?: boolean;
  /** The range the user has confirmed; the allocation goes ahead only if the proposal is still this. */
  acceptedRange?: readonly [number, number];
  /** When the answer is an already running single instance, wait this long for its port to accept connections. */
  waitReadyMs?: number;
  /** Create an unknown type even when it is a near miss of a known one (`--new-type`). */
  newType?: boolean;
  /**
   * `run`, and the API's default owner: a sticky reuse or an existing instance comes back as it is,
   * never handed over to `owner`, unless its owner has ended and only a reservation keeps it.
   */
  keepFound?: boolean;
}

export interface AllocateResult {
  success: true;
  port: number;
  lockId: string;
  serviceType: string;
  instanceId: string;
  project: string;
  owner: Owner;
  allocatedAt: string;
  existing: boolean;
  reused: boolean;
  autoAllocated: boolean;
  singleInstance: boolean;
  pruned: number;
  dryRun?: true;
  /** With autoAllocated: the range the new type was given, and how it was placed. */
  newRange?: [number, number];
  autoAllocation?: ReturnType<typeof proposalDetails>;
  existingInstanceId?: string;
  existingPid?: number | null;
  requestedPort?: number;
  /** Why the requested port was not given, when it was not. */
  requestedPortNote?: string;
  message?: string;
  /** A sticky re-allocation that changed the owner: handed over (--pid, or a reservation claimed), renewed (--ttl), made persistent. */
  ownerChange?: OwnerChange;
  previousOwner?: Owner;
  /** The sticky caller was given back the port it held last (its home port). */
  homePort?: true;
  /** The port was freed lately by another service and still cooling: used because nothing else was free. */
  cooling?: CoolingNote;
  /** With --wait-ready on an existing instance: its port accepted a connection. */
  ready?: true;
  waitedMs?: number;
}

export interface CoolingNote {
  freedAt: string;
  freedSecondsAgo: number;
  cooldownSeconds: number;
  previousHolder: { serviceType: string; instanceId: string; project: string };
  message: string;
}

/** Checks what the user typed, before any lock is taken. */
export function checkAllocateInput(input: AllocateInput): void {
  const problem = findNameProblem(input.serviceType, 'service type') ?? (input.instanceId === undefined ? null : findNameProblem(input.instanceId, 'instance id'));
  if (problem) throw new StyxyError('INVALID_ARGUMENT', problem);
}

/**
 * `styxy allocate`: prune dead owners, then hand out the running single instance, the caller's
 * sticky allocation, or the first candidate port that no allocation holds and the OS finds free.
 */
export async function runAllocate(ctx: TransactionContext, input: AllocateInput): Promise<AllocateResult> {
  const result = await allocateLocked(ctx, input);
  if (!result.existing || input.waitReadyMs === undefined || input.dryRun) return result;
  // Outside the lock: the running instance may take a while to start listening.
  const started = Date.now();
  if (await waitForPort(result.port, input.waitReadyMs)) return { ...result, ready: true, waitedMs: Date.now() - started };
  throw new StyxyError(
    'WAIT_TIMEOUT',
    `Service '${result.serviceType}' is running as instance '${result.existingInstanceId}' on port ${result.port}, but nothing accepted a connection within ${(input.waitReadyMs / 1000).toFixed(1)} s`,
    {
      details: { port: result.port, lockId: result.lockId, existingInstanceId: result.existingInstanceId, existingPid: result.existingPid },
      suggestions: [`See what holds it: styxy check ${result.port}`, `If that instance is stuck, release it: styxy release ${result.lockId}`],
    },
  );
}

/** A port given with --port outside the type's range is granted, and said so (issue 14 item 14). */
function outsideRangeNote(serviceType: string, port: number, [low, high]: readonly [number, number]): string | undefined {
  if (port >= low && port <= high) return undefined;
  return `port ${port} is outside the range of '${serviceType}' (${low}-${high}); allocated it as asked`;
}

async function allocateLocked(ctx: TransactionContext, input: AllocateInput): Promise<AllocateResult> {
  checkAllocateInput(input);
  const request = buildRequest(ctx, input, input.serviceType);
  const { result } = await withLiveState<AllocateResult>(
    ctx,
    async ({ config, state, pruned }) => {
      const step = await allocateStep(ctx, input, request, { config, state, pruned: pruned.length }, input.acceptedRange);
      return { result: step.result, state: step.state, ...step.writes, audit: step.audit };
    },
    { write: !input.dryRun },
  );
  return result;
}

export interface AllocateBatchInput extends Omit<AllocateInput, 'serviceType' | 'port' | 'acceptedRange' | 'waitReadyMs'> {
  /** The types to allocate together, in order; the instance id, if any, applies to each. */
  serviceTypes: readonly string[];
  /** Ranges the user has confirmed, by type: an auto-allocation goes ahead only if its proposal is still this. */
  acceptedRanges?: Readonly<Record<string, readonly [number, number]>>;
}

export interface AllocateBatchResult {
  success: true;
  /** One result per type, in the order asked. */
  allocations: AllocateResult[];
  pruned: number;
  dryRun?: true;
}

/** Checks a batch before any lock is taken: valid names, each type once. */
export function checkAllocateBatchInput(input: AllocateBatchInput): void {
  if (input.serviceTypes.length === 0) throw new StyxyError('INVALID_ARGUMENT', 'Name at least one service type');
  const seen = new Set<string>();
  for (const serviceType of input.serviceTypes) {
    checkAllocateInput({ ...input, serviceType });
    if (seen.has(serviceType)) throw new StyxyError('INVALID_ARGUMENT', `Service type '${serviceType}' is given twice; each type is allocated once per call`, { details: { serviceType } });
    seen.add(serviceType);
  }
}

/**
 * Several types in one transaction, all or nothing: each is allocated as `runAllocate` would,
 * seeing the ports the ones before it took (and the ranges they were given); when any fails,
 * the transaction writes nothing and the error names that type.
 */
export async function runAllocateBatch(ctx: TransactionContext, input: AllocateBatchInput): Promise<AllocateBatchResult> {
  checkAllocateBatchInput(input);
  // The project and the owner are found once, before the lock: every type of the batch shares them.
  const shared = buildRequest(ctx, input, input.serviceTypes[0] as string);
  const { result } = await withLiveState<AllocateBatchResult>(
    ctx,
    async ({ config, state, pruned }) => {
      let view = { config, state, pruned: pruned.length };
      const steps: AllocateStep[] = [];
      for (const serviceType of input.serviceTypes) {
        let step: AllocateStep;
        try {
          step = await allocateStep(ctx, input, { ...shared, serviceType }, view, input.acceptedRanges?.[serviceType]);
        } catch (err) {
          throw input.serviceTypes.length > 1 ? inBatch(err, serviceType, input.serviceTypes) : err;
        }
        steps.push(step);
        view = { config: step.config, state: step.state, pruned: view.pruned };
      }
      // Each accepted range builds on the config before it, so the last user layer holds them all.
      const userConfig = [...steps].reverse().find((step) => step.writes.userConfig)?.writes.userConfig;
      const afterCommits = steps.flatMap((step) => (step.writes.afterCommit ? [step.writes.afterCommit] : []));
      return {
        result: { success: true, allocations: steps.map((step) => step.result), pruned: pruned.length, ...(input.dryRun && { dryRun: true as const }) },
        state: view.state,
        ...(userConfig && { userConfig }),
        ...(afterCommits.length > 0 && { afterCommit: () => afterCommits.forEach((run) => run()) }),
        audit: steps.flatMap((step) => step.audit),
      };
    },
    { write: !input.dryRun },
  );
  return result;
}

/** A batch's failure names the type that failed and says that nothing was allocated. */
function inBatch(err: unknown, serviceType: string, serviceTypes: readonly string[]): unknown {
  if (!isStyxyError(err) || err.code === 'INTERNAL') return err;
  return new StyxyError(err.code, `${err.message} (asked together with ${serviceTypes.filter((t) => t !== serviceType).join(', ')}: nothing was allocated)`, {
    details: { ...err.details, serviceType, serviceTypes: [...serviceTypes] },
    suggestions: err.suggestions,
    cause: err,
  });
}

function buildRequest(ctx: TransactionContext, input: Omit<AllocateInput, 'serviceType'>, serviceType: string): AllocationRequest {
  return {
    serviceType,
    project: input.project ? path.resolve(ctx.cwd, input.project) : findProjectRoot(ctx.cwd),
    owner: resolveOwner(input.owner, ctx.now()),
    ...(input.instanceId !== undefined && { instanceId: input.instanceId }),
    ...(input.port !== undefined && { port: input.port }),
  };
}

/** What one type's allocation decided, inside a transaction: the result and what to write. */
interface AllocateStep {
  result: AllocateResult;
  /** The state with this allocation in it (unchanged for an existing or reused one, and on a dry run). */
  state: State;
  /** The config as it is after this step (with an auto-allocated type in it). */
  config: LoadedConfig;
  writes: { userConfig?: ConfigLayer; afterCommit?: () => void };
  audit: AuditInput[];
}

/**
 * Allocates one type against a view of the config and the state, without writing anything:
 * the running single instance, the caller's sticky allocation, or the first candidate port the
 * OS finds free (an unknown type first gets a range). A batch chains these over one transaction.
 */
async function allocateStep(
  ctx: TransactionContext,
  input: Pick<AllocateInput, 'dryRun' | 'yes' | 'newType' | 'keepFound'>,
  request: AllocationRequest,
  view: { config: LoadedConfig; state: State; pruned: number },
  acceptedRange: readonly [number, number] | undefined,
): Promise<AllocateStep> {
  let config = view.config;
  const now = ctx.now();
  const state = view.state;
  let plan = planAllocation(config.config, state, request, { now });
  let auto: { proposal: RangeProposal; accepted: AcceptedRange } | undefined;
  if (plan.kind === 'unknown') {
    if (!input.newType) refuseNearMissType(request.serviceType, Object.keys(config.config.service_types));
    const proposal = await proposeRange(config, state, request.serviceType);
    if (config.config.auto_allocation.require_confirmation && !input.dryRun && !input.yes) {
      if (!acceptedRange || acceptedRange[0] !== proposal.range[0] || acceptedRange[1] !== proposal.range[1]) throw confirmationRequired(proposal, acceptedRange !== undefined);
    }
    auto = { proposal, accepted: acceptProposal(ctx, config, proposal) };
    config = auto.accepted.config;
    plan = planAllocation(config.config, state, request, { now });
  }
  const types = config.config.service_types;
  const flags = {
    autoAllocated: auto !== undefined,
    singleInstance: isSingleInstance(ownValue(types, request.serviceType)),
    pruned: view.pruned,
    ...(auto && { newRange: auto.proposal.range, autoAllocation: proposalDetails(auto.proposal) }),
    ...(input.dryRun && { dryRun: true as const }),
  };
  // An auto-allocation is written with whatever the allocation turns out to be.
  const writes = auto ? { userConfig: auto.accepted.userLayer, ...(auto.accepted.afterCommit && { afterCommit: auto.accepted.afterCommit }) } : {};
  const autoAudit: AuditInput[] = auto ? [auto.accepted.audit as AuditInput] : [];
  const autoMessage = auto ? { message: `New service type '${request.serviceType}' auto-configured` } : {};
  // A sticky re-allocation may change the owner (hand-over, renewal), unless `run` keeps what it found.
  const ownerChange = (current: Allocation) => {
    // A found allocation stays with its owner, unless that owner has ended and only its
    // reservation keeps it: then the caller, who is about to use the port, takes it over.
    if (input.keepFound && !(current.owner.kind === 'process' && current.owner.reservedUntil !== undefined)) return null;
    const planned = planOwnerChange(current, request.owner);
    if (!planned) return null;
    const { allocation, change } = planned;
    return {
      allocation,
      answer: { ownerChange: change, previousOwner: current.owner },
      audit: { action: change, serviceType: allocation.serviceType, lockId: allocation.lockId, port: allocation.port, instanceId: allocation.instanceId, from: current.owner, to: allocation.owner } as AuditInput,
    };
  };
  switch (plan.kind) {
    case 'unknown':
      throw new StyxyError('INTERNAL', `Service type '${request.serviceType}' is still unknown after auto-allocation`);
    case 'existing': {
      const handOver = plan.reused ? ownerChange(plan.allocation) : null;
      const holder = handOver?.allocation ?? plan.allocation;
      return {
        result: {
          success: true,
          ...describe(holder),
          existing: true,
          reused: plan.reused,
          ...flags,
          ...handOver?.answer,
          existingInstanceId: holder.instanceId,
          existingPid: holder.owner.kind === 'process' ? holder.owner.pid : null,
          message: plan.message,
        },
        state: handOver ? replaceAllocation(state, handOver.allocation) : state,
        config,
        writes,
        audit: [...autoAudit, ...(handOver ? [handOver.audit] : [])],
      };
    }
    case 'reused': {
      const handOver = ownerChange(plan.allocation);
      return {
        result: { success: true, ...describe(handOver?.allocation ?? plan.allocation), existing: false, reused: true, ...flags, ...handOver?.answer },
        state: handOver ? replaceAllocation(state, handOver.allocation) : state,
        config,
        writes,
        audit: [...autoAudit, ...(handOver ? [handOver.audit] : [])],
      };
    }
    case 'candidates': {
      const port = await findFirstFreePort(plan.ports);
      const [low, high] = plan.type.port_range;
      if (port === undefined && auto) {
        throw new StyxyError('AUTO_ALLOCATION_FAILED', `Every port of the new range ${low}-${high} for '${request.serviceType}' is in use; nothing was written`, {
          details: { serviceType: request.serviceType, range: [low, high] },
          suggestions: [`See what holds them: styxy scan --start ${low} --end ${high}`, 'Try again: the next proposal avoids them'],
        });
      }
      if (port === undefined) {
        throw new StyxyError('RANGE_EXHAUSTED', `No free port for '${request.serviceType}' in ${low}-${high}`, {
          suggestions: exhaustedSuggestions(request.serviceType, plan.type, types),
          details: { serviceType: request.serviceType, range: [low, high] },
        });
      }
      const allocation = buildAllocation(request, port, newIds(), now);
      const note =
        request.port !== undefined && port !== request.port
          ? `port ${request.port} is ${plan.requestedPortNote?.reason ?? 'in use by another program'}; allocated ${port} instead`
          : outsideRangeNote(request.serviceType, port, [low, high]);
      const cooling = plan.cooling?.get(port);
      const result: AllocateResult = {
        success: true,
        ...describe(allocation),
        existing: false,
        reused: false,
        ...flags,
        ...(request.port !== undefined && { requestedPort: request.port }),
        ...(note && { requestedPortNote: note }),
        ...(plan.homePort === port && { homePort: true as const }),
        ...(cooling && { cooling: coolingNote(cooling, now, config.config.port_reuse.cooldown_seconds, [low, high]) }),
        ...autoMessage,
      };
      return {
        result,
        state: input.dryRun ? state : addAllocation(state, allocation),
        config,
        writes,
        audit: [
          ...autoAudit,
          { action: 'allocate', serviceType: allocation.serviceType, lockId: allocation.lockId, port, instanceId: allocation.instanceId, project: allocation.project },
        ],
      };
    }
  }
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

function describe(a: Allocation): Pick<AllocateResult, 'port' | 'lockId' | 'serviceType' | 'instanceId' | 'project' | 'owner' | 'allocatedAt'> {
  return { port: a.port, lockId: a.lockId, serviceType: a.serviceType, instanceId: a.instanceId, project: a.project, owner: a.owner, allocatedAt: a.allocatedAt };
}

function newIds(): { generatedInstanceId: string; lockSuffix: string } {
  const hex = randomHex(7);
  return { generatedInstanceId: hex.slice(0, 8), lockSuffix: hex.slice(8) };
}
