import path = require('path');
import { StyxyError } from '../errors';
import { shellWord } from '../core/shell-word';
import { osModule } from '../os/identity';

/** Every file Styxy keeps, all inside `$STYXY_HOME`. */
export interface StyxyPaths {
  home: string;
  state: string;
  lock: string;
  lockHolder: string;
  config: string;
  backups: string;
  audit: string;
}

/**
 * Where Styxy keeps its files. `STYXY_HOME` must be absolute: a relative one would give each
 * working directory a state of its own, and two directories would be handed the same port.
 */
export function resolvePaths(env: NodeJS.ProcessEnv = process.env): StyxyPaths {
  const configured = env.STYXY_HOME;
  if (configured && !path.isAbsolute(configured)) {
    throw new StyxyError('INVALID_ARGUMENT', `STYXY_HOME must be an absolute path, got ${JSON.stringify(configured)}`, {
      details: { variable: 'STYXY_HOME', value: configured },
      suggestions: [`Give the full path, e.g. export STYXY_HOME=${shellWord(path.resolve(configured))}, or unset it to use ~/.styxy: unset STYXY_HOME`],
    });
  }
  const home = path.resolve(configured || path.join(accountHome(env), '.styxy'));
  const state = path.join(home, 'state.json');
  return {
    home,
    state,
    lock: `${state}.lock`,
    lockHolder: `${state}.lock/holder`,
    config: path.join(home, 'config.json'),
    backups: path.join(home, 'backups'),
    audit: path.join(home, 'audit.log'),
  };
}

/** `$HOME`, or the account's home directory when HOME is empty or relative. */
function accountHome(env: NodeJS.ProcessEnv): string {
  const fromEnv = env.HOME;
  if (fromEnv && path.isAbsolute(fromEnv)) return fromEnv;
  let fromAccount: string | undefined;
  try {
    fromAccount = osModule().userInfo().homedir;
  } catch {
    /* no passwd entry */
  }
  if (fromAccount && path.isAbsolute(fromAccount)) return fromAccount;
  // Windows has no HOME: os.homedir() asks USERPROFILE and the account. It throws where there is
  // neither HOME nor an account (a container's uid with no passwd entry).
  let fallback: string | undefined;
  try {
    fallback = osModule().homedir();
  } catch {
    /* no home at all */
  }
  if (fallback && path.isAbsolute(fallback)) return fallback;
  // UNSAFE_HOME, the code of every home Styxy cannot use: there is none to use.
  throw new StyxyError(
    'UNSAFE_HOME',
    `Cannot tell where to keep Styxy's files: HOME is ${fromEnv ? JSON.stringify(fromEnv) : 'not set'} and this account has no home directory`,
    {
      details: { variable: 'HOME', value: fromEnv ?? null },
      suggestions: ['Set STYXY_HOME to an absolute path of your own: export STYXY_HOME=/var/tmp/styxy-$(id -u)'],
    },
  );
}

/** Temp files the writer leaves behind when it is killed mid-write: `<file>.tmp-<pid>-<hex>`. */
export const TEMP_FILE_PATTERN = /\.tmp-\d+-[0-9a-f]+$/;

/** Where records that fail their shape are kept: `state.rejected-<time>.json`, never removed by Styxy. */
export const REJECTED_FILE_PATTERN = /^state\.rejected-[0-9TZ-]+(-\d+)?\.json$/;
