import fs = require('fs');
import path = require('path');
import { findRemoteUrl, normalizeRemoteUrl, type ProjectIdentity } from '../core/origin';

/**
 * The project a call belongs to: the nearest directory upward holding `.git` (a directory, or
 * the file a worktree has, so each worktree is its own project), else `cwd` itself. Found
 * without running git.
 */
export function findProjectRoot(cwd: string): string {
  const start = path.resolve(cwd);
  let dir = start;
  for (;;) {
    try {
      // Not there is the common answer: told without an exception (each costs ~30 µs, the first far more).
      if (fs.statSync(path.join(dir, '.git'), { throwIfNoEntry: false })) return dir;
    } catch {
      /* unreadable: keep looking */
    }
    const parent = path.dirname(dir);
    if (parent === dir) return start;
    dir = parent;
  }
}

/** `.git` (a worktree's `gitdir:` line) and `commondir` are a line each; anything longer is not git's. */
const POINTER_MAX_BYTES = 4 * 1024;
/** A repository's `config` is a few kB; a megabyte leaves room for long include lists. */
const CONFIG_MAX_BYTES = 1024 * 1024;

/**
 * A small regular file's text, or null: not there, unreadable, not a regular file (a FIFO, a
 * device such as /dev/zero, a directory) or longer than `limit`. These files are in the checked-out
 * tree, which anyone may have shaped: opened without blocking (a FIFO would wait for a writer
 * forever), checked on the open descriptor, and read no further than the limit (a device or
 * a /proc file need not say its size). Symlinks are followed, as git follows them: what they
 * lead to is checked the same way.
 */
function readSmallRegularFile(file: string, limit: number): string | null {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0) | (fs.constants.O_NOCTTY ?? 0));
  } catch {
    return null;
  }
  try {
    const stat = fs.fstatSync(fd);
    if (!stat.isFile() || stat.size > limit) return null;
    const buffer = Buffer.alloc(limit + 1);
    let length = 0;
    for (;;) {
      const n = fs.readSync(fd, buffer, length, buffer.length - length, null);
      if (n === 0) break;
      length += n;
      if (length > limit) return null;
    }
    return buffer.toString('utf8', 0, length);
  } catch {
    return null;
  } finally {
    fs.closeSync(fd);
  }
}

/** Whether anything is at `file` (asked without an exception when not); an error counts as there, to be read and refused. */
function exists(file: string): boolean {
  try {
    return fs.statSync(file, { throwIfNoEntry: false }) !== undefined;
  } catch {
    return true;
  }
}

/** Whether `file` is there as what `kind` says, following symlinks; false on any error. */
function isThere(file: string, kind: 'file' | 'directory'): boolean {
  try {
    const stat = fs.statSync(file, { throwIfNoEntry: false });
    return stat !== undefined && (kind === 'file' ? stat.isFile() : stat.isDirectory());
  } catch {
    return false;
  }
}

/**
 * What names the project across machines (see core/origin.ts), read from the repository's files
 * without running git: `.git` is the repository's directory (the main checkout), or a file
 * `gitdir: <dir>` of a linked worktree, whose `<dir>/commondir` leads to the repository. The
 * remote comes from the repository's `config`. Null outside a repository: a directory's path
 * differs from machine to machine, so a port derived from it would promise nothing that the
 * learned home port does not already give. Null too when anything is not as git writes it (a
 * pointer to a directory that is no git directory, a file too large, a FIFO or device): no
 * derived port then, never an error and never a wait.
 */
export function readProjectIdentity(projectRoot: string): ProjectIdentity | null {
  const dotGit = path.join(projectRoot, '.git');
  let gitDir: string;
  let worktree = '';
  try {
    const stat = fs.statSync(dotGit, { throwIfNoEntry: false });
    if (!stat) return null;
    if (stat.isDirectory()) gitDir = dotGit;
    else {
      const text = readSmallRegularFile(dotGit, POINTER_MAX_BYTES);
      const pointer = text === null ? null : /^gitdir:\s*(.+?)\s*$/m.exec(text);
      if (!pointer?.[1]) return null;
      gitDir = path.resolve(projectRoot, pointer[1]);
    }
  } catch {
    return null;
  }
  // Every git directory has HEAD (git's own test for one): a pointer elsewhere (`gitdir: /etc`) names nothing.
  if (!isThere(path.join(gitDir, 'HEAD'), 'file')) return null;
  let commonDir = gitDir;
  // Asked first, so that the main checkout (no commondir) costs no exception on this path.
  const commondir = path.join(gitDir, 'commondir');
  if (exists(commondir)) {
    const text = readSmallRegularFile(commondir, POINTER_MAX_BYTES);
    if (text === null || text.trim() === '') return null;
    commonDir = path.resolve(gitDir, text.trim());
    // A repository holds its objects: a commondir leading anywhere else names nothing.
    if (!isThere(path.join(commonDir, 'objects'), 'directory')) return null;
    // A linked worktree: git names it after its directory when it is added (.git/worktrees/<name>).
    worktree = path.basename(gitDir);
  }
  const config = path.join(commonDir, 'config');
  let remote: string | null = null;
  if (exists(config)) {
    const text = readSmallRegularFile(config, CONFIG_MAX_BYTES);
    if (text === null) return null;
    remote = findRemoteUrl(text);
  }
  if (remote) return { repository: `git:${normalizeRemoteUrl(remote)}`, worktree };
  // Without a remote, the repository's own directory: its checkout, or the bare repository.
  const repository = path.basename(commonDir) === '.git' ? path.dirname(commonDir) : commonDir;
  return { repository: `path:${repository}`, worktree };
}

/**
 * A project directory is gone only when the path is certainly missing (ENOENT or ENOTDIR);
 * one that cannot be read (permissions, a hung mount) is kept.
 */
export function isGoneDirectory(dir: string): boolean {
  try {
    fs.statSync(dir);
    return false;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOENT' || code === 'ENOTDIR';
  }
}
