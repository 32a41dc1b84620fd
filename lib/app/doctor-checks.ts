import path = require('path');
import { isStyxyError } from '../errors';
import { reviewAllocations, type ListenerFact } from '../core/allocation-review';
import { describeUnjudged, type OwnerFacts } from '../core/prune';
import type { Allocation } from '../core/types';
import type { LoadedConfig } from '../store/config-files';
import type { DiskSpace, HomeLeftovers, RootOwnership } from '../store/home-inspection';
import { describeLockState, type LockState } from '../store/lock';
import type { StyxyPaths } from '../store/paths';
import { stateTooNew, type StateFileContent } from '../store/state-file';

/** `info` tells something worth knowing, `warn` something odd that fixes itself, `fail` something that needs you. */
export type CheckStatus = 'ok' | 'info' | 'warn' | 'fail';

export interface DoctorCheck {
  name: string;
  status: CheckStatus;
  message: string;
  remedy?: string;
}

/** A fact as it was read: its value, or the error that reading it threw. */
export type Fact<T> = { ok: true; value: T } | { ok: false; error: unknown };

/** What the allocations' checks are judged on, read only when the state records some. */
export interface AllocationFacts {
  allocations: Allocation[];
  owners: OwnerFacts;
  /** The listening sockets, with their processes where found; null where they cannot be listed. */
  listeners: ListenerFact[] | null;
  /** Each listener's PID and its ancestors, up to init. */
  ancestry: ReadonlyMap<number, readonly number[]>;
}

/** Everything `styxy doctor` looks at, read once before any check judges it. */
export interface DoctorFacts {
  paths: StyxyPaths;
  ownership: Fact<RootOwnership | null>;
  /** Null when there is no home yet: then there are neither files nor leftovers. */
  home: Fact<{ writable: boolean; sharedGroup?: string }> | null;
  /** The base names of Styxy's files that exist, each checked for safety. */
  files: Fact<string[]> | null;
  config: Fact<LoadedConfig>;
  state: Fact<StateFileContent>;
  lock: Fact<LockState>;
  leftovers: Fact<HomeLeftovers> | null;
  disk: Fact<DiskSpace | null>;
  /** Null when the state records no allocation (or cannot be read). */
  allocations: Fact<AllocationFacts> | null;
}

/** A check: named, judging the facts; it says nothing (an empty list) when it has nothing to judge. */
export interface NamedCheck {
  name: string;
  check(facts: DoctorFacts): DoctorCheck[];
}

/** A fact that could not be read fails its check, with the error's message and first suggestion. */
export function failure(name: string, error: unknown): DoctorCheck {
  return {
    name,
    status: 'fail',
    message: error instanceof Error ? error.message : String(error),
    ...(isStyxyError(error) && error.suggestions[0] !== undefined && { remedy: error.suggestions[0] }),
  };
}

const ok = (name: string, message: string): DoctorCheck[] => [{ name, status: 'ok', message }];
const label = (a: Allocation) => `${a.serviceType} ${a.port} (${a.lockId})`;
const listOf = (items: string[]) => (items.length > 5 ? `${items.slice(0, 5).join(', ')} and ${items.length - 5} more` : items.join(', '));

/** A sudo run left root's files in a home that belongs to the user: the user's own calls are refused. */
function checkOwner({ ownership, paths, home }: DoctorFacts): DoctorCheck[] {
  if (!ownership.ok) return [failure('owner', ownership.error)];
  if (!ownership.value || ownership.value.rootOwned.length === 0) return [];
  // In a shared home root's files are the group's like any member's (the file checks say so).
  if (home?.ok && home.value.sharedGroup !== undefined) return [];
  const { parentUid, rootOwned } = ownership.value;
  return [
    {
      name: 'owner',
      status: 'fail',
      message: `owned by root inside ${path.dirname(paths.home)}, which belongs to uid ${parentUid} (a sudo styxy run?): ${listOf(rootOwned)}`,
      remedy: `Give them back: sudo chown -R ${parentUid}: ${paths.home}`,
    },
  ];
}

function checkHome({ home, paths }: DoctorFacts): DoctorCheck[] {
  if (!home) return ok('home', `${paths.home} does not exist yet; the first allocation creates it`);
  if (!home.ok) return [failure('home', home.error)];
  if (!home.value.writable) {
    return [
      { name: 'home', status: 'fail', message: `${paths.home} is yours but not writable: every allocation will fail`, remedy: `chmod u+w ${paths.home}` },
    ];
  }
  if (home.value.sharedGroup !== undefined) return ok('home', `${paths.home} is a shared home of group ${home.value.sharedGroup}, and you may use it`);
  return ok('home', `${paths.home} is yours and private`);
}

function checkFiles({ files, home }: DoctorFacts): DoctorCheck[] {
  if (!files) return [];
  if (!files.ok) return [failure('files', files.error)];
  const shared = home?.ok ? home.value.sharedGroup : undefined;
  const safe = shared === undefined ? 'regular files, yours, not writable by others' : `regular files of group ${shared}, not writable by others`;
  return ok('files', files.value.length ? `${files.value.join(', ')}: ${safe}` : 'none yet');
}

function checkConfig({ config }: DoctorFacts): DoctorCheck[] {
  if (!config.ok) return [failure('config', config.error)];
  const files = [config.value.projectFile, config.value.userFile].filter(Boolean);
  return ok('config', `valid (${files.length ? files.join(', ') : 'built-in defaults only'})`);
}

function checkState({ state, paths }: DoctorFacts): DoctorCheck[] {
  if (!state.ok) return [failure('state', state.error)];
  const content = state.value;
  switch (content.kind) {
    case 'missing':
      return ok('state', 'no state yet');
    case 'too-new':
      return [failure('state', stateTooNew(paths, content.version))];
    case 'unusable':
      return [
        { name: 'state', status: 'fail', message: `state.json is unusable: ${content.reason}`, remedy: 'The next styxy call moves it aside and starts afresh' },
      ];
    case 'ok': {
      const count = content.state.allocations.length;
      const recorded = `valid, ${count} allocation${count === 1 ? '' : 's'} recorded`;
      const settled = content.settled;
      if (!settled) return ok('state', recorded);
      if (settled.mismatch) {
        return [
          {
            name: 'state',
            status: 'warn',
            message: `${recorded}; ${settled.mismatch}`,
            remedy: `The next styxy call gives state.json the true summary of ${settled.file}`,
          },
        ];
      }
      if (settled.restorable) {
        return [{ name: 'state', status: 'warn', message: `${recorded} in state.json; ${settled.problem}`, remedy: 'Run any styxy command' }];
      }
      if (settled.problem) {
        return [
          {
            name: 'state',
            status: 'fail',
            message: `${recorded} in state.json, but its ${settled.count} settled allocations cannot be used: ${settled.problem}`,
            remedy: `The next styxy call moves ${settled.file} aside and goes on without them`,
          },
        ];
      }
      return ok('state', `${recorded} (${settled.count} of them settled in ${settled.file})`);
    }
  }
}

/** The lock's own judgement (free, held, reclaimable), so that doctor says what the next call will do. */
function checkLock({ lock, paths }: DoctorFacts): DoctorCheck[] {
  if (!lock.ok) return [failure('lock', lock.error)];
  const seen = lock.value;
  if (seen.kind === 'free') return ok('lock', 'not held');
  const holder = describeLockState(seen);
  const ageMs = seen.holding?.ageMs ?? 0;
  const age = `${Math.round(ageMs / 1000)} s old`;
  if (seen.kind === 'reclaimable') {
    return [
      {
        name: 'lock',
        status: 'fail',
        message: `stale lock ${paths.lock} left by ${holder?.text}, ${age}: ${seen.reason}`,
        remedy: `The next styxy call takes it over; or remove it: rm -r ${paths.lock}`,
      },
    ];
  }
  if (!seen.holding?.holder && ageMs > 10_000) {
    return [
      {
        name: 'lock',
        status: 'fail',
        message: `${paths.lock} is not a lock Styxy made (no holder record), ${age}; every call waits for it`,
        remedy: `If no styxy process is running, remove it: rm -r ${paths.lock}`,
      },
    ];
  }
  return ok('lock', `held by ${holder?.text}`);
}

function checkLeftovers({ leftovers, paths }: DoctorFacts): DoctorCheck[] {
  if (!leftovers) return [];
  if (!leftovers.ok) return [failure('leftovers', leftovers.error)];
  const { temps, corrupt } = leftovers.value;
  if (temps.length > 0) {
    return [
      {
        name: 'leftovers',
        status: 'warn',
        message: `${temps.length} temp file(s) from an interrupted write: ${temps.join(', ')}`,
        remedy: 'The next styxy call sweeps them',
      },
    ];
  }
  if (corrupt.length > 0) {
    return [
      {
        name: 'leftovers',
        status: 'warn',
        message: `${corrupt.length} corrupt or set-aside state file(s) kept for inspection: ${corrupt.join(', ')}`,
        remedy: corrupt.some((n) => n.startsWith('state.settled-'))
          ? `Each state.settled-* file holds persistent allocations that no state.json refers to (the next call puts one back if state.json names it again); look at them before you remove them: ls -l ${corrupt.map((n) => `${paths.home}/${n}`).join(' ')}`
          : `Remove them when done: rm ${paths.home}/state.json.corrupt-*`,
      },
    ];
  }
  return ok('leftovers', 'no temp files');
}

/**
 * Records that failed their shape: those the next call will set aside (still in the state), and
 * the files that hold those set aside before. Every other allocation was kept; these are the
 * user's to look at, and Styxy never removes them.
 */
function checkRejectedRecords({ leftovers, state, paths }: DoctorFacts): DoctorCheck[] {
  const pending = state.ok && state.value.kind === 'ok' ? (state.value.rejected?.length ?? 0) + (state.value.settled?.rejected ?? 0) : 0;
  const files = leftovers?.ok ? leftovers.value.rejected : [];
  if (pending === 0 && files.length === 0) return [];
  const parts = [
    ...(pending > 0 ? [`${pending} record(s) in the state fail the state schema; the next styxy call sets them aside and keeps every other allocation`] : []),
    ...(files.length > 0 ? [`records set aside as unreadable, kept for inspection: ${listOf(files.map((n) => path.join(paths.home, n)))}`] : []),
  ];
  return [
    {
      name: 'rejected records',
      status: 'warn',
      message: parts.join('; '),
      // Only files that exist can be removed: records still in the state are set aside first.
      remedy:
        files.length > 0
          ? `Each file names why its records were refused; put one back by hand (fixed) or remove the file when done: rm ${paths.home}/state.rejected-*.json`
          : 'Run any styxy call (styxy list) to set them aside into a file beside the state; doctor then names it',
    },
  ];
}

/** Free space below which the next write cannot be trusted to fit, whatever the files' sizes. */
const MIN_FREE_BYTES = 64 * 1024;

/**
 * Whether the filesystem that holds the home has room for the next write: a state write puts a
 * full copy beside state.json before renaming it, a config change also makes a backup. A full
 * disk makes every allocation fail with WRITE_FAILED, so it is a failure here, not a detail.
 */
function checkDisk({ disk }: DoctorFacts): DoctorCheck[] {
  if (!disk.ok) return [failure('disk', disk.error)];
  if (!disk.value) return [];
  const { dir, freeBytes, blockSize, freeInodes, inodes, filesBytes } = disk.value;
  const needed = Math.max(MIN_FREE_BYTES, 2 * filesBytes + blockSize);
  const remedy = `Free some space on the filesystem of ${dir} (df -h ${dir}), or move the home: STYXY_HOME=<another directory>`;
  if (freeInodes === 0 && inodes > 0)
    return [{ name: 'disk', status: 'fail', message: `the filesystem of ${dir} has no free inodes: every allocation will fail with WRITE_FAILED`, remedy }];
  if (freeBytes < needed) {
    return [
      {
        name: 'disk',
        status: 'fail',
        message: `the filesystem of ${dir} is full (${formatBytes(freeBytes)} free, a write needs ${formatBytes(needed)}): every allocation will fail with WRITE_FAILED`,
        remedy,
      },
    ];
  }
  return ok('disk', `${formatBytes(freeBytes)} free`);
}

function formatBytes(bytes: number): string {
  if (bytes < 1024 * 1024) return `${Math.floor(bytes / 1024)} KB`;
  if (bytes < 1024 ** 3) return `${(bytes / 1024 ** 2).toFixed(1)} MB`;
  return `${(bytes / 1024 ** 3).toFixed(1)} GB`;
}

/** Informational checks on the recorded allocations: ended owners, unused ports, strangers on a port. */
function checkAllocations({ allocations }: DoctorFacts): DoctorCheck[] {
  if (!allocations) return [];
  if (!allocations.ok) return [failure('allocations', allocations.error)];
  const { allocations: recorded, owners, listeners, ancestry } = allocations.value;
  const review = reviewAllocations(recorded, owners, listeners ?? [], (pid) => ancestry.get(pid) ?? [pid]);
  const checks: DoctorCheck[] = [];
  if (review.ended.length > 0) {
    checks.push({
      name: 'ended owners',
      status: 'info',
      message: `${review.ended.length} allocation(s) whose owner has ended: ${listOf(review.ended.map(label))}`,
      remedy: 'The next styxy call drops them',
    });
  }
  if (review.reserved.length > 0) {
    checks.push({
      name: 'reserved ports',
      status: 'info',
      message: `${review.reserved.length} allocation(s) kept for the server their ended owner's next command starts: ${listOf(review.reserved.map(label))}`,
      remedy: 'They go when the reservation grace is over (styxy config set lifetime.reservation-grace-seconds N)',
    });
  }
  if (review.unjudged.length > 0) {
    checks.push({
      name: 'unjudged owners',
      status: 'info',
      message: `${review.unjudged.length} allocation(s) whose owner cannot be judged from here: ${listOf(review.unjudged.map((a) => `${label(a)}: ${describeUnjudged(a.owner)}`))}`,
      remedy:
        'Kept while their port is served or for 24 h since allocated; a styxy call in that namespace (or on the host) judges them; free one with: styxy release <lock id>',
    });
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
    const text = review.foreign.map(
      ({ allocation, listener }) =>
        `${label(allocation)} is listened on by PID ${listener.pid}${listener.command ? ` (${listener.command.slice(0, 60)})` : ''}, not by its owner PID ${ownerPid(allocation)} or a child of it`,
    );
    checks.push({ name: 'port holders', status: 'info', message: listOf(text), remedy: 'Another program took the port; styxy check <port> tells more' });
  }
  if (checks.length === 0)
    checks.push({ name: 'allocations', status: 'ok', message: `${recorded.length} live, each port listened on by its owner or not yet` });
  return checks;
}

/** Only an allocation owned by a process can have a foreign listener. */
const ownerPid = (a: Allocation): number | undefined => (a.owner.kind === 'process' ? a.owner.pid : undefined);

/** The checks, in the order doctor reports them. */
export const DOCTOR_CHECKS: readonly NamedCheck[] = [
  { name: 'owner', check: checkOwner },
  { name: 'home', check: checkHome },
  { name: 'files', check: checkFiles },
  { name: 'config', check: checkConfig },
  { name: 'state', check: checkState },
  { name: 'lock', check: checkLock },
  { name: 'leftovers', check: checkLeftovers },
  { name: 'rejected records', check: checkRejectedRecords },
  { name: 'disk', check: checkDisk },
  { name: 'allocations', check: checkAllocations },
];

/** Every check's findings, in order. A check that throws (a bug) fails under its own name instead of hiding the rest. */
export function judgeFacts(facts: DoctorFacts, checks: readonly NamedCheck[] = DOCTOR_CHECKS): DoctorCheck[] {
  return checks.flatMap((entry) => {
    try {
      return entry.check(facts);
    } catch (err) {
      return [failure(entry.name, err)];
    }
  });
}
