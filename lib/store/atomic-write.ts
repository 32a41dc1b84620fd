import fs = require('fs');
import path = require('path');
import { StyxyError } from '../errors';
import { randomHex } from '../os/random';
import { faultPoint, seam, writeAll } from './fs-seam';
import { lockCompromised } from './lock-errors';
import { shareCreatedFile } from './shared-home';

/**
 * The lock holdings of this process: a directory whose files change only under the lock, mapped
 * to the holder's own directory inside the lock. Writes into that directory are staged there, so
 * that they land only while the holding lasts (see lock-dir.ts).
 */
const holdings = new Map<string, { stage: string; lock: string }>();

/** From now until the returned function is called, writes into `dir` are staged in `stage`, inside `lock`. */
export function stageWritesIn(dir: string, stage: string, lock: string): () => void {
  holdings.set(dir, { stage, lock });
  return () => {
    if (holdings.get(dir)?.stage === stage) holdings.delete(dir);
  };
}

/**
 * Replaces `file` with `data` so that readers see the old or the new content, never a mix:
 * write a temp file (O_EXCL|O_NOFOLLOW, mode 0600) looping until every byte is down (a single
 * write may be short on a nearly full disk), fsync, then rename over the target. The temp file
 * sits beside the target, or, under the lock, in the holder's own directory inside the lock: a
 * holder whose lock was taken over then finds that directory gone and fails with
 * LOCK_COMPROMISED instead of writing. A symlink in the target's place is refused, never written
 * through. `durable: false` skips the fsync, for records that mean nothing after a crash.
 */
export function writeFileAtomic(file: string, data: string, options: { durable?: boolean } = {}): void {
  refuseSymlink(file);
  const holding = holdings.get(path.dirname(file));
  const temp = holding ? path.join(holding.stage, `${path.basename(file)}.tmp-${process.pid}-${randomHex(4)}`) : `${file}.tmp-${process.pid}-${randomHex(4)}`;
  const buffer = Buffer.from(data, 'utf8');
  let fd: number | undefined;
  try {
    fd = seam.openSync(temp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | (fs.constants.O_NOFOLLOW ?? 0), 0o600);
    shareCreatedFile(fd, temp);
    writeAll(fd, buffer);
    if (options.durable !== false) seam.fsyncSync(fd);
    seam.closeSync(fd);
    fd = undefined;
    faultPoint('after-temp-write', file);
    faultPoint('before-rename', file);
    seam.renameSync(temp, file);
    faultPoint('after-rename', file);
  } catch (err) {
    if (fd !== undefined) {
      try {
        seam.closeSync(fd);
      } catch {
        /* already failing */
      }
    }
    try {
      seam.unlinkSync(temp);
    } catch {
      /* it may never have been created */
    }
    if (holding && (err as NodeJS.ErrnoException).code === 'ENOENT') throw lockCompromised(holding.lock, file);
    throw writeFailure(file, err);
  }
}

/**
 * Renames `from` to `to` (a file Styxy moves aside). Under the lock it passes through the
 * holder's directory, so that a holder whose lock was taken over moves nothing.
 */
export function renameUnderLock(from: string, to: string): void {
  const holding = holdings.get(path.dirname(to));
  if (!holding) {
    seam.renameSync(from, to);
    return;
  }
  const staged = path.join(holding.stage, path.basename(to));
  try {
    seam.renameSync(from, staged);
  } catch (err) {
    // `from` still there: the holder's directory is gone.
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' && exists(from)) throw lockCompromised(holding.lock, from);
    throw err;
  }
  try {
    seam.renameSync(staged, to);
  } catch (err) {
    // Taken over between the two renames: the taker has moved the file beside the lock.
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw lockCompromised(holding.lock, from);
    throw err;
  }
}

/**
 * Removes `file` (one Styxy made and no longer needs). Under the lock it is first renamed into
 * the holder's directory, so that a holder whose lock was taken over removes nothing. False when
 * it was not there.
 */
export function removeUnderLock(file: string): boolean {
  const holding = holdings.get(path.dirname(file));
  const target = holding ? path.join(holding.stage, `${path.basename(file)}.tmp-${process.pid}-${randomHex(4)}`) : file;
  if (holding) {
    try {
      seam.renameSync(file, target);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      if (exists(file)) throw lockCompromised(holding.lock, file);
      return false;
    }
  }
  try {
    seam.unlinkSync(target);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
  return true;
}

/** Whether anything, a dangling symlink included, stands at `file`. */
export function exists(file: string): boolean {
  try {
    seam.lstatSync(file);
    return true;
  } catch {
    return false;
  }
}

/** Appends to a file without following a symlink, creating it 0600. */
export function appendFileNoFollow(file: string, data: string): void {
  let fd: number | undefined;
  try {
    fd = seam.openSync(file, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_APPEND | (fs.constants.O_NOFOLLOW ?? 0), 0o600);
    shareCreatedFile(fd, file);
    writeAll(fd, Buffer.from(data, 'utf8'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOOP') refuseSymlink(file);
    throw writeFailure(file, err);
  } finally {
    if (fd !== undefined) seam.closeSync(fd);
  }
}

/**
 * Refuses a file that is a symbolic link: Styxy never writes, rotates or reads its own files
 * through one (a planted link would aim the write at anything the user can reach).
 */
export function refuseSymlink(file: string, never = 'writes through one'): void {
  let isLink: boolean;
  try {
    isLink = seam.lstatSync(file).isSymbolicLink();
  } catch {
    return;
  }
  if (isLink) {
    throw new StyxyError('UNSAFE_HOME', `${file} is a symbolic link; Styxy never ${never}`, {
      details: { path: file },
      suggestions: [`Inspect it, then remove the link itself: rm ${file}`],
    });
  }
}

export function writeFailure(file: string, err: unknown): StyxyError {
  if (err instanceof StyxyError) return err;
  const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
  const reason =
    code === 'ENOSPC' || code === 'EDQUOT'
      ? 'the disk is full'
      : code === 'EROFS'
        ? 'the file system is read-only'
        : code === 'EACCES' || code === 'EPERM'
          ? 'permission denied'
          : (err as Error).message;
  return new StyxyError('WRITE_FAILED', `Could not write ${file}: ${reason}; nothing was changed`, {
    cause: err,
    details: { path: file, errno: code },
    suggestions: code === 'ENOSPC' || code === 'EDQUOT' ? ['Free some disk space and try again'] : [],
  });
}
