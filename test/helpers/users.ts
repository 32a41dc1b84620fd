import { spawnSync, type SpawnSyncOptionsWithStringEncoding, type SpawnSyncReturns } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

/** Whether this test process is root, and so may make users (useradd) and become them (setpriv). */
export const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
export const canMakeUsers = asRoot && spawnSync('setpriv', ['--version']).status === 0 && spawnSync('useradd', ['--help']).status === 0;

export interface ScratchUser {
  name: string;
  uid: number;
  gid: number;
  /** Its home directory (its passwd entry's), mode 0700, owned by it. */
  home: string;
  /** Runs `command args…` as this user (setpriv, no supplementary groups). */
  spawn(command: string, args: string[], options: SpawnSyncOptionsWithStringEncoding): SpawnSyncReturns<string>;
  /** userdel -r: the account and its home. */
  remove(): void;
}

/**
 * A real account made with useradd, named `<prefix><random>`, whose home is made inside `dir`
 * (which is opened to it: mode 0755). Remove it with remove() in the test's teardown.
 */
export function makeScratchUser(dir: string, prefix: string): ScratchUser {
  const name = `${prefix}${Math.random().toString(36).slice(2, 8)}`;
  const home = path.join(dir, `home-${name}`);
  fs.chmodSync(dir, 0o755);
  const added = spawnSync('useradd', ['-M', '-d', home, '-s', '/bin/sh', '-U', name], { encoding: 'utf8' });
  if (added.status !== 0) throw new Error(`useradd ${name} failed: ${added.stderr}`);
  const id = (flag: string) => Number(spawnSync('id', [flag, name], { encoding: 'utf8' }).stdout.trim());
  const uid = id('-u');
  const gid = id('-g');
  fs.mkdirSync(home, { mode: 0o700 });
  fs.chownSync(home, uid, gid);
  return {
    name,
    uid,
    gid,
    home,
    spawn(command, args, options) {
      return spawnSync('setpriv', [`--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', command, ...args], options);
    },
    remove() {
      spawnSync('userdel', ['-r', name], { encoding: 'utf8' });
    },
  };
}
