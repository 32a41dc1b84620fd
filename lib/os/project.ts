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

/**
 * What names the project across machines (see core/origin.ts), read from the repository's files
 * without running git: `.git` is the repository's directory (the main checkout), or a file
 * `gitdir: <dir>` of a linked worktree, whose `<dir>/commondir` leads to the repository. The
 * remote comes from the repository's `config`. Null outside a repository: a directory's path
 * differs from machine to machine, so a port derived from it would promise nothing that the
 * learned home port does not already give.
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
      const pointer = /^gitdir:\s*(.+?)\s*$/m.exec(fs.readFileSync(dotGit, 'utf8'));
      if (!pointer?.[1]) return null;
      gitDir = path.resolve(projectRoot, pointer[1]);
    }
  } catch {
    return null;
  }
  let commonDir = gitDir;
  try {
    // Asked first, so that the main checkout (no commondir) costs no exception on this path.
    const commondir = path.join(gitDir, 'commondir');
    if (fs.statSync(commondir, { throwIfNoEntry: false })) {
      commonDir = path.resolve(gitDir, fs.readFileSync(commondir, 'utf8').trim());
      // A linked worktree: git names it after its directory when it is added (.git/worktrees/<name>).
      worktree = path.basename(gitDir);
    }
  } catch {
    /* unreadable: taken for the main checkout */
  }
  let remote: string | null = null;
  try {
    remote = findRemoteUrl(fs.readFileSync(path.join(commonDir, 'config'), 'utf8'));
  } catch {
    /* unreadable config: named by its path */
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
