import path = require('path');
import { StyxyError, isStyxyError } from '../errors';
import { randomHex } from '../os/random';
import { callerUser } from '../os/identity';
import {
  addAllocation,
  buildAllocation,
  exhaustedSuggestions,
  isSingleInstance,
  planAllocation,
  planOwnerChange,
  portsOf,
  replaceAllocation,
  type AllocationPlan,
  type AllocationRequest,
  type OwnerChange,
} from '../core/allocation';
import { findLabelProblem, findNameProblem, findSessionProblem } from '../core/names';
import { urlFor, type HostStyle } from '../core/url';
import { findEnvNameArgClash } from '../core/env-contract';
import type { RangeProposal } from '../core/range-placement';
import type { Allocation, AllocationUser, Config, ConfigLayer, FreedPort, Owner, State } from '../core/types';
import { ownValue } from '../core/types';
import { findFirstFreeBlock, findFirstFreePort, probePortFree, waitForPort } from '../os/ports';
import { findProjectRoot, readProjectIdentity } from '../os/project';
import { identityWithName } from '../core/origin';
import type { AuditInput } from '../store/audit-log';
import { BUILT_IN, type LoadedConfig } from '../store/config-files';
import type { TransactionContext } from '../store/transaction';
import { acceptProposal, confirmationRequired, proposalDetails, proposeRange, type AcceptedRange } from './auto-allocate';
import { withLiveState, type LiveView } from './context';
import { refuseNearMissType } from './near-miss';
import { resolveOwner, settleGraceLease, type OwnerOptions } from './owner';

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
  /** `--block N`: N contiguous ports (2-100) for this one service, all or nothing, released together. */
  block?: number;
  /** How the result's `url` is written; default: the config's `urls.host_style`. */
  hostStyle?: HostStyle;
  /**
   * `run`, and the API's default owner: a sticky reuse or an existing instance comes back as it is,
   * never handed over to `owner`, unless its owner has ended and only a reservation keeps it.
   */
  keepFound?: boolean;
  /** A free-form label recorded on a new allocation (an agent's name, a branch): shown by list and why. */
  label?: string;
  /** The session that asks (`claude-code:<id>`), recorded on a new allocation: `styxy stop --session` ends them all. */
  session?: string;
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
  /** The Unix user that made it (an existing instance's may be another's, in a shared home). */
  user?: AllocationUser;
  /** With a block (`--block N`): every port it holds, `port` first. */
  ports?: number[];
  label?: string;
  session?: string;
  existing: boolean;
  reused: boolean;
  /**
   * Something already listens on the port: probed for an allocation found (a sticky reuse, an
   * existing instance), so a start script can tell its server already runs; false for a new one,
   * whose port was just found free.
   */
  listening: boolean;
  /** Where the service is reached: `http://localhost:PORT`, or the subdomain style (core/url.ts). */
  url: string;
  /** The type's own names for its port and URL variables (`env` in its config), when it has them. */
  envNames?: { port?: string; url?: string };
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
  /** The port is the sticky service's derived home port: the same on every machine while it is free. */
  derivedPort?: true;
  /** The port was freed lately by another service and still cooling: used because nothing else was free. */
  cooling?: CoolingNote;
  /**
   * The holder found has not started listening yet: the server a `run` (or a caller) that has
   * ended left starting (`existingPid` is then that server's process, or null when unknown).
   */
  starting?: true;
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
  const problem =
    findNameProblem(input.serviceType, 'service type') ??
    (input.instanceId === undefined ? null : findNameProblem(input.instanceId, 'instance id')) ??
    (input.label === undefined ? null : findLabelProblem(input.label)) ??
    (input.session === undefined ? null : findSessionProblem(input.session));
  if (problem) throw new StyxyError('INVALID_ARGUMENT', problem);
  if (input.block !== undefined && !(Number.isInteger(input.block) && input.block >= 2 && input.block <= MAX_BLOCK)) {
    throw new StyxyError('INVALID_ARGUMENT', `a block is 2 to ${MAX_BLOCK} ports, got ${JSON.stringify(input.block)}`);
  }
}

/** The most ports one `--block` holds. */
export const MAX_BLOCK = 100;

/**
 * `styxy allocate`: prune dead owners, then hand out the running single instance, the caller's
 * sticky allocation, or the first candidate port that no allocation holds and the OS finds free.
 */
export async function runAllocate(ctx: TransactionContext, input: AllocateInput): Promise<AllocateResult> {
  const result = await withListening(await allocateLocked(ctx, input));
  if (!result.existing || input.waitReadyMs === undefined || input.dryRun) return result;
  return waitUntilReady(ctx, input, result, input.waitReadyMs);
}

/** How often `--wait-ready` looks again at the holder it waits for. */
const HOLDER_CHECK_MS = 500;

/**
 * `--wait-ready`, outside the lock: waits until the running instance's port accepts a connection.
 * Every HOLDER_CHECK_MS the allocation is asked for again, so that a holder that has gone (its
 * server crashed, its run ended) is noticed at once: the caller then gets what a fresh allocate
 * gives (its own allocation, `existing: false`: it is the one to start the service), and never
 * waits out the timeout for a service that is not coming.
 */
async function waitUntilReady(ctx: TransactionContext, input: AllocateInput, first: AllocateResult, waitReadyMs: number): Promise<AllocateResult> {
  const started = Date.now();
  const deadline = started + waitReadyMs;
  let current = first;
  for (;;) {
    const left = deadline - Date.now();
    if (await waitForPort(current.port, Math.max(0, Math.min(HOLDER_CHECK_MS, left)))) {
      return { ...current, listening: true, ready: true, waitedMs: Date.now() - started };
    }
    if (Date.now() >= deadline) break;
    current = await withListening(await allocateLocked(ctx, input));
    if (!current.existing) return current;
  }
  throw new StyxyError(
    'WAIT_TIMEOUT',
    `Service '${current.serviceType}' is ${current.starting ? 'starting' : 'running'} as instance '${current.existingInstanceId}' on port ${current.port}, but nothing accepted a connection within ${(waitReadyMs / 1000).toFixed(1)} s`,
    {
      details: { port: current.port, lockId: current.lockId, existingInstanceId: current.existingInstanceId, existingPid: current.existingPid },
      suggestions: [`See what holds it: styxy check ${current.port}`, `If that instance is stuck, release it: styxy release ${current.lockId}`],
    },
  );
}

/**
 * Whether something listens on the port of an allocation that was found rather than made, probed
 * outside the lock. A new allocation's port was found free a moment ago: it is not probed again.
 */
async function withListening(result: AllocateResult): Promise<AllocateResult> {
  if (!result.reused && !result.existing) return result;
  return { ...result, listening: !(await probePortFree(result.port)) };
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
    async ({ config, state, pruned, starting }) => {
      const settled = { ...request, owner: settleGraceLease(request.owner, graceMs(config), ctx.now()) };
      const step = await allocateStep(ctx, input, settled, { config, state, pruned: pruned.length, starting }, input.acceptedRange);
      return { result: step.result, state: step.state, ...step.writes, audit: step.audit };
    },
    { write: !input.dryRun, summaryWillDo: (config) => needsOnlyFreePorts(config.config, request) },
  );
  return result;
}

/**
 * A new port of a configured, multi-instance type, asked for without an instance id or a port,
 * is decided by which ports are taken alone: no allocation of the type is looked up. The settled
 * allocations' summary then says all they would (see core/settled.ts).
 */
function needsOnlyFreePorts(config: Config, request: AllocationRequest): boolean {
  const type = ownValue(config.service_types, request.serviceType);
  return type !== undefined && !isSingleInstance(type) && request.instanceId === undefined && request.port === undefined;
}

export interface AllocateBatchInput extends Omit<AllocateInput, 'serviceType' | 'port' | 'acceptedRange' | 'waitReadyMs' | 'block'> {
  /** The types to allocate together, in order; the instance id, if any, applies to each. */
  serviceTypes: readonly string[];
  /** One instance id per type, in the same order (a stack's service names): then a type may come more than once. */
  instanceIds?: readonly string[];
  /** A port to try first for each type, in the same order (a compose file's own host ports); undefined for none. */
  ports?: readonly (number | undefined)[];
  /** Ranges the user has confirmed, by type: an auto-allocation goes ahead only if its proposal is still this. */
  acceptedRanges?: Readonly<Record<string, readonly [number, number]>>;
  /** The variable the caller will export the first port as (`--env-name`): refused when it is a type's own name. */
  envName?: string;
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
  if (input.instanceIds !== undefined && input.instanceIds.length !== input.serviceTypes.length) {
    throw new StyxyError('INTERNAL', 'A batch needs one instance id per service type');
  }
  const seen = new Set<string>();
  for (const [i, serviceType] of input.serviceTypes.entries()) {
    const instanceId = input.instanceIds?.[i];
    checkAllocateInput({ ...input, serviceType, ...(instanceId !== undefined && { instanceId }) });
    if (instanceId !== undefined) {
      const key = `${serviceType}\0${instanceId}`;
      if (seen.has(key))
        throw new StyxyError('INVALID_ARGUMENT', `'${serviceType}' instance '${instanceId}' is given twice`, { details: { serviceType, instanceId } });
      seen.add(key);
      continue;
    }
    if (seen.has(serviceType))
      throw new StyxyError('INVALID_ARGUMENT', `Service type '${serviceType}' is given twice; each type is allocated once per call`, {
        details: { serviceType },
      });
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
    async ({ config, state, pruned, starting }) => {
      if (input.envName !== undefined) checkEnvNameArg(input.envName, input.serviceTypes, config.config);
      let view: StepView = { config, state, pruned: pruned.length, starting };
      const owner = settleGraceLease(shared.owner, graceMs(config), ctx.now());
      const steps: AllocateStep[] = [];
      for (const [i, serviceType] of input.serviceTypes.entries()) {
        const instanceId = input.instanceIds?.[i];
        const port = input.ports?.[i];
        let step: AllocateStep;
        try {
          step = await allocateStep(
            ctx,
            input,
            { ...shared, owner, serviceType, ...(instanceId !== undefined && { instanceId }), ...(port !== undefined && { port }) },
            view,
            input.acceptedRanges?.[serviceType],
          );
        } catch (err) {
          throw input.serviceTypes.length > 1 ? inBatch(err, serviceType, input.serviceTypes) : err;
        }
        steps.push(step);
        view = { ...view, config: step.config, state: step.state };
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
  return { ...result, allocations: await Promise.all(result.allocations.map(withListening)) };
}

/** INVALID_ARGUMENT, before anything is planned, when `--env-name` is a batch type's own variable (findEnvNameArgClash). */
function checkEnvNameArg(envName: string, serviceTypes: readonly string[], config: Config): void {
  const types = serviceTypes.map((serviceType) => ({ serviceType, ...ownValue(config.service_types, serviceType)?.env }));
  const clash = findEnvNameArgClash(envName, types);
  if (!clash) return;
  throw new StyxyError(
    'INVALID_ARGUMENT',
    `--env-name ${envName} is already the ${clash.key} variable of service type '${clash.serviceType}' (its config's env)`,
    {
      details: { variable: envName, serviceType: clash.serviceType },
      suggestions: ['Choose another --env-name, or leave it out'],
    },
  );
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

function withUser(user: AllocationUser | null): { user?: AllocationUser } {
  return user ? { user } : {};
}

const graceMs = (config: LoadedConfig): number => config.config.lifetime.reservation_grace_seconds * 1000;

function buildRequest(ctx: TransactionContext, input: Omit<AllocateInput, 'serviceType'>, serviceType: string): AllocationRequest {
  const project = input.project ? path.resolve(ctx.cwd, input.project) : findProjectRoot(ctx.cwd);
  const request: AllocationRequest = {
    serviceType,
    project,
    owner: resolveOwner(input.owner, ctx.now(), ctx.warn),
    ...withUser(callerUser()),
    ...(input.instanceId !== undefined && { instanceId: input.instanceId }),
    ...(input.port !== undefined && { port: input.port }),
    ...(input.block !== undefined && { block: input.block }),
    ...(input.label !== undefined && { label: input.label }),
    ...(input.session !== undefined && { session: input.session }),
  };
  // Read before the lock, from the repository's files (no git subprocess), and only for a sticky
  // request: its derived home port (core/origin.ts).
  const identity = input.instanceId === undefined ? null : readProjectIdentity(project);
  return identity ? { ...request, identity } : request;
}

/**
 * A project's `name` counts only from the `.styxy.json` at the project's top level: one found
 * higher up (in a home directory, say) would give every repository below it the same name.
 */
function projectName(config: LoadedConfig, project: string): string | undefined {
  return config.projectFile !== null && path.dirname(config.projectFile) === project ? config.projectLayer?.name : undefined;
}

/** A type's preferred ports that a project or user config set come before a derived port; the built-in ones after it. */
function withIdentity(request: AllocationRequest, config: LoadedConfig): AllocationRequest {
  const identity = request.instanceId === undefined ? undefined : identityWithName(request.identity, projectName(config, request.project));
  if (identity === undefined) return request;
  const preferredSource = config.preferredSources && ownValue(config.preferredSources, request.serviceType);
  return { ...request, identity, preferredFirst: preferredSource !== undefined && preferredSource !== BUILT_IN };
}

/** An outcome's step, before allocateStep adds what every outcome's result carries (its origin). */
type OutcomeStep = Omit<AllocateStep, 'result'> & { result: Omit<AllocateResult, 'url' | 'envNames'> };

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

type StepInput = Pick<AllocateInput, 'dryRun' | 'yes' | 'newType' | 'keepFound' | 'hostStyle'>;
type StepView = { config: LoadedConfig; state: State; pruned: number; starting: LiveView['starting'] };
type KnownPlan = Exclude<AllocationPlan, { kind: 'unknown' }>;
type PlanOf<K extends KnownPlan['kind']> = Extract<KnownPlan, { kind: K }>;

/** The type made known: as configured, or given a range by this call, which then plans again. */
interface KnownType {
  config: LoadedConfig;
  plan: KnownPlan;
  auto?: { proposal: RangeProposal; accepted: AcceptedRange };
}

/** What every outcome of one type's allocation carries: the answer's flags, the config, the auto-allocation's writes. */
interface StepBase {
  flags: Pick<AllocateResult, 'autoAllocated' | 'singleInstance' | 'pruned' | 'newRange' | 'autoAllocation' | 'dryRun'>;
  config: LoadedConfig;
  writes: AllocateStep['writes'];
  /** The auto-allocation's event, when there was one: it comes first. */
  audit: AuditInput[];
}

/**
 * Allocates one type against a view of the config and the state, without writing anything:
 * the running single instance, the caller's sticky allocation, or the first candidate port the
 * OS finds free (an unknown type first gets a range). A batch chains these over one transaction.
 */
async function allocateStep(
  ctx: TransactionContext,
  input: StepInput,
  request: AllocationRequest,
  view: StepView,
  acceptedRange: readonly [number, number] | undefined,
): Promise<AllocateStep> {
  const now = ctx.now();
  const known = await makeTypeKnown(ctx, input, request, view, acceptedRange, now);
  const base = stepBase(input, request, view, known);
  const step = await (async () => {
    switch (known.plan.kind) {
      case 'existing':
        return existingInstance(input, request, known.plan, view, base);
      case 'reused':
        return stickyReuse(input, request, known.plan, view, base);
      case 'candidates':
        return newAllocation(request, known.plan, view.state, base, now);
    }
  })();
  return { ...step, result: { ...step.result, ...origin(input, request, step.result.port, known.config.config) } };
}

/**
 * The URL, and the type's own variable names. In the subdomain style the service is named by the
 * instance id the caller gave (`-n web`), else by its type, and the project by its directory's name.
 */
function origin(input: StepInput, request: AllocationRequest, port: number, config: Config): Pick<AllocateResult, 'url' | 'envNames'> {
  const names = ownValue(config.service_types, request.serviceType)?.env;
  const url = urlFor(port, {
    style: input.hostStyle ?? config.urls.host_style,
    name: request.instanceId ?? request.serviceType,
    project: path.basename(request.project),
  });
  return { url, ...(names && (names.port !== undefined || names.url !== undefined) && { envNames: { ...names } }) };
}

/**
 * A configured type is known as it is. An unknown one is refused when it is a near miss of a
 * known one (unless `--new-type`), else given a proposed range, which needs the user's
 * confirmation when the config asks for it; accepted, the type is in the config and is planned again.
 */
async function makeTypeKnown(
  ctx: TransactionContext,
  input: StepInput,
  request: AllocationRequest,
  view: StepView,
  acceptedRange: readonly [number, number] | undefined,
  now: number,
): Promise<KnownType> {
  const plan = planAllocation(view.config.config, view.state, withIdentity(request, view.config), { now });
  if (plan.kind !== 'unknown') return { config: view.config, plan };
  if (!input.newType) refuseNearMissType(request.serviceType, Object.keys(view.config.config.service_types));
  const proposal = await proposeRange(view.config, view.state, request.serviceType);
  checkConfirmed(view.config, input, proposal, acceptedRange);
  const accepted = acceptProposal(ctx, view.config, proposal);
  const replanned = planAllocation(accepted.config.config, view.state, withIdentity(request, accepted.config), { now });
  if (replanned.kind === 'unknown') throw new StyxyError('INTERNAL', `Service type '${request.serviceType}' is still unknown after auto-allocation`);
  return { config: accepted.config, plan: replanned, auto: { proposal, accepted } };
}

/** With require_confirmation on, a proposal goes ahead only with --yes, on a dry run, or when it is the range the user accepted. */
function checkConfirmed(config: LoadedConfig, input: StepInput, proposal: RangeProposal, acceptedRange: readonly [number, number] | undefined): void {
  if (!config.config.auto_allocation.require_confirmation || input.dryRun || input.yes) return;
  if (acceptedRange && acceptedRange[0] === proposal.range[0] && acceptedRange[1] === proposal.range[1]) return;
  throw confirmationRequired(proposal, acceptedRange !== undefined);
}

function stepBase(input: StepInput, request: AllocationRequest, view: StepView, { config, auto }: KnownType): StepBase {
  return {
    flags: {
      autoAllocated: auto !== undefined,
      singleInstance: isSingleInstance(ownValue(config.config.service_types, request.serviceType)),
      pruned: view.pruned,
      ...(auto && { newRange: auto.proposal.range, autoAllocation: proposalDetails(auto.proposal) }),
      ...(input.dryRun && { dryRun: true as const }),
    },
    config,
    // An auto-allocation is written with whatever the allocation turns out to be.
    writes: auto ? { userConfig: auto.accepted.userLayer, ...(auto.accepted.afterCommit && { afterCommit: auto.accepted.afterCommit }) } : {},
    audit: auto ? [auto.accepted.audit] : [],
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

/**
 * A single-instance type already runs: its holder is the answer (re-allocated to the caller when
 * it is the caller's own sticky one). A holder kept only by its reservation is not running: when
 * the caller takes it over, the caller is the one to start the service (`existing: false`); while
 * the server its ended owner started is still starting, it is left to that server.
 */
function existingInstance(input: StepInput, request: AllocationRequest, plan: PlanOf<'existing'>, view: StepView, base: StepBase): OutcomeStep {
  const tree = view.starting.get(plan.allocation.lockId);
  const handOver = plan.reused && !tree ? planHandOver(input, request, plan.allocation) : null;
  const holder = handOver?.allocation ?? plan.allocation;
  const owner = holder.owner;
  if (handOver && isReserved(plan.allocation.owner)) {
    return {
      result: { success: true, ...describe(holder), existing: false, reused: true, listening: false, ...base.flags, ...handOver.answer },
      ...withHandOver(view.state, base, handOver),
    };
  }
  const reserved = isReserved(owner);
  return {
    result: {
      success: true,
      ...describe(holder),
      existing: true,
      reused: plan.reused,
      listening: false,
      ...base.flags,
      ...handOver?.answer,
      existingInstanceId: holder.instanceId,
      // An owner that has ended is named by no PID: not a dead one, not the caller's.
      existingPid: tree ? (tree[0]?.pid ?? null) : owner.kind === 'process' && !reserved ? owner.pid : null,
      ...((tree || reserved) && { starting: true as const }),
      message: reserved
        ? `Service '${holder.serviceType}' only allows a single instance; '${holder.instanceId}' is starting on port ${holder.port} (its owner, PID ${(owner as { pid: number }).pid}, has ended; nothing listens yet)`
        : plan.message,
    },
    ...withHandOver(view.state, base, handOver),
  };
}

const isReserved = (owner: Owner): boolean => owner.kind === 'process' && owner.reservedUntil !== undefined;

/** The same type, instance id and project already hold a port: the caller gets it back. */
function stickyReuse(input: StepInput, request: AllocationRequest, plan: PlanOf<'reused'>, view: StepView, base: StepBase): OutcomeStep {
  // The server an ended `run` started is still starting: it takes the allocation once it listens.
  const tree = view.starting.get(plan.allocation.lockId);
  const handOver = tree ? null : planHandOver(input, request, plan.allocation);
  return {
    result: {
      success: true,
      ...describe(handOver?.allocation ?? plan.allocation),
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

/** The first candidate the OS finds free becomes a new allocation (written unless this is a dry run). */
async function newAllocation(request: AllocationRequest, plan: PlanOf<'candidates'>, state: State, base: StepBase, now: number): Promise<OutcomeStep> {
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
    ...describe(allocation),
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

function describe(
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
