import fs = require('fs');
import path = require('path');

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
      fs.statSync(path.join(dir, '.git'));
      return dir;
    } catch {
      /* keep looking */
    }
    const parent = path.dirname(dir);
    if (parent === dir) return start;
    dir = parent;
  }
}
