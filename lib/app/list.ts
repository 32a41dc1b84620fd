import path = require('path');
import { StyxyError } from '../errors';
import { isSingleInstance } from '../core/allocation';
import type { SeenProcess } from '../core/holder';
import { findNameProblem } from '../core/names';
import { describeUnjudged, findOwnerHostPid } from '../core/prune';
import type { Allocation } from '../core/types';
import { ownValue } from '../core/types';
import { findProjectRoot } from '../os/project';
import type { TransactionContext } from '../store/transaction';
import { withLiveState } from './context';

export interface ListedAllocation extends Allocation {
  singleInstance: boolean;
  /** With `verbose`: the process listening on the port (for a `run`, the server it started, not `run`). */
  server?: SeenProcess;
  /** With `verbose`: the owner as it runs now, its whole command line. */
  ownerProcess?: SeenProcess;
  /** Present when its owner cannot be judged from here: "cannot judge: owner in PID namespace N". */
  ownerNote?: string;
  /** On the host, for an owner recorded in a container: its PID on the host (owner.pid is the container's). */
  ownerHostPid?: number;
}

export interface ListResult {
  success: true;
  allocations: ListedAllocation[];
  pruned: number;
  /** With a project: the directory whose allocations these are. */
  project?: string;
}

export interface ListInput {
  serviceType?: string;
  /** Only this project's allocations: '' means the project of the cwd (its git top level, else the cwd). */
  project?: string;
  /** Look up each port's server and each owner's whole command line (reads /proc). */
  verbose?: boolean;
}

/** `styxy list` (and `styxy here`): the live allocations (dead owners are pruned first), by port. */
export async function runList(ctx: TransactionContext, input: ListInput): Promise<ListResult> {
  if (input.serviceType !== undefined) {
    const problem = findNameProblem(input.serviceType, 'service type');
    if (problem) throw new StyxyError('INVALID_ARGUMENT', problem);
  }
  const project = input.project === undefined ? undefined : input.project === '' ? findProjectRoot(ctx.cwd) : path.resolve(ctx.cwd, input.project);
  const { result } = await withLiveState<ListResult>(
    ctx,
    ({ config, state, pruned, unjudged, owners }) => {
      const notes = new Map(unjudged.map((a) => [a.lockId, describeUnjudged(a.owner)]));
      const allocations = state.allocations
        .filter((a) => (input.serviceType === undefined || a.serviceType === input.serviceType) && (project === undefined || a.project === project))
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
      return { result: { success: true, allocations, pruned: pruned.length, ...(project !== undefined && { project }) } };
    },
    { configOptional: true },
  );
  if (input.verbose) await attachProcesses(result.allocations);
  return result;
}

/** The server on each port and each owner's whole command line, read after the lock is released. */
async function attachProcesses(allocations: ListedAllocation[]): Promise<void> {
  if (allocations.length === 0) return;
  const { readListenersOn, readOwnerProcess } = await import('./why');
  const listeners = readListenersOn(new Set(allocations.map((a) => a.port)));
  for (const a of allocations) {
    const server = listeners.get(a.port)?.find((l) => l.process)?.process;
    if (server) a.server = server;
    const owner = readOwnerProcess(a);
    if (owner) a.ownerProcess = owner;
  }
}
