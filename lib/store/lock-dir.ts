import fs = require('fs');
import path = require('path');
import { testHooks, type TestHooks } from '../os/test-hooks';
import { seam, writeAll } from './fs-seam';
import { parseHolderRecord, processLiveness, type HolderRecord, type Liveness } from './lock-holder';
import { shareCreatedDir, shareCreatedFile } from './shared-home';

/**
 * A lock as a directory at any path `L`, built so that a holder that has lost it can no longer
 * write:
 *
 * - **Held** means `L` holds one directory named by the holder's nonce, `L/<nonce>/`, with the
 *   holder record in it. The holder stages every write inside `L/<nonce>/` and renames it from
 *   there onto its target, so a write can land only while `L/<nonce>` is where the holder left it.
 * - **Free** means `L` is absent or empty.
 * - **Take**: build `L.new-<pid>-<nonce>/<nonce>/holder`, then rename that directory to `L`.
 *   rename(2) replaces only an absent or empty directory, so exactly one caller wins, and the lock
 *   appears with its holder already inside.
 * - **Take over** a holder that is dead, or silent for far longer than any locked section: rename
 *   `L/<its nonce>` out of the lock. That path exists only while that holding lasts, so one taker
 *   succeeds, a taker that judged an older holding fails harmlessly (ENOENT), and from then on the
 *   old holder's writes fail (its staging directory is gone) instead of landing. The taker then
 *   empties the moved directory before it reads anything, which also stops a write that was
 *   already inside the kernel when the directory moved. `L`, now empty, is free.
 * - **Release**: the same rename out, by the holder itself, then `rmdir L`.
 *
 * A lock written by an older Styxy (`L/holder` as a file) is read, and taken over the old way
 * once its holder is dead or silent: one taker elected by `mkdir L/takeover-<nonce>`, which
 * re-reads the record and moves the whole directory away.
 */

/** A holder whose liveness cannot be seen (another PID namespace or host) is taken over once its record is this old. */
export const LOCK_SILENT_MS = 30_000;
/** How often a holder refreshes its record while its event loop is free. */
export const LOCK_TOUCH_MS = 1000;
/**
 * A holding whose record cannot be read is taken over once the record (or, without one, the
 * holding) has not changed for this long. A live holder's record is whole before its holding is
 * in the lock (prepareHolding), so only a crash can leave one unreadable (a power cut before
 * Styxy fsynced the record, a disk error); 5 s is far longer than writing it takes and shorter
 * than the 10 s a waiter waits for a holder that does nothing.
 */
export const UNREADABLE_RECORD_MS = 5000;
const HOLDER = 'holder';
/** A holding's directory is named by its nonce: 16 hex digits. */
const HOLDING_NAME = /^[0-9a-f]{16}$/;
/** Guards left by older Styxy versions' takeovers go stale after this long. */
const LEGACY_GUARD_STALE_MS = 2000;

/** LOCK_SILENT_MS, which tests shorten to show what a takeover of a holder that still works does. */
export function lockSilentMs(hooks: Pick<TestHooks, 'lockSilentMs'> = testHooks()): number {
  return hooks.lockSilentMs ?? LOCK_SILENT_MS;
}

/** What a lock is now: the one judgement that the lock itself and `doctor` share. */
export type LockState = { kind: 'free' } | { kind: 'held'; holding: Holding | null } | { kind: 'reclaimable'; holding: Holding; reason: string };

export interface Holding {
  /** Null when the lock holds no record Styxy can read (not Styxy's, or torn). */
  holder: HolderRecord | null;
  liveness: Liveness;
  /** Time since the record (or the lock, without one) was last touched. */
  ageMs: number;
  /** The holding's directory inside the lock; null for an older Styxy's lock (`L/holder`). */
  entry: string | null;
}

/**
 * Judges the lock at `lock`: free (absent or empty), held, or reclaimable (its holder is dead,
 * or of unknown liveness and silent for `silentMs`).
 */
export function inspectLock(lock: string, now = Date.now(), silentMs = lockSilentMs()): LockState {
  let names: string[];
  try {
    names = seam.readdirSync(lock) as string[];
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return { kind: 'free' };
    // Something that is not a directory sits there: not Styxy's, never taken over.
    return { kind: 'held', holding: { holder: null, liveness: 'unknown', ageMs: ageOf(lock, now), entry: null } };
  }
  if (names.length === 0) return { kind: 'free' };
  const entry = names.find((n) => HOLDING_NAME.test(n)) ?? null;
  const recordFile = entry ? path.join(lock, entry, HOLDER) : names.includes(HOLDER) ? path.join(lock, HOLDER) : null;
  const holder = recordFile ? readRecord(recordFile) : null;
  if (!holder) {
    if (entry !== null) {
      // A holding of Styxy's whose record is empty or torn: left by a crash, or still being
      // written by no one; once it has been still for long enough, nobody is coming back to it.
      const ageMs = Math.min(ageOf(path.join(lock, entry), now), ageOf(path.join(lock, entry, HOLDER), now, Infinity));
      const holding: Holding = { holder: null, liveness: 'unknown', ageMs, entry };
      if (ageMs > UNREADABLE_RECORD_MS) return { kind: 'reclaimable', holding, reason: `its record has not changed for ${Math.round(ageMs / 1000)} s` };
      return { kind: 'held', holding };
    }
    // A directory that is not Styxy's: wait, never break it.
    return { kind: 'held', holding: { holder: null, liveness: 'unknown', ageMs: ageOf(lock, now), entry } };
  }
  const liveness = processLiveness(holder);
  const holding: Holding = { holder, liveness, ageMs: ageOf(recordFile as string, now), entry };
  if (liveness === 'dead') return { kind: 'reclaimable', holding, reason: 'its holder has ended' };
  if (liveness === 'unknown' && holding.ageMs > silentMs) {
    return { kind: 'reclaimable', holding, reason: `its holder cannot be seen from here and has been silent for ${Math.round(holding.ageMs / 1000)} s` };
  }
  return { kind: 'held', holding };
}

/** The name of the current holding inside the lock, cheaply (one readdir); for noticing progress. */
export function currentHolding(lock: string): string | null {
  try {
    const names = seam.readdirSync(lock) as string[];
    return names.find((n) => HOLDING_NAME.test(n)) ?? (names.length ? names.join('/') : null);
  } catch {
    return null;
  }
}

/**
 * Prepares `staging` so that renaming it to the lock makes this process the holder `nonce`. The
 * record and its name in the holding are on the disk (fsync of the file, then of the holding's
 * directory) before the rename can be: after a power cut the lock is then absent, empty (free) or
 * holds a whole record, never a holding with an empty record that nobody could judge.
 */
export function prepareHolding(staging: string, nonce: string, record: string): void {
  seam.mkdirSync(staging, { mode: 0o700 });
  shareCreatedDir(staging);
  const holding = path.join(staging, nonce);
  seam.mkdirSync(holding, { mode: 0o700 });
  shareCreatedDir(holding);
  writeNew(path.join(holding, HOLDER), record, true);
  syncDirectory(holding);
}

/** fsync of a directory, so that the names in it survive a crash; a file system that cannot (EINVAL) has nothing more to give. */
function syncDirectory(dir: string): void {
  const fd = seam.openSync(dir, fs.constants.O_RDONLY | (fs.constants.O_DIRECTORY ?? 0));
  try {
    seam.fsyncSync(fd);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EINVAL' && code !== 'ENOTSUP' && code !== 'EPERM') throw err;
  } finally {
    seam.closeSync(fd);
  }
}

/**
 * Renames the prepared directory onto the lock; false when the lock is held, or when the
 * prepared directory is gone (a waiter's ticket removed as dead by mistake: it queues again).
 */
export function tryTake(lock: string, staging: string): boolean {
  try {
    seam.renameSync(staging, lock);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' || code === 'ENOTEMPTY' || code === 'EISDIR' || code === 'ENOTDIR' || code === 'ENOENT') return false;
    throw err;
  }
}

/**
 * Ends the holding `seen` judged reclaimable, moving it to `graveyard` (a leftover name of this
 * process's own). True when the lock is now free of it (by this caller or another); the caller
 * then tries to take the lock as usual.
 */
export function takeOver(lock: string, seen: Holding, graveyard: string): boolean {
  if (seen.entry !== null) {
    try {
      seam.renameSync(path.join(lock, seen.entry), graveyard);
    } catch (err) {
      // ENOENT: that holding has already ended, by its holder or another taker.
      return (err as NodeJS.ErrnoException).code === 'ENOENT';
    }
    clearHolding(graveyard, path.dirname(lock));
    return true;
  }
  return seen.holder ? takeOverLegacy(lock, seen.holder, graveyard) : false;
}

/** Ends this process's own holding; false when it had already been taken over. */
export function releaseHolding(lock: string, nonce: string, graveyard: string): boolean {
  try {
    seam.renameSync(path.join(lock, nonce), graveyard);
  } catch {
    return false;
  }
  try {
    seam.rmdirSync(lock);
  } catch {
    /* a waiter has already taken the empty lock */
  }
  clearHolding(graveyard, path.dirname(lock));
  return true;
}

/**
 * Empties and removes a holding's directory once it has been moved out of the lock. Temp files
 * and the record go; anything else (a state file being moved aside) is moved beside the lock,
 * never deleted. The loop ends only when the directory is gone: a write that was already inside
 * the kernel when the holding moved either lands before its temp file is unlinked here, or finds
 * nothing to rename; a file created meanwhile makes rmdir fail and is removed on the next turn.
 */
export function clearHolding(dir: string, besideLock: string): void {
  for (let turn = 0; turn < 100; turn++) {
    let names: string[];
    try {
      names = seam.readdirSync(dir) as string[];
    } catch {
      return;
    }
    for (const name of names) {
      const full = path.join(dir, name);
      try {
        if (name === HOLDER || name.includes('.tmp-')) seam.unlinkSync(full);
        else seam.renameSync(full, path.join(besideLock, name));
      } catch {
        /* gone already */
      }
    }
    try {
      seam.rmdirSync(dir);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOTEMPTY' && (err as NodeJS.ErrnoException).code !== 'EEXIST') return;
    }
  }
}

function takeOverLegacy(lock: string, dead: HolderRecord, graveyard: string): boolean {
  const guard = path.join(lock, `takeover-${dead.nonce.replace(/[^0-9a-zA-Z]/g, '')}`);
  try {
    seam.mkdirSync(guard, { mode: 0o700 });
    shareCreatedDir(guard);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST' && ageOf(guard, Date.now()) > LEGACY_GUARD_STALE_MS) removeQuietly(guard, true);
    return false;
  }
  const still = readRecord(path.join(lock, HOLDER));
  if (still?.nonce !== dead.nonce) {
    removeQuietly(guard, true);
    return false;
  }
  try {
    seam.renameSync(lock, graveyard);
  } catch {
    removeQuietly(guard, true);
    return false;
  }
  for (const name of ['holder', path.basename(guard)]) removeQuietly(path.join(graveyard, name), name !== 'holder');
  removeQuietly(graveyard, true);
  return true;
}

function readRecord(file: string): HolderRecord | null {
  try {
    return parseHolderRecord(seam.readFileSync(file, 'utf8') as string);
  } catch {
    return null;
  }
}

/** Time since `file` last changed; `missing` (0 unless said) when it is not there. */
function ageOf(file: string, now: number, missing = 0): number {
  try {
    return now - seam.statSync(file).mtimeMs;
  } catch {
    return missing;
  }
}

function removeQuietly(file: string, isDir: boolean): void {
  try {
    if (isDir) seam.rmdirSync(file);
    else seam.unlinkSync(file);
  } catch {
    /* gone, or not empty: left for the sweep */
  }
}

/** Creates `file` with `text`, never through a symlink and never over an existing file; `durable`: fsynced too. */
export function writeNew(file: string, text: string, durable = false): void {
  const fd = seam.openSync(file, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | (fs.constants.O_NOFOLLOW ?? 0), 0o600);
  try {
    shareCreatedFile(fd, file);
    writeAll(fd, Buffer.from(text, 'utf8'));
    if (durable) seam.fsyncSync(fd);
  } finally {
    seam.closeSync(fd);
  }
}
