import path = require('path');
import { faultPoint, seam } from './fs-seam';
import type { StyxyPaths } from './paths';

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
  seam.mkdirSync(paths.backups, { recursive: true, mode: 0o700 });
  const stamp = new Date(now).toISOString().replace(/[:.]/g, '-');
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

/** Keeps the newest ten backups. */
export function pruneBackups(paths: StyxyPaths): void {
  const backups = (seam.readdirSync(paths.backups) as string[]).filter((f) => f.startsWith('config.json.')).sort();
  for (const old of backups.slice(0, Math.max(0, backups.length - BACKUPS_KEPT))) {
    seam.unlinkSync(path.join(paths.backups, old));
  }
}

function exists(file: string): boolean {
  try {
    seam.lstatSync(file);
    return true;
  } catch {
    return false;
  }
}
