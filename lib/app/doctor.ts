import path = require('path');
import { StyxyError } from '../errors';
import type { Allocation } from '../core/types';
import { attachListenerProcesses, readListeners } from '../os/ports';
import { readProcessStat } from '../os/processes';
import { checkFileSafety, checkHomeSafety } from '../store/home';
import { homeExists, isWritableDir, readDiskSpace, readHomeLeftovers, readRootOwnership } from '../store/home-inspection';
import { loadConfig } from '../store/config-files';
import { inspectLock } from '../store/lock';
import { inspectStateFile, settledFilesIn, type StateFileContent } from '../store/state-file';
import type { TransactionContext } from '../store/transaction';
import { readOwnerFacts } from './context';
import { judgeFacts, type AllocationFacts, type DoctorCheck, type DoctorFacts, type Fact } from './doctor-checks';

export type { CheckStatus, DoctorCheck } from './doctor-checks';

export interface DoctorResult {
  success: true;
  healthy: boolean;
  checks: DoctorCheck[];
}

/**
 * `styxy doctor`: looks at everything Styxy keeps without taking the lock or changing a file
 * (it must work when the lock is stuck). Fails with NEEDS_ATTENTION when a check fails.
 */
export function runDoctor(ctx: TransactionContext): DoctorResult {
  const checks = judgeFacts(gatherFacts(ctx));
  const failed = checks.filter((c) => c.status === 'fail');
  if (failed.length > 0) {
    throw new StyxyError('NEEDS_ATTENTION', `${failed.length} check(s) need attention: ${failed.map((c) => c.name).join(', ')}`, {
      details: { checks },
      suggestions: failed.map((c) => c.remedy).filter((r): r is string => r !== undefined),
    });
  }
  return { success: true, healthy: true, checks };
}

/** Reads a fact, keeping the error it throws as the fact. */
function read<T>(reader: () => T): Fact<T> {
  try {
    return { ok: true, value: reader() };
  } catch (error) {
    return { ok: false, error };
  }
}

/** Everything the checks judge, each read once, in the order they report. */
function gatherFacts(ctx: TransactionContext): DoctorFacts {
  const { paths } = ctx;
  const now = ctx.now();
  const ownership = read(() => readRootOwnership(paths.home));
  const exists = homeExists(paths.home);
  const home = exists ? read(() => readHomeSafety(paths.home)) : null;
  const files = exists
    ? read(() =>
        [paths.state, ...settledFilesIn(paths.home), paths.config, paths.audit].filter((file) => checkFileSafety(file)).map((file) => path.basename(file)),
      )
    : null;
  const config = read(() => loadConfig(paths, ctx.cwd));
  const state = read(() => inspectStateFile(paths, { whole: true }));
  const lock = read(() => inspectLock(paths.lock, now));
  const leftovers = exists ? read(() => readHomeLeftovers(paths.home)) : null;
  const disk = read(() => readDiskSpace(paths.home, [paths.state, paths.config]));
  const recorded = recordedAllocations(state);
  const allocations = recorded.length > 0 ? read(() => readAllocationFacts(recorded, now)) : null;
  return { paths, ownership, home, files, config, state, lock, leftovers, disk, allocations };
}

/** Throws UNSAFE_HOME for a home that is not a private directory of this user's. */
function readHomeSafety(home: string): { writable: boolean } {
  checkHomeSafety(home);
  return { writable: isWritableDir(home) };
}

function recordedAllocations(state: Fact<StateFileContent>): Allocation[] {
  return state.ok && state.value.kind === 'ok' ? state.value.state.allocations : [];
}

/** Which owners live, who listens on the allocated ports, and those listeners' ancestors. */
function readAllocationFacts(allocations: Allocation[], now: number): AllocationFacts {
  const owners = readOwnerFacts({ version: 1, allocations }, now);
  const listeners = readListeners();
  const allocated = new Set(allocations.map((a) => a.port));
  const onAllocated = (listeners ?? []).filter((l) => allocated.has(l.port));
  attachListenerProcesses(onAllocated);
  const pids = new Set(onAllocated.flatMap((l) => (l.pid === undefined ? [] : [l.pid])));
  return {
    allocations,
    owners,
    listeners,
    ancestry: new Map([...pids].map((pid) => [pid, ancestry(pid)])),
  };
}

/** The PID and its ancestors, up to init (at most 64 steps). */
function ancestry(pid: number): number[] {
  const chain = [pid];
  for (let current = pid; chain.length < 64;) {
    const parent = readProcessStat(current)?.ppid;
    if (parent === undefined || parent <= 0 || chain.includes(parent)) break;
    chain.push(parent);
    current = parent;
  }
  return chain;
}
