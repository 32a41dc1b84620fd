import * as path from 'path';
import { StyxyError, isStyxyError } from '../errors';
import { seam } from '../store/fs-seam';
import { checkFileSafety, checkHomeSafety } from '../store/home';
import { loadConfig } from '../store/config-files';
import { describeLockHolder, isDeadLockLeftover, LOCK_STALE_MS } from '../store/lock';
import { TEMP_FILE_PATTERN } from '../store/paths';
import { inspectStateFile } from '../store/state-file';
import type { TransactionContext } from '../store/transaction';

export type CheckStatus = 'ok' | 'warn' | 'fail';

export interface DoctorCheck {
  name: string;
  status: CheckStatus;
  message: string;
  remedy?: string;
}

export interface DoctorResult {
  success: true;
  healthy: boolean;
  checks: DoctorCheck[];
}

/**
 * `styxy doctor`: looks at everything Styxy keeps without taking the lock or changing a file
 * (it must work when the lock is stuck). Fails with NEEDS_ATTENTION when a check fails.
 */
export function runDoctor(ctx: TransactionContext): DoctorResult {
  const { paths } = ctx;
  const checks: DoctorCheck[] = [];
  const attempt = (name: string, fn: () => DoctorCheck | null): void => {
    try {
      const check = fn();
      if (check) checks.push(check);
    } catch (err) {
      checks.push({
        name,
        status: 'fail',
        message: (err as Error).message,
        ...(isStyxyError(err) && err.suggestions[0] !== undefined && { remedy: err.suggestions[0] }),
      });
    }
  };

  let homeExists = true;
  attempt('home', () => {
    try {
      seam.statSync(paths.home);
    } catch {
      homeExists = false;
      return { name: 'home', status: 'ok', message: `${paths.home} does not exist yet; the first allocation creates it` };
    }
    checkHomeSafety(paths.home);
    return { name: 'home', status: 'ok', message: `${paths.home} is yours and private` };
  });
  if (homeExists) {
    attempt('files', () => {
      const present = [paths.state, paths.config, paths.audit].filter((file) => checkFileSafety(file)).map((f) => path.basename(f));
      return { name: 'files', status: 'ok', message: present.length ? `${present.join(', ')}: regular files, yours, not writable by others` : 'none yet' };
    });
  }
  attempt('config', () => {
    const loaded = loadConfig(paths, ctx.cwd);
    const files = [loaded.projectFile, loaded.userFile].filter(Boolean);
    return { name: 'config', status: 'ok', message: `valid (${files.length ? files.join(', ') : 'built-in defaults only'})` };
  });
  attempt('state', () => {
    const content = inspectStateFile(paths);
    if (content.kind === 'missing') return { name: 'state', status: 'ok', message: 'no state yet' };
    if (content.kind === 'unusable') {
      return { name: 'state', status: 'fail', message: `state.json is unusable: ${content.reason}`, remedy: 'The next styxy call moves it aside and starts afresh' };
    }
    const count = content.state.allocations.length;
    return { name: 'state', status: 'ok', message: `valid, ${count} allocation${count === 1 ? '' : 's'} recorded` };
  });
  attempt('lock', () => {
    let mtime: number;
    try {
      mtime = seam.statSync(paths.lock).mtimeMs;
    } catch {
      return { name: 'lock', status: 'ok', message: 'not held' };
    }
    const holder = describeLockHolder(paths);
    const age = ctx.now() - mtime;
    if (holder?.alive === false || (!holder && age > LOCK_STALE_MS)) {
      return {
        name: 'lock',
        status: 'fail',
        message: `stale lock ${paths.lock}${holder ? ` left by ${holder.text}` : ' with no holder record'}, ${Math.round(age / 1000)} s old`,
        remedy: `The next styxy call takes it over; or remove it: rm -r ${paths.lock}`,
      };
    }
    return { name: 'lock', status: 'ok', message: `held${holder ? ` by ${holder.text}` : ''}` };
  });
  if (homeExists) {
    attempt('leftovers', () => {
      const names = seam.readdirSync(paths.home) as string[];
      const temps = names.filter((n) => TEMP_FILE_PATTERN.test(n) || isDeadLockLeftover(n));
      const corrupt = names.filter((n) => n.startsWith('state.json.corrupt-'));
      if (temps.length > 0) {
        return { name: 'leftovers', status: 'warn', message: `${temps.length} temp file(s) from an interrupted write: ${temps.join(', ')}`, remedy: 'The next styxy call sweeps them' };
      }
      if (corrupt.length > 0) {
        return { name: 'leftovers', status: 'warn', message: `${corrupt.length} corrupt state file(s) kept for inspection: ${corrupt.join(', ')}`, remedy: `Remove them when done: rm ${paths.home}/state.json.corrupt-*` };
      }
      return { name: 'leftovers', status: 'ok', message: 'no temp files' };
    });
  }

  const healthy = checks.every((c) => c.status !== 'fail');
  const result: DoctorResult = { success: true, healthy, checks };
  if (!healthy) {
    const failed = checks.filter((c) => c.status === 'fail');
    throw new StyxyError('NEEDS_ATTENTION', `${failed.length} check(s) need attention: ${failed.map((c) => c.name).join(', ')}`, {
      details: { checks },
      suggestions: failed.map((c) => c.remedy).filter((r): r is string => r !== undefined),
    });
  }
  return result;
}
