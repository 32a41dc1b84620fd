import fs = require('fs');
import path = require('path');

/**
 * The `scripts` of the package.json that npm, pnpm and yarn would use from `cwd`: the nearest one
 * upward. Null when there is none or it cannot be read as JSON.
 */
export function readPackageScripts(cwd: string): Record<string, string> | null {
  let dir = path.resolve(cwd);
  for (;;) {
    let text: string | undefined;
    try {
      text = fs.readFileSync(path.join(dir, 'package.json'), 'utf8');
    } catch {
      /* keep looking */
    }
    if (text !== undefined) {
      try {
        const scripts = (JSON.parse(text) as { scripts?: unknown }).scripts;
        if (!scripts || typeof scripts !== 'object') return null;
        return Object.fromEntries(Object.entries(scripts).filter((e): e is [string, string] => typeof e[1] === 'string'));
      } catch {
        return null;
      }
    }
    const parent = path.dirname(dir);
    if (parent === dir) return null;
    dir = parent;
  }
}

/** The directory of the package.json that npm, pnpm and yarn would use from `cwd` (the nearest upward), or null. */
export function findPackageDir(cwd: string): string | null {
  let dir = path.resolve(cwd);
  for (;;) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
    const parent = path.dirname(dir);
    if (parent === dir) return null;
    dir = parent;
  }
}
