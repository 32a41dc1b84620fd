import { StyxyError } from '../errors';
import { isSingleInstance } from '../core/allocation';
import { findNameProblem } from '../core/names';
import type { Allocation } from '../core/types';
import { ownValue } from '../core/types';
import type { TransactionContext } from '../store/transaction';
import { withLiveState } from './context';

export interface ListedAllocation extends Allocation {
  singleInstance: boolean;
  /** Present when its owner cannot be judged from here: "cannot judge: owner in PID namespace N". */
  ownerNote?: string;
}

export interface ListResult {
  success: true;
  allocations: ListedAllocation[];
  pruned: number;
}

/** `styxy list`: the live allocations (dead owners are pruned first), by port. */
export async function runList(ctx: TransactionContext, input: { serviceType?: string }): Promise<ListResult> {
  if (input.serviceType !== undefined) {
    const problem = findNameProblem(input.serviceType, 'service type');
    if (problem) throw new StyxyError('INVALID_ARGUMENT', problem);
  }
  const { result } = await withLiveState<ListResult>(
    ctx,
    ({ config, state, pruned, unjudged }) => {
      const notes = new Map(unjudged.map((a) => [a.lockId, `cannot judge: owner in PID namespace ${a.owner.kind === 'process' ? a.owner.pidNs : '?'}`]));
      const allocations = state.allocations
        .filter((a) => input.serviceType === undefined || a.serviceType === input.serviceType)
        .sort((a, b) => a.port - b.port)
        .map((a) => {
          const note = notes.get(a.lockId);
          return { ...a, singleInstance: isSingleInstance(ownValue(config.config.service_types, a.serviceType)), ...(note && { ownerNote: note }) };
        });
      return { result: { success: true, allocations, pruned: pruned.length } };
    },
    { configOptional: true },
  );
  return result;
}
