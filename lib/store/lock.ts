import fs = require('fs');
import os = require('os');
import path = require('path');
import { StyxyError } from '../errors';
import { randomHex } from '../os/random';
import { describeProcess, isDeadState, readProcessStat, readStartTime } from '../os/processes';
import { writeAll } from './atomic-write';
import { faultPoint, seam } from './fs-seam';
import type { StyxyPaths } from './paths';

/**
 * Styxy's lock on state.json: the directory `state.json.lock/`, which always holds a `holder`
 * record (PID, start time, PID namespace, host, a random nonce). It is never empty, so a plain
 * `rmdir` cannot remove a live lock:
 *
 * - **Take**: build `state.json.lock.new-<pid>-<nonce>/holder`, then rename that directory to
 *   `state.json.lock`. rename(2) refuses when the target is a non-empty directory, so exactly
 *   one caller wins, and the lock appears with its holder already inside.
 * - **Take over** a holder that is provably dead (its PID is gone, a zombie, or now another
 *   process with a different start time, seen from the same PID namespace on the same host):
 *   `mkdir state.json.lock/takeover-<dead nonce>` elects one taker, which re-reads the holder,
 *   and only if it still names the dead nonce writes its own record over it. A second taker
 *   then finds a different nonce and backs off: never two holders.
 * - **Fallback** when liveness cannot be known (another PID namespace or host, no /proc): the
 *   holder touches its record every second, and a record untouched for LOCK_STALE_MS is taken
 *   over the same way.
 * - **Release**: rename the directory to `state.json.lock.old-<pid>-<nonce>`, then remove it.
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
const HOLDER = 'holder';
/** Leftovers of killed callers: a staging directory, or a released lock not yet removed. */
export const LOCK_LEFTOVER_PATTERN = /^state\.json\.lock\.(new|old)-(\d+)-[0-9a-f]+$/;

export function lockDeadlineMs(env: NodeJS.ProcessEnv = process.env): number {
  const value = Number(env.STYXY_LOCK_TIMEOUT_MS);
  return Number.isFinite(value) && value > 0 ? value : 10_000;
}

interface HolderRecord {
  pid: number;
  startTime: string | null;
  /** The PID namespace (`readlink /proc/self/ns/pid`), so that PIDs are only compared where they mean the same process. */
  ns: string | null;
  host: string;
  nonce: string;
  since: string;
  command: string;
}

export interface LockHandle {
  /** Throws LOCK_COMPROMISED when the lock has been lost; called right before every write. */
  assertHeld(): void;
  release(): Promise<void>;
}

let ownNamespace: string | null | undefined;
function pidNamespace(): string | null {
  if (ownNamespace === undefined) {
    try {
      ownNamespace = fs.readlinkSync('/proc/self/ns/pid');
    } catch {
      ownNamespace = null;
    }
  }
  return ownNamespace;
}

/** Whether the holder's process still runs: known only from the same PID namespace and host. */
export function holderLiveness(holder: HolderRecord): 'alive' | 'dead' | 'unknown' {
  const ns = pidNamespace();
  if (ns === null || holder.ns !== ns || holder.host !== os.hostname()) return 'unknown';
  const stat = readProcessStat(holder.pid);
  if (!stat || isDeadState(stat.state)) return 'dead';
  if (holder.startTime !== null && stat.startTime !== holder.startTime) return 'dead';
  return 'alive';
}

/**
 * Takes the exclusive lock, retrying with short jittered waits. The deadline counts time without
 * progress: while the lock keeps changing hands (a queue of callers) a waiter keeps waiting, up
 * to twelve deadlines in all; when one live holder keeps it for a whole deadline the call fails
 * with LOCK_TIMEOUT naming the lock, the holder and the remedy. A dead holder's lock is taken
 * over at once. Losing the lock never kills the process: the next write refuses.
 */
export async function acquireLock(paths: StyxyPaths, deadlineMs = lockDeadlineMs()): Promise<LockHandle> {
  const started = Date.now();
  const nonce = randomHex(8);
  const record: HolderRecord = {
    pid: process.pid,
    startTime: readStartTime(process.pid) ?? null,
    ns: pidNamespace(),
    host: os.hostname(),
    nonce,
    since: new Date().toISOString(),
    command: process.argv.slice(2).join(' ').slice(0, 200),
  };
  const text = JSON.stringify(record);
  const staging = `${paths.lock}.new-${process.pid}-${nonce}`;
  try {
    seam.mkdirSync(staging, { mode: 0o700 });
    writeNew(path.join(staging, HOLDER), text);
  } catch (err) {
    removeTree(staging);
    throw lockFailure(paths, err);
  }

  let lastHolder: string | undefined;
  let lastProgress = started;
  try {
    for (let attempt = 0; ; attempt++) {
      if (tryRename(paths, staging)) break;
      const seen = inspect(paths);
      if (seen.kind === 'gone') continue;
      if (seen.kind === 'empty') {
        // Not Styxy's (its locks are never empty): reclaimable once stale; rmdir fails on a non-empty one.
        if (seen.ageMs > LOCK_STALE_MS) removeEmptyDir(paths.lock);
      } else {
        const liveness = holderLiveness(seen.holder);
        if ((liveness === 'dead' || (liveness === 'unknown' && seen.ageMs > LOCK_STALE_MS)) && takeOver(paths, seen.holder.nonce, text, nonce)) break;
      }
      const now = Date.now();
      const holderNonce = seen.kind === 'held' ? seen.holder.nonce : undefined;
      if (holderNonce !== lastHolder) {
        lastHolder = holderNonce;
        lastProgress = now;
      }
      if (now - lastProgress >= deadlineMs || now - started >= deadlineMs * ABSOLUTE_CAP_FACTOR) {
        throw lockTimeout(paths, now - started);
      }
      const cap = Math.min(RETRY_MAX_CAP_MS, RETRY_FIRST_CAP_MS + attempt);
      await sleep(1 + Math.random() * (cap - 1));
    }
  } finally {
    removeTree(staging);
  }
  faultPoint('after-lock');

  const holderFile = path.join(paths.lock, HOLDER);
  // Keeps the record fresh for callers that cannot see this process (the mtime fallback).
  const touch = setInterval(() => {
    try {
      const now = new Date();
      fs.utimesSync(holderFile, now, now);
    } catch {
      /* lost: assertHeld will tell */
    }
  }, LOCK_UPDATE_MS);
  touch.unref();

  let released = false;
  return {
    assertHeld() {
      if (released || readHolder(paths)?.nonce !== nonce) {
        throw new StyxyError('LOCK_COMPROMISED', `Lost the lock ${paths.lock} before writing; nothing was written`, {
          details: { lock: paths.lock, reason: released ? 'already released' : 'the lock was removed or taken over by another process' },
          suggestions: ['Run the command again'],
        });
      }
    },
    async release() {
      if (released) return;
      released = true;
      clearInterval(touch);
      faultPoint('before-unlock');
      if (readHolder(paths)?.nonce !== nonce) return;
      const old = `${paths.lock}.old-${process.pid}-${nonce}`;
      try {
        seam.renameSync(paths.lock, old);
      } catch {
        return;
      }
      removeTree(old);
    },
  };
}

/** Renames the staging directory into place; false when a lock is already there. */
function tryRename(paths: StyxyPaths, staging: string): boolean {
  try {
    seam.renameSync(staging, paths.lock);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' || code === 'ENOTEMPTY' || code === 'EISDIR' || code === 'ENOTDIR') return false;
    throw lockFailure(paths, err);
  }
}

type Seen = { kind: 'gone' } | { kind: 'empty'; ageMs: number } | { kind: 'held'; holder: HolderRecord; ageMs: number };

function inspect(paths: StyxyPaths): Seen {
  const holderFile = path.join(paths.lock, HOLDER);
  try {
    const text = seam.readFileSync(holderFile, 'utf8') as string;
    const ageMs = Date.now() - seam.statSync(holderFile).mtimeMs;
    const holder = JSON.parse(text) as HolderRecord;
    if (holder && typeof holder.nonce === 'string' && Number.isInteger(holder.pid)) return { kind: 'held', holder, ageMs };
  } catch {
    /* no record (yet), or a torn one */
  }
  try {
    return { kind: 'empty', ageMs: Date.now() - seam.statSync(paths.lock).mtimeMs };
  } catch {
    return { kind: 'gone' };
  }
}

/**
 * Takes over from the holder `deadNonce`: the one caller that creates the takeover directory
 * re-reads the record and, only if it still names the dead holder, replaces it with its own.
 */
function takeOver(paths: StyxyPaths, deadNonce: string, text: string, nonce: string): boolean {
  const guard = path.join(paths.lock, `takeover-${deadNonce.replace(/[^0-9a-zA-Z]/g, '')}`);
  try {
    seam.mkdirSync(guard, { mode: 0o700 });
  } catch (err) {
    // Another caller is taking over; if it died doing so, its guard goes once stale.
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') {
      try {
        if (Date.now() - seam.statSync(guard).mtimeMs > LOCK_STALE_MS) seam.rmdirSync(guard);
      } catch {
        /* gone already */
      }
    }
    return false;
  }
  try {
    if (readHolder(paths)?.nonce !== deadNonce) return false;
    const fresh = path.join(paths.lock, `${HOLDER}.new-${nonce}`);
    writeNew(fresh, text);
    seam.renameSync(fresh, path.join(paths.lock, HOLDER));
    return true;
  } catch {
    return false;
  } finally {
    try {
      seam.rmdirSync(guard);
    } catch {
      /* the lock was released with it */
    }
  }
}

function writeNew(file: string, text: string): void {
  const fd = seam.openSync(file, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | (fs.constants.O_NOFOLLOW ?? 0), 0o600);
  try {
    writeAll(fd, Buffer.from(text, 'utf8'));
  } finally {
    seam.closeSync(fd);
  }
}

function removeEmptyDir(dir: string): void {
  try {
    seam.rmdirSync(dir);
  } catch {
    /* not empty after all, or gone */
  }
}

/** Removes a lock-shaped directory: its files, takeover guards, then itself. */
function removeTree(dir: string): void {
  let names: string[];
  try {
    names = seam.readdirSync(dir) as string[];
  } catch {
    return;
  }
  for (const name of names) {
    const full = path.join(dir, name);
    try {
      if (name.startsWith('takeover-')) seam.rmdirSync(full);
      else seam.unlinkSync(full);
    } catch {
      /* raced with its owner */
    }
  }
  removeEmptyDir(dir);
}

/**
 * Removes the staging and released-lock directories of callers that were killed. Called under
 * the lock; a directory whose PID still runs belongs to a live waiter and stays.
 */
export function sweepLockLeftovers(paths: StyxyPaths, names: readonly string[]): void {
  for (const name of names) {
    if (!isDeadLockLeftover(name)) continue;
    const leftover = path.join(paths.home, name);
    // Styxy's leftovers are directories; a symlink in their place would have its target emptied.
    let isLink: boolean;
    try {
      isLink = seam.lstatSync(leftover).isSymbolicLink();
    } catch {
      continue;
    }
    if (isLink) throw new StyxyError('UNSAFE_HOME', `${leftover} is a symbolic link; Styxy never removes anything through one`, {
        details: { path: leftover },
        suggestions: [`Inspect it, then remove the link itself: rm ${leftover}`],
      });
    removeTree(leftover);
  }
}

/** A staging or released-lock directory whose process has ended. */
export function isDeadLockLeftover(name: string): boolean {
  const match = LOCK_LEFTOVER_PATTERN.exec(name);
  if (!match) return false;
  const stat = readProcessStat(Number(match[2]));
  return !stat || isDeadState(stat.state);
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
  const liveness = holderLiveness(holder);
  const alive = liveness !== 'dead';
  const who = liveness === 'alive' ? describeProcess(holder.pid) : `PID ${holder.pid}${liveness === 'unknown' ? ` on ${holder.host}` : ''}`;
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
        ? `If PID ${holder.pid} is stuck (stopped, or hung), end it (kill ${holder.pid}); the next call takes the lock over at once`
        : `A lock whose holder has ended is taken over by the next call`,
      `If no styxy process is running anywhere, remove the lock by hand: rm -r ${paths.lock}`,
    ],
  });
}

function lockFailure(paths: StyxyPaths, err: unknown): StyxyError {
  if (err instanceof StyxyError) return err;
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
