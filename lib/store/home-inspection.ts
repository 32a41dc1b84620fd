import fs = require('fs');
import path = require('path');
import { seam } from './fs-seam';
import { isDeadLockLeftover } from './lock';
import { REJECTED_FILE_PATTERN, TEMP_FILE_PATTERN } from './paths';

/*
 * What `styxy doctor` reads of the home and of the filesystem under it, each a plain fact and
 * nothing changed, so that the doctor's checks are judgements over values (lib/app/doctor-checks.ts).
 */

export function homeExists(home: string): boolean {
  try {
    seam.statSync(home);
    return true;
  } catch {
    return false;
  }
}

/** Whether this process may create files in `dir` (the owner's write bit can be off). */
export function isWritableDir(dir: string): boolean {
  try {
    fs.accessSync(dir, fs.constants.W_OK);
    return true;
  } catch {
    return false;
  }
}

export interface RootOwnership {
  /** The owner of the directory that holds the home. */
  parentUid: number;
  /** The home, or entries in it, that belong to root. */
  rootOwned: string[];
}

/**
 * What a `sudo styxy` run with the user's HOME leaves behind: the home, or files in it, owned by
 * root inside a directory that is not root's. Null when the parent cannot be seen or is root's.
 */
export function readRootOwnership(home: string): RootOwnership | null {
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
  return { parentUid, rootOwned };
}

export interface HomeLeftovers {
  /** Temp files of interrupted writes, and lock directories of ended callers: the next call sweeps them. */
  temps: string[];
  /** State files moved aside as unusable, kept for the user to look at. */
  corrupt: string[];
  /** Records that failed their shape, set aside one by one (state.rejected-<time>.json), kept for the user to look at. */
  rejected: string[];
}

export function readHomeLeftovers(home: string): HomeLeftovers {
  const names = seam.readdirSync(home) as string[];
  return {
    temps: names.filter((n) => TEMP_FILE_PATTERN.test(n) || isDeadLockLeftover(n)),
    corrupt: names.filter((n) => n.startsWith('state.json.corrupt-') || /^state\.settled-[0-9a-f]{16}\.json\.(corrupt|orphan)-/.test(n)),
    rejected: names.filter((n) => REJECTED_FILE_PATTERN.test(n)).sort(),
  };
}

export interface DiskSpace {
  /** The filesystem was looked at here: the home, or the nearest directory above it that exists. */
  dir: string;
  freeBytes: number;
  blockSize: number;
  freeInodes: number;
  inodes: number;
  /** The sizes of the files a write copies (state.json, config.json), summed. */
  filesBytes: number;
}

/** Room on the home's filesystem; null where Node cannot tell (no statfs). */
export function readDiskSpace(home: string, files: readonly string[]): DiskSpace | null {
  if (typeof fs.statfsSync !== 'function') return null;
  const dir = nearestExisting(home);
  const stats = fs.statfsSync(dir);
  const filesBytes = files.reduce((sum, file) => {
    try {
      return sum + seam.statSync(file).size;
    } catch {
      return sum;
    }
  }, 0);
  return { dir, freeBytes: stats.bavail * stats.bsize, blockSize: stats.bsize, freeInodes: stats.ffree, inodes: stats.files, filesBytes };
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
