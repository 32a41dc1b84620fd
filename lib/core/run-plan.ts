import { isCallersOwn, type AllocationOutcome } from './outcome';
import type { Owner, ProcessOwner } from './types';

/** The variable `run` sets in its command's environment, which every process started from it inherits. */
export const RUN_MARKER = 'STYXY_RUN_ID';

/**
 * The `STYXY_RUN_ID=…` entry of a `run` owner's tree: made of the run's PID and start time, so that
 * a later call finds the processes a run started from its allocation's owner alone, after the run
 * itself has ended (killed with SIGKILL, say) while its server is still starting.
 */
export function runMarkerEntry(owner: Pick<ProcessOwner, 'pid' | 'startTime'>): string {
  return `${RUN_MARKER}=${owner.pid}.${owner.startTime ?? 'unknown'}`;
}

/** What `run` got from allocate, as far as deciding goes. */
export interface RunAllocation {
  port: number;
  lockId: string;
  /** Made by this run, claimed from an owner that had ended, or found (see AllocationOutcome). */
  outcome: AllocationOutcome;
  owner: Owner;
  /** The found allocation's server is still starting (its `run` has ended, the server has not). */
  starting?: true;
  /** The process found holding it, where allocate named one. */
  existingPid?: number | null;
  /** Its owner was recorded in another PID namespace (a container): its PID is not one of this caller's. */
  ownerElsewhere?: boolean;
}

/** What the OS says about the port of an allocation `run` did not create. */
export interface PortListener {
  /** Something listens on (or holds) the port. */
  busy: boolean;
  /** The listening process, where it could be found. */
  pid?: number;
  command?: string;
}

export type RunPlan =
  /** Start the command; release exactly `release` (what this run created) when it has ended. */
  | { kind: 'start'; release: string[]; keep: string[] }
  /** The service already runs: start nothing, release what this run created just now. */
  | { kind: 'running'; allocation: RunAllocation; pid: number | null; command?: string; release: string[]; listening: boolean };

/**
 * True when this run made the allocation, or took it over from an owner that had ended, and so is
 * the one to release it.
 */
export function isCreatedByRun(a: Pick<RunAllocation, 'outcome'>): boolean {
  return isCallersOwn(a.outcome);
}

/**
 * True when an allocation `run` found is held by a service that may not listen yet: a live `run`
 * owns it (its command may still be starting), or the server of a `run` that ended is starting.
 * A second copy would collide with it.
 */
export function isStarting(a: Pick<RunAllocation, 'owner' | 'starting'>): boolean {
  return a.starting === true || (a.owner.kind === 'process' && a.owner.via === 'run' && a.owner.reservedUntil === undefined);
}

/**
 * Decides what `run` does with its allocations. One it did not create (a sticky reuse or an
 * existing single instance) whose port something already listens on, or that a live `run` owns
 * (its command may still be starting), means the service runs already: nothing is started. Otherwise the command starts on the ports given, and when it ends
 * only the allocations this run created are released; the others are left exactly as they were
 * (persistent, a lease, or a live owner that is not listening yet).
 */
export function planRun(allocations: readonly RunAllocation[], listeners: ReadonlyMap<string, PortListener>): RunPlan {
  const release = allocations.filter(isCreatedByRun).map((a) => a.lockId);
  for (const allocation of allocations) {
    if (isCreatedByRun(allocation)) continue;
    const listener = listeners.get(allocation.lockId);
    // An owner that has ended (kept by its reservation) is not named: its PID is dead. Nor is a
    // `run` or `start` that owns it while its command starts: that is not the server's process.
    const owner = allocation.owner;
    const ownerPid = owner.kind === 'process' && owner.reservedUntil === undefined && owner.via !== 'run' && !allocation.ownerElsewhere ? owner.pid : null;
    const viaRun = owner.kind === 'process' && owner.via === 'run';
    // A live `run` owns it: its command may still be starting, and a second copy would collide.
    if (!listener?.busy && !isStarting(allocation)) continue;
    return {
      kind: 'running',
      allocation,
      pid: listener?.pid ?? ownerPid ?? (viaRun && allocation.starting !== true ? null : allocation.existingPid) ?? null,
      listening: listener?.busy === true,
      ...(listener?.command !== undefined && { command: listener.command }),
      release,
    };
  }
  return { kind: 'start', release, keep: allocations.filter((a) => !isCreatedByRun(a)).map((a) => a.lockId) };
}
