import os = require('os');
import path = require('path');

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

export function resolvePaths(env: NodeJS.ProcessEnv = process.env): StyxyPaths {
  const home = path.resolve(env.STYXY_HOME || path.join(os.homedir(), '.styxy'));
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

/** Temp files the writer leaves behind when it is killed mid-write: `<file>.tmp-<pid>-<hex>`. */
export const TEMP_FILE_PATTERN = /\.tmp-\d+-[0-9a-f]+$/;
