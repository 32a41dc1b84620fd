import { StyxyError } from '../errors';
import { isSingleInstance, type AllocationRequest } from '../core/allocation';
import type { Config } from '../core/types';
import { ownValue } from '../core/types';
import { waitForPort } from '../os/ports';
import type { TransactionContext } from '../store/transaction';
import { answerQuestions, done, type Asker, type Attempt } from './confirmation';
import { withLiveState } from './context';
import { settleGraceLease } from './owner';
import type { AcceptedRanges, AllocateInput, AllocateResult } from './allocate-shapes';
import { buildRequest, checkAllocateInput, graceMs } from './allocate-request';
import { allocateStep, askRange } from './allocate-step';
import { withListening } from './allocate-outcomes';

// `styxy allocate`, one type or several (allocate-batch.ts). The work is split by what it does:
// the request settled before the lock (allocate-request.ts), one type's step in the transaction
// (allocate-step.ts), the outcome it comes to (allocate-outcomes.ts), the shapes that go in and
// come out (allocate-shapes.ts). Callers import all of it from here.
export type { AcceptedRanges, AllocateInput, AllocateResult, CoolingNote } from './allocate-shapes';
export { MAX_BLOCK, checkAllocateInput } from './allocate-request';
export { checkAllocateBatchInput, runAllocateBatch, type AllocateBatchInput, type AllocateBatchResult } from './allocate-batch';

/**
 * `styxy allocate`: prune dead owners, then hand out the running single instance, the caller's
 * sticky allocation, or the first candidate port that no allocation holds and the OS finds free.
 * An auto-allocation that needs confirmation is asked of `ask` (answerQuestions); without it, it
 * fails with CONFIRMATION_REQUIRED and nothing is written.
 */
export async function runAllocate(ctx: TransactionContext, input: AllocateInput, ask?: Asker): Promise<AllocateResult> {
  const result = await withListening(await answerQuestions((accepted: AcceptedRanges | undefined) => allocateLocked(ctx, input, accepted), ask));
  if (result.outcome !== 'existing' || input.waitReadyMs === undefined || input.dryRun) return result;
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
    // The type is known by now: a question here means it left the config meanwhile, and none is asked.
    current = await withListening(await answerQuestions(() => allocateLocked(ctx, input, undefined), undefined));
    if (current.outcome !== 'existing') return current;
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

/** One attempt of an allocation, in one transaction: the result, or the question an unconfirmed auto-allocation asks (nothing written). */
async function allocateLocked(
  ctx: TransactionContext,
  input: AllocateInput,
  accepted: AcceptedRanges | undefined,
): Promise<Attempt<AllocateResult, AcceptedRanges>> {
  checkAllocateInput(input);
  const request = buildRequest(ctx, input, input.serviceType);
  const { result } = await withLiveState<Attempt<AllocateResult, AcceptedRanges>>(
    ctx,
    async ({ config, state, pruned, starting, owners }) => {
      const settled = { ...request, owner: settleGraceLease(request.owner, graceMs(config), ctx.now()) };
      const step = await allocateStep(ctx, input, settled, { config, state, pruned: pruned.length, starting, owners }, accepted?.[input.serviceType]);
      if ('unconfirmed' in step) return { result: askRange(step, accepted) };
      return { result: done(step.result), state: step.state, ...step.writes, audit: step.audit };
    },
    { write: (answer) => !input.dryRun && answer.kind === 'done', summaryWillDo: (config) => needsOnlyFreePorts(config.config, request) },
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
