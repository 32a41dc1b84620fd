import { StyxyError, isStyxyError } from '../errors';
import type { AllocationRequest } from '../core/allocation';
import { findEnvNameArgClash } from '../core/env-contract';
import type { Config } from '../core/types';
import { ownValue } from '../core/types';
import type { TransactionContext } from '../store/transaction';
import { answerQuestions, done, type Ask, type Asker, type Attempt, type Question } from './confirmation';
import { withLiveState } from './context';
import { settleGraceLease } from './owner';
import type { AcceptedRanges, AllocateInput, AllocateResult } from './allocate-shapes';
import { buildRequest, checkAllocateInput, graceMs } from './allocate-request';
import { allocateStep, askRange, type Unconfirmed } from './allocate-step';
import { withListening, type AllocateStep, type StepView } from './allocate-outcomes';

export interface AllocateBatchInput extends Omit<AllocateInput, 'serviceType' | 'port' | 'waitReadyMs' | 'block'> {
  /** The types to allocate together, in order; the instance id, if any, applies to each. */
  serviceTypes: readonly string[];
  /** One instance id per type, in the same order (a stack's service names): then a type may come more than once. */
  instanceIds?: readonly string[];
  /** A port to try first for each type, in the same order (a compose file's own host ports); undefined for none. */
  ports?: readonly (number | undefined)[];
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
 * the transaction writes nothing and the error names that type. New types that need a yes are
 * asked of `ask` one at a time, each attempt carrying the ranges accepted so far.
 */
export async function runAllocateBatch(ctx: TransactionContext, input: AllocateBatchInput, ask?: Asker): Promise<AllocateBatchResult> {
  checkAllocateBatchInput(input);
  // The project and the owner are found once, before the lock: every type of the batch shares them.
  const sticky = input.instanceId !== undefined || (input.instanceIds?.length ?? 0) > 0;
  const shared = buildRequest(ctx, input, input.serviceTypes[0] as string, sticky);
  const result = await answerQuestions((accepted: AcceptedRanges | undefined) => batchLocked(ctx, input, shared, accepted), ask);
  return { ...result, allocations: await Promise.all(result.allocations.map(withListening)) };
}

/** One attempt of a batch, in one transaction: every allocation, or the question of the first new type that needs a yes (nothing written). */
async function batchLocked(
  ctx: TransactionContext,
  input: AllocateBatchInput,
  shared: AllocationRequest,
  accepted: AcceptedRanges | undefined,
): Promise<Attempt<AllocateBatchResult, AcceptedRanges>> {
  const { result } = await withLiveState<Attempt<AllocateBatchResult, AcceptedRanges>>(
    ctx,
    async ({ config, state, pruned, starting, owners }) => {
      if (input.envName !== undefined) checkEnvNameArg(input.envName, input.serviceTypes, config.config);
      const owner = settleGraceLease(shared.owner, graceMs(config), ctx.now());
      const chained = await chainSteps(ctx, input, { ...shared, owner }, { config, state, pruned: pruned.length, starting, owners }, accepted);
      if (chained.kind === 'ask') return { result: chained };
      const { steps, view } = chained;
      // Each accepted range builds on the config before it, so the last user layer holds them all.
      const userConfig = [...steps].reverse().find((step) => step.writes.userConfig)?.writes.userConfig;
      const afterCommits = steps.flatMap((step) => (step.writes.afterCommit ? [step.writes.afterCommit] : []));
      const allocations = steps.map((step) => step.result);
      return {
        result: done({ success: true as const, allocations, pruned: pruned.length, ...(input.dryRun && { dryRun: true as const }) }),
        state: view.state,
        ...(userConfig && { userConfig }),
        ...(afterCommits.length > 0 && { afterCommit: () => afterCommits.forEach((run) => run()) }),
        audit: steps.flatMap((step) => step.audit),
      };
    },
    { write: (answer) => !input.dryRun && answer.kind === 'done' },
  );
  return result;
}

/** The batch's steps in order, each seeing the config and state the ones before it left; or the first type's question. */
async function chainSteps(
  ctx: TransactionContext,
  input: AllocateBatchInput,
  shared: AllocationRequest,
  first: StepView,
  accepted: AcceptedRanges | undefined,
): Promise<{ kind: 'steps'; steps: AllocateStep[]; view: StepView } | Ask<AcceptedRanges>> {
  let view = first;
  const steps: AllocateStep[] = [];
  for (const [i, serviceType] of input.serviceTypes.entries()) {
    const instanceId = input.instanceIds?.[i];
    const port = input.ports?.[i];
    const request = { ...shared, serviceType, ...(instanceId !== undefined && { instanceId }), ...(port !== undefined && { port }) };
    let step: AllocateStep | Unconfirmed;
    try {
      step = await allocateStep(ctx, input, request, view, accepted?.[serviceType]);
    } catch (err) {
      throw input.serviceTypes.length > 1 ? inBatch(err, serviceType, input.serviceTypes) : err;
    }
    if ('unconfirmed' in step) return askInBatch(askRange(step, accepted), serviceType, input.serviceTypes);
    steps.push(step);
    view = { ...view, config: step.config, state: step.state };
  }
  return { kind: 'steps', steps, view };
}

/** A batch's question: when nobody answers, or the answer is no, the failure names the type, as any failure of a batch does. */
function askInBatch(attempt: Ask<AcceptedRanges>, serviceType: string, serviceTypes: readonly string[]): Ask<AcceptedRanges> {
  if (serviceTypes.length <= 1) return attempt;
  const unanswered = inBatch(attempt.question.unanswered, serviceType, serviceTypes) as StyxyError;
  const { declined } = attempt.question;
  const question: Question = {
    ...attempt.question,
    unanswered,
    declined: new StyxyError(declined.code, declined.message, { details: unanswered.details, suggestions: declined.suggestions }),
  };
  return { ...attempt, question };
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
