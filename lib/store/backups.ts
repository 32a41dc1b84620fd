import path = require('path');
import { StyxyError } from '../errors';
import { exists } from './atomic-write';
import { faultPoint, seam } from './fs-seam';
import type { StyxyPaths } from './paths';
import { isoTime } from '../core/time';
import { shareCreatedDir } from './shared-home';

export const BACKUPS_KEPT = 10;

/**
 * Copies config.json to `backups/config.json.<timestamp>` before it is rewritten. Returns the
 * backup's path, or null when there was no config to copy. Old backups are dropped by
 * `pruneBackups` once the change has committed, so that a failed change leaves them as they were.
 */
export function backupConfig(paths: StyxyPaths, now: number): string | null {
  try {
    seam.lstatSync(paths.config);
  } catch {
    return null;
  }
  ensureBackupsDir(paths);
  const stamp = isoTime(now).replace(/[:.]/g, '-');
  let target = path.join(paths.backups, `config.json.${stamp}`);
  for (let n = 1; exists(target); n++) target = path.join(paths.backups, `config.json.${stamp}-${n}`);
  try {
    seam.copyFileSync(paths.config, target);
    faultPoint('during-backup');
  } catch (err) {
    try {
      seam.unlinkSync(target);
    } catch {
      /* the copy never started */
    }
    throw err;
  }
  return target;
}

/** Keeps the newest ten backups. Only regular files in a real `backups/` directory are ever removed. */
export function pruneBackups(paths: StyxyPaths): void {
  if (!isRealDirectory(paths.backups)) return;
  const backups = (seam.readdirSync(paths.backups) as string[]).filter((f) => f.startsWith('config.json.')).sort();
  for (const old of backups.slice(0, Math.max(0, backups.length - BACKUPS_KEPT))) {
    const file = path.join(paths.backups, old);
    if (seam.lstatSync(file).isFile()) seam.unlinkSync(file);
  }
}

/**
 * Creates `backups/` (0700) when missing. A symlink in its place is refused with UNSAFE_HOME:
 * pruning through it would delete another directory's files.
 */
function ensureBackupsDir(paths: StyxyPaths): void {
  if (isRealDirectory(paths.backups)) return;
  seam.mkdirSync(paths.backups, { mode: 0o700 });
  shareCreatedDir(paths.backups);
}

/** True for a directory, false when missing; UNSAFE_HOME for a symlink or anything else. */
function isRealDirectory(dir: string): boolean {
  let stat;
  try {
    stat = seam.lstatSync(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
  if (stat.isDirectory()) return true;
  throw new StyxyError(
    'UNSAFE_HOME',
    `${dir} is ${stat.isSymbolicLink() ? 'a symbolic link' : 'not a directory'}; Styxy never writes or removes backups through one`,
    {
      details: { path: dir },
      suggestions: [`Inspect it, then move it away: mv ${dir} ${dir}.moved`],
    },
  );
}
