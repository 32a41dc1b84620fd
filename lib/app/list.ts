import { StyxyError } from '../errors';
import { isSingleInstance } from '../core/allocation';
import { findNameProblem } from '../core/names';
import { describeUnjudged, findOwnerHostPid } from '../core/prune';
import type { Allocation } from '../core/types';
import { ownValue } from '../core/types';
import type { TransactionContext } from '../store/transaction';
import { withLiveState } from './context';
import { withUsers } from './users';

export interface ListedAllocation extends Allocation {
  singleInstance: boolean;
  /** Present when its owner cannot be judged from here: "cannot judge: owner in PID namespace N". */
  ownerNote?: string;
  /** On the host, for an owner recorded in a container: its PID on the host (owner.pid is the container's). */
  ownerHostPid?: number;
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
    ({ config, state, pruned, unjudged, owners }) => {
      const notes = new Map(unjudged.map((a) => [a.lockId, describeUnjudged(a.owner)]));
      const allocations = state.allocations
        .filter((a) => input.serviceType === undefined || a.serviceType === input.serviceType)
        .sort((a, b) => a.port - b.port)
        .map((a) => {
          const note = notes.get(a.lockId);
          const hostPid = findOwnerHostPid(a.owner, owners);
          return {
            ...a,
            singleInstance: isSingleInstance(ownValue(config.config.service_types, a.serviceType)),
            ...(note && { ownerNote: note }),
            ...(hostPid !== undefined && { ownerHostPid: hostPid }),
          };
        });
      return { result: { success: true, allocations: withUsers(ctx, allocations), pruned: pruned.length } };
    },
    { configOptional: true },
  );
  return result;
}
