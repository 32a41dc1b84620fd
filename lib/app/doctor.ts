import fs = require('fs');
import path = require('path');
import { StyxyError, isStyxyError } from '../errors';
import { reviewAllocations, type AllocationReview } from '../core/allocation-review';
import { ownerPids } from '../core/prune';
import type { Allocation } from '../core/types';
import { attachListenerProcesses, readListeners } from '../os/ports';
import { probeLiveProcesses, readBootId, readProcessStat } from '../os/processes';
import { seam } from '../store/fs-seam';
import { checkFileSafety, checkHomeSafety } from '../store/home';
import { loadConfig } from '../store/config-files';
import { describeLockState, inspectLock, isDeadLockLeftover } from '../store/lock';
import { TEMP_FILE_PATTERN } from '../store/paths';
import { inspectStateFile, stateTooNew } from '../store/state-file';
import type { TransactionContext } from '../store/transaction';

/** `info` tells something worth knowing, `warn` something odd that fixes itself, `fail` something that needs you. */
export type CheckStatus = 'ok' | 'info' | 'warn' | 'fail';

export interface DoctorCheck {
  name: string;
  status: CheckStatus;
  message: string;
  remedy?: string;
}

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
  const { paths } = ctx;
  const checks: DoctorCheck[] = [];
  const attempt = (name: string, fn: () => DoctorCheck | DoctorCheck[] | null): void => {
    try {
      const found = fn();
      if (found) checks.push(...(Array.isArray(found) ? found : [found]));
    } catch (err) {
      checks.push({
        name,
        status: 'fail',
        message: (err as Error).message,
        ...(isStyxyError(err) && err.suggestions[0] !== undefined && { remedy: err.suggestions[0] }),
      });
    }
  };

  attempt('owner', () => findSudoSplit(paths.home));
  let homeExists = true;
  attempt('home', () => {
    try {
      seam.statSync(paths.home);
    } catch {
      homeExists = false;
      return { name: 'home', status: 'ok', message: `${paths.home} does not exist yet; the first allocation creates it` };
    }
    checkHomeSafety(paths.home);
    try {
      fs.accessSync(paths.home, fs.constants.W_OK);
    } catch {
      return { name: 'home', status: 'fail', message: `${paths.home} is yours but not writable: every allocation will fail`, remedy: `chmod u+w ${paths.home}` };
    }
    return { name: 'home', status: 'ok', message: `${paths.home} is yours and private` };
  });
  if (homeExists) {
    attempt('files', () => {
      const present = [paths.state, paths.config, paths.audit].filter((file) => checkFileSafety(file)).map((f) => path.basename(f));
      return { name: 'files', status: 'ok', message: present.length ? `${present.join(', ')}: regular files, yours, not writable by others` : 'none yet' };
    });
  }
  attempt('config', () => {
    const loaded = loadConfig(paths, ctx.cwd);
    const files = [loaded.projectFile, loaded.userFile].filter(Boolean);
    return { name: 'config', status: 'ok', message: `valid (${files.length ? files.join(', ') : 'built-in defaults only'})` };
  });
  let allocations: Allocation[] | null = null;
  attempt('state', () => {
    const content = inspectStateFile(paths);
    if (content.kind === 'ok') allocations = content.state.allocations;
    if (content.kind === 'missing') return { name: 'state', status: 'ok', message: 'no state yet' };
    if (content.kind === 'too-new') {
      const error = stateTooNew(paths, content.version);
      return { name: 'state', status: 'fail', message: error.message, remedy: error.suggestions[0] as string };
    }
    if (content.kind === 'unusable') {
      return { name: 'state', status: 'fail', message: `state.json is unusable: ${content.reason}`, remedy: 'The next styxy call moves it aside and starts afresh' };
    }
    const count = content.state.allocations.length;
    return { name: 'state', status: 'ok', message: `valid, ${count} allocation${count === 1 ? '' : 's'} recorded` };
  });
  attempt('lock', () => {
    // The lock's own judgement, so that doctor says what the next call will do.
    const seen = inspectLock(paths.lock, ctx.now());
    if (seen.kind === 'free') return { name: 'lock', status: 'ok', message: 'not held' };
    const holder = describeLockState(seen);
    const age = `${Math.round((seen.holding?.ageMs ?? 0) / 1000)} s old`;
    if (seen.kind === 'reclaimable') {
      return {
        name: 'lock',
        status: 'fail',
        message: `stale lock ${paths.lock} left by ${holder?.text}, ${age}: ${seen.reason}`,
        remedy: `The next styxy call takes it over; or remove it: rm -r ${paths.lock}`,
      };
    }
    if (!seen.holding?.holder && (seen.holding?.ageMs ?? 0) > 10_000) {
      return { name: 'lock', status: 'fail', message: `${paths.lock} is not a lock Styxy made (no holder record), ${age}; every call waits for it`, remedy: `If no styxy process is running, remove it: rm -r ${paths.lock}` };
    }
    return { name: 'lock', status: 'ok', message: `held by ${holder?.text}` };
  });
  if (homeExists) {
    attempt('leftovers', () => {
      const names = seam.readdirSync(paths.home) as string[];
      const temps = names.filter((n) => TEMP_FILE_PATTERN.test(n) || isDeadLockLeftover(n));
      const corrupt = names.filter((n) => n.startsWith('state.json.corrupt-'));
      if (temps.length > 0) {
        return { name: 'leftovers', status: 'warn', message: `${temps.length} temp file(s) from an interrupted write: ${temps.join(', ')}`, remedy: 'The next styxy call sweeps them' };
      }
      if (corrupt.length > 0) {
        return { name: 'leftovers', status: 'warn', message: `${corrupt.length} corrupt state file(s) kept for inspection: ${corrupt.join(', ')}`, remedy: `Remove them when done: rm ${paths.home}/state.json.corrupt-*` };
      }
      return { name: 'leftovers', status: 'ok', message: 'no temp files' };
    });
  }

  attempt('disk', () => diskCheck(nearestExisting(paths.home), [paths.state, paths.config]));

  const recorded = allocations as Allocation[] | null;
  if (recorded && recorded.length > 0) {
    attempt('allocations', () => allocationChecks(recorded, ctx.now()));
  }

  const healthy = checks.every((c) => c.status !== 'fail');
  const result: DoctorResult = { success: true, healthy, checks };
  if (!healthy) {
    const failed = checks.filter((c) => c.status === 'fail');
    throw new StyxyError('NEEDS_ATTENTION', `${failed.length} check(s) need attention: ${failed.map((c) => c.name).join(', ')}`, {
      details: { checks },
      suggestions: failed.map((c) => c.remedy).filter((r): r is string => r !== undefined),
    });
  }
  return result;
}

/** The PID and its ancestors, up to init (at most 64 steps). */
function ancestry(pid: number): number[] {
  const chain = [pid];
  for (let current = pid; chain.length < 64; ) {
    const parent = readProcessStat(current)?.ppid;
    if (parent === undefined || parent <= 0 || chain.includes(parent)) break;
    chain.push(parent);
    current = parent;
  }
  return chain;
}

/** Free space below which the next write cannot be trusted to fit, whatever the files' sizes. */
const MIN_FREE_BYTES = 64 * 1024;

/**
 * Whether the filesystem that holds the home has room for the next write: a state write puts a
 * full copy beside state.json before renaming it, a config change also makes a backup. A full
 * disk makes every allocation fail with WRITE_FAILED, so it is a failure here, not a detail.
 */
function diskCheck(dir: string, files: string[]): DoctorCheck | null {
  if (typeof fs.statfsSync !== 'function') return null;
  const stats = fs.statfsSync(dir);
  const free = stats.bavail * stats.bsize;
  const sizes = files.reduce((sum, file) => {
    try {
      return sum + seam.statSync(file).size;
    } catch {
      return sum;
    }
  }, 0);
  const needed = Math.max(MIN_FREE_BYTES, 2 * sizes + stats.bsize);
  const remedy = `Free some space on the filesystem of ${dir} (df -h ${dir}), or move the home: STYXY_HOME=<another directory>`;
  if (stats.ffree === 0 && stats.files > 0) return { name: 'disk', status: 'fail', message: `the filesystem of ${dir} has no free inodes: every allocation will fail with WRITE_FAILED`, remedy };
  if (free < needed) {
    return { name: 'disk', status: 'fail', message: `the filesystem of ${dir} is full (${formatBytes(free)} free, a write needs ${formatBytes(needed)}): every allocation will fail with WRITE_FAILED`, remedy };
  }
  return { name: 'disk', status: 'ok', message: `${formatBytes(free)} free` };
}

/** The directory itself, or the nearest one above it that exists (where the home will be created). */
function nearestExisting(dir: string): string {
  for (let current = dir; ; current = path.dirname(current)) {
    try {
      seam.statSync(current);
      return current;
    } catch {
      if (path.dirname(current) === current) return current;
    }
  }
}

function formatBytes(bytes: number): string {
  if (bytes < 1024 * 1024) return `${Math.floor(bytes / 1024)} KB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(1)} MB`;
  return `${(bytes / 1024 ** 3).toFixed(1)} GB`;
}

const label = (a: Allocation) => `${a.serviceType} ${a.port} (${a.lockId})`;
const listOf = (items: string[]) => (items.length > 5 ? `${items.slice(0, 5).join(', ')} and ${items.length - 5} more` : items.join(', '));

/** Informational checks on the recorded allocations: ended owners, unused ports, strangers on a port. */
function allocationChecks(allocations: Allocation[], now: number): DoctorCheck[] {
  const live = probeLiveProcesses(ownerPids({ version: 1, allocations }));
  const listeners = readListeners();
  const allocated = new Set(allocations.map((a) => a.port));
  if (listeners) attachListenerProcesses(listeners.filter((l) => allocated.has(l.port)));
  const review: AllocationReview = reviewAllocations(allocations, { now, liveProcesses: live, bootId: readBootId() }, listeners ?? [], ancestry);
  const checks: DoctorCheck[] = [];
  if (review.ended.length > 0) {
    checks.push({ name: 'ended owners', status: 'info', message: `${review.ended.length} allocation(s) whose owner has ended: ${listOf(review.ended.map(label))}`, remedy: 'The next styxy call drops them' });
  }
  if (review.reserved.length > 0) {
    checks.push({ name: 'reserved ports', status: 'info', message: `${review.reserved.length} allocation(s) kept for the server their ended owner's next command starts: ${listOf(review.reserved.map(label))}`, remedy: 'They go when the reservation grace is over (styxy config set lifetime.reservation-grace-seconds N)' });
  }
  if (listeners && review.unlistened.length > 0) {
    checks.push({
      name: 'unused ports',
      status: 'info',
      message: `nobody listens on ${review.unlistened.length} allocated port(s): ${listOf(review.unlistened.map(label))}`,
      remedy: 'Fine while their servers start; see their owners: styxy list -v; release one you no longer need: styxy release <lock id>',
    });
  }
  if (review.foreign.length > 0) {
    const text = review.foreign.map(({ allocation, listener }) => `${label(allocation)} is listened on by PID ${listener.pid}${listener.command ? ` (${listener.command.slice(0, 60)})` : ''}, not by its owner PID ${(allocation.owner as { pid: number }).pid} or a child of it`);
    checks.push({ name: 'port holders', status: 'info', message: listOf(text), remedy: 'Another program took the port; styxy check <port> tells more' });
  }
  if (checks.length === 0) checks.push({ name: 'allocations', status: 'ok', message: `${allocations.length} live, each port listened on by its owner or not yet` });
  return checks;
}

/**
 * A `sudo styxy` run with the user's HOME leaves $STYXY_HOME, or files in it, owned by root
 * inside a home that belongs to the user: afterwards the user's own calls are refused.
 */
function findSudoSplit(home: string): DoctorCheck | null {
  let parentUid: number;
  try {
    parentUid = seam.statSync(path.dirname(home)).uid;
  } catch {
    return null;
  }
  if (parentUid === 0) return null;
  const rootOwned: string[] = [];
  try {
    if (seam.statSync(home).uid === 0) rootOwned.push(home);
    for (const name of seam.readdirSync(home) as string[]) {
      if (seam.lstatSync(path.join(home, name)).uid === 0) rootOwned.push(path.join(home, name));
    }
  } catch {
    /* unreadable: the home check reports it */
  }
  if (rootOwned.length === 0) return null;
  return {
    name: 'owner',
    status: 'fail',
    message: `owned by root inside ${path.dirname(home)}, which belongs to uid ${parentUid} (a sudo styxy run?): ${listOf(rootOwned)}`,
    remedy: `Give them back: sudo chown -R ${parentUid}: ${home}`,
  };
}
