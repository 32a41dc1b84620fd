import * as crypto from 'crypto';
import * as fs from 'fs';
import { StyxyError } from '../errors';
import { describeProcess, readStartTime } from '../os/processes';
import { writeFileAtomic } from './atomic-write';
import { faultPoint, seam } from './fs-seam';
import type { StyxyPaths } from './paths';

/**
 * The one set of lock options. proper-lockfile's stale floor is 2 s: a holder killed with
 * SIGKILL leaves a lock that the next caller reclaims after that. Live holders refresh the
 * lock's mtime every second, and Styxy's critical sections last milliseconds.
 */
export const LOCK_STALE_MS = 2000;
const LOCK_UPDATE_MS = 1000;
/**
 * Waits between attempts: short and jittered, since the sections last milliseconds, growing with
 * the attempts so that a crowd of waiters does not starve the holder of CPU.
 */
const RETRY_FIRST_CAP_MS = 5;
const RETRY_MAX_CAP_MS = 40;
/** However the queue moves, a waiter gives up after this many deadlines. */
const ABSOLUTE_CAP_FACTOR = 12;

export function lockDeadlineMs(env: NodeJS.ProcessEnv = process.env): number {
  const value = Number(env.STYXY_LOCK_TIMEOUT_MS);
  return Number.isFinite(value) && value > 0 ? value : 10_000;
}

interface HolderRecord {
  pid: number;
  startTime: string | null;
  nonce: string;
  since: string;
  command: string;
}

export interface LockHandle {
  /** Throws LOCK_COMPROMISED when the lock has been lost; called right before every write. */
  assertHeld(): void;
  release(): Promise<void>;
}

/**
 * Takes the exclusive lock on state.json (proper-lockfile's `state.json.lock` directory),
 * retrying with short jittered waits. The deadline counts time without progress: while the lock
 * keeps changing hands (a queue of callers, as when a hundred start at once on two cores) a
 * waiter keeps waiting, up to twelve deadlines in all; when one holder keeps it for a whole
 * deadline the call fails with LOCK_TIMEOUT naming the lock, the holder and the remedy. Losing
 * the lock never kills the process: it marks the handle compromised and the next write refuses.
 */
export async function acquireLock(paths: StyxyPaths, deadlineMs = lockDeadlineMs()): Promise<LockHandle> {
  // Loaded here so that commands that never lock (help, version) do not pay for it.
  const lockfile = await import('proper-lockfile');
  const started = Date.now();
  let compromised: Error | undefined;
  const options = {
    stale: LOCK_STALE_MS,
    update: LOCK_UPDATE_MS,
    realpath: false,
    retries: 0,
    fs,
    onCompromised: (err: Error) => {
      compromised = err;
    },
  };

  // Read before waiting, so the locked section does not pay for it.
  const ownStartTime = readStartTime(process.pid) ?? null;
  let release: () => Promise<void>;
  let lastHolder: string | undefined;
  let lastProgress = started;
  for (let attempt = 0; ; attempt++) {
    try {
      release = await lockfile.lock(paths.state, options);
      break;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'ELOCKED' && code !== 'EEXIST' && code !== 'ENOENT') throw lockFailure(paths, err);
      const now = Date.now();
      const holder = readHolder(paths)?.nonce;
      if (holder !== lastHolder) {
        lastHolder = holder;
        lastProgress = now;
      }
      if (now - lastProgress >= deadlineMs || now - started >= deadlineMs * ABSOLUTE_CAP_FACTOR) {
        throw lockTimeout(paths, now - started);
      }
      const cap = Math.min(RETRY_MAX_CAP_MS, RETRY_FIRST_CAP_MS + attempt);
      await sleep(1 + Math.random() * (cap - 1));
    }
  }
  faultPoint('after-lock');

  const nonce = crypto.randomBytes(8).toString('hex');
  const holder: HolderRecord = {
    pid: process.pid,
    startTime: ownStartTime,
    nonce,
    since: new Date().toISOString(),
    command: process.argv.slice(2).join(' ').slice(0, 200),
  };
  try {
    // Meaningless after a crash (the holder is gone with it), so no fsync.
    writeFileAtomic(paths.lockHolder, JSON.stringify(holder), { durable: false });
  } catch (err) {
    await release().catch(() => undefined);
    throw err;
  }

  let released = false;
  return {
    assertHeld() {
      const current = readHolder(paths);
      if (compromised || released || current?.nonce !== nonce) {
        throw new StyxyError('LOCK_COMPROMISED', `Lost the lock ${paths.lock} before writing; nothing was written`, {
          details: { lock: paths.lock, reason: compromised?.message ?? 'another process took the lock over' },
          suggestions: ['Run the command again'],
        });
      }
    },
    async release() {
      if (released) return;
      released = true;
      faultPoint('before-unlock');
      if (readHolder(paths)?.nonce === nonce) {
        try {
          seam.unlinkSync(paths.lockHolder);
        } catch {
          /* gone already */
        }
      }
      if (!compromised) await release().catch(() => undefined);
    },
  };
}

function readHolder(paths: StyxyPaths): HolderRecord | null {
  try {
    return JSON.parse(seam.readFileSync(paths.lockHolder, 'utf8') as string) as HolderRecord;
  } catch {
    return null;
  }
}

/** Who holds the lock, as well as Styxy can tell; for messages and `doctor`. */
export function describeLockHolder(paths: StyxyPaths): { text: string; pid?: number; alive?: boolean } | null {
  const holder = readHolder(paths);
  if (!holder) return null;
  const startTime = readStartTime(holder.pid);
  const alive = startTime !== undefined && (holder.startTime === null || startTime === null || startTime === holder.startTime);
  const who = alive ? describeProcess(holder.pid) : `PID ${holder.pid}`;
  const text = `${who}${holder.command ? ` running 'styxy ${holder.command}'` : ''} since ${holder.since}${alive ? '' : ' (no longer running)'}`;
  return { text, pid: holder.pid, alive };
}

function lockTimeout(paths: StyxyPaths, waitedMs: number): StyxyError {
  const holder = describeLockHolder(paths);
  const heldBy = holder ? `, held by ${holder.text}` : '';
  return new StyxyError('LOCK_TIMEOUT', `Timed out after ${(waitedMs / 1000).toFixed(1)} s waiting for the lock ${paths.lock}${heldBy}`, {
    details: { lock: paths.lock, holderPid: holder?.pid ?? null, holderAlive: holder?.alive ?? null },
    suggestions: [
      holder?.alive
        ? `If PID ${holder.pid} is stuck, end it (kill ${holder.pid}); Styxy reclaims the lock ${LOCK_STALE_MS / 1000} s after its holder stops`
        : `Styxy reclaims a lock ${LOCK_STALE_MS / 1000} s after its holder stops updating it`,
      `If no styxy process is running, remove the lock by hand: rmdir ${paths.lock}`,
    ],
  });
}

function lockFailure(paths: StyxyPaths, err: unknown): StyxyError {
  const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
  return new StyxyError('WRITE_FAILED', `Cannot create the lock ${paths.lock}: ${(err as Error).message}`, {
    cause: err,
    details: { lock: paths.lock, errno: code },
    suggestions: code === 'EACCES' || code === 'EROFS' || code === 'EPERM' ? [`Make ${paths.home} writable, or point STYXY_HOME elsewhere`] : [],
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
