import type { Allocation, State } from '../core/types';
import { ownerPids, pruneAllocations } from '../core/prune';
import { probeLiveProcesses } from '../os/processes';
import { writeErr } from '../os/stdio';
import { resolvePaths } from '../store/paths';
import { withTransactionDetailed, type TransactionCommit, type TransactionContext, type TransactionOptions, type TransactionOutcome } from '../store/transaction';
import type { LoadedConfig } from '../store/config-files';

/** The context of one CLI invocation: where its files are, the clock, where warnings go. */
export function defaultContext(): TransactionContext {
  return {
    paths: resolvePaths(process.env),
    cwd: process.cwd(),
    now: Date.now,
    warn: (message) => writeErr(`${message}\n`),
  };
}

export interface LiveView {
  config: LoadedConfig;
  /** The state without the allocations whose owner is gone. */
  state: State;
  /** The allocations dropped because their owner is gone. */
  pruned: Allocation[];
  /** The state as read, before pruning. */
  stateAsRead: State;
}

export interface LiveStateOptions extends TransactionOptions {
  write?: boolean;
}

/**
 * A transaction in which the state is first pruned of dead and expired owners. When `work`
 * returns no state of its own, the pruned state is written (if anything was pruned), and each
 * pruned allocation is logged, unless the work logs that allocation itself.
 */
export async function withLiveState<T>(
  ctx: TransactionContext,
  work: (view: LiveView) => Promise<TransactionOutcome<T>> | TransactionOutcome<T>,
  options: LiveStateOptions = {},
): Promise<T> {
  return (await withLiveStateDetailed(ctx, work, options)).result;
}

/** withLiveState, also telling what the commit did (where config.json was backed up). */
export async function withLiveStateDetailed<T>(
  ctx: TransactionContext,
  work: (view: LiveView) => Promise<TransactionOutcome<T>> | TransactionOutcome<T>,
  options: LiveStateOptions = {},
): Promise<TransactionCommit<T>> {
  return withTransactionDetailed(ctx, async ({ config, state: stateAsRead }) => {
    const now = ctx.now();
    const { state, pruned } = pruneAllocations(stateAsRead, { now, liveProcesses: probeLiveProcesses(ownerPids(stateAsRead)) });
    const outcome = await work({ config, state, pruned, stateAsRead });
    if (options.write === false) return { result: outcome.result };
    // One event per allocation: one the work itself logs (a release by name of an allocation
    // whose owner just died) says what became of it, not a prune as well.
    const logged = new Set((outcome.audit ?? []).map((event) => event.lockId));
    const pruneEvents = pruned.filter((a) => !logged.has(a.lockId)).map((a) => ({
      action: 'prune',
      serviceType: a.serviceType,
      lockId: a.lockId,
      port: a.port,
      reason: a.owner.kind === 'lease' ? 'lease expired' : 'owner gone',
    }));
    return {
      ...outcome,
      state: outcome.state ?? state,
      audit: [...pruneEvents, ...(outcome.audit ?? [])],
    };
  }, { configOptional: options.configOptional === true });
}
