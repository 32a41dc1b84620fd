import path = require('path');
import { StyxyError } from '../errors';
import { shellWord } from '../core/shell-word';
import { seam } from './fs-seam';
import type { StyxyPaths } from './paths';
import { osModule } from '../os/identity';
import { groupName, isMemberOf, rememberHome, sharedGroupAt, sharedGroupOf } from './shared-home';

const SHARED_DOCS = 'docs/shared-machines.md';

const currentUid = (): number | null => (typeof process.getuid === 'function' ? process.getuid() : null);

/**
 * Creates `$STYXY_HOME` (0700) when missing and refuses one that another user owns or that
 * group/others may write, like ssh refuses such a `~/.ssh`; except a shared home (a setgid
 * directory its group may write and others may not: lib/store/shared-home.ts) for a member of
 * that group, or root.
 */
export function ensureHome(paths: StyxyPaths): void {
  if (currentUid() === 0) refuseRootInUserHome(paths.home);
  try {
    seam.mkdirSync(paths.home, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new StyxyError('WRITE_FAILED', `Cannot create Styxy's home ${paths.home}: ${(err as Error).message}`, {
      cause: err,
      suggestions: ['Use a home you can write: export STYXY_HOME="$HOME/.styxy"'],
    });
  }
  checkHomeSafety(paths.home);
}

export function checkHomeSafety(home: string): void {
  const stat = seam.statSync(home);
  if (!stat.isDirectory()) {
    throw new StyxyError('UNSAFE_HOME', `${home} is not a directory`, {
      details: { path: home },
      suggestions: [`Inspect it, then move it away: mv ${shellWord(home)} ${shellWord(`${home}.moved`)}`],
    });
  }
  const sharedGid = sharedGroupOf(stat);
  if (sharedGid !== null) {
    if (currentUid() !== null && !isMemberOf(sharedGid)) throw notAMember(home, sharedGid);
    rememberHome(home, { ownerUid: stat.uid, sharedGid });
    return;
  }
  if (currentUid() !== null && isUnfinishedSharedHome(stat)) throw unfinishedSharedHome(home, stat.gid);
  checkOwnership(home, stat.uid, stat.mode, true);
  rememberHome(home, { ownerUid: stat.uid, sharedGid: null });
}

/**
 * Another user's directory of a group the caller is in, that the group may write and others may not, but
 * without the setgid bit: meant as a shared home, most likely, with one step missing (without
 * the bit, files would get each creator's own group).
 */
function isUnfinishedSharedHome(stat: { uid: number; gid: number; mode: number }): boolean {
  const groupWritable = (stat.mode & 0o020) !== 0;
  const worldWritable = (stat.mode & 0o002) !== 0;
  return groupWritable && !worldWritable && (stat.mode & 0o2000) === 0 && stat.uid !== currentUid() && currentUid() !== 0 && isMemberOf(stat.gid);
}

function unfinishedSharedHome(home: string, gid: number): StyxyError {
  const group = groupName(gid) ?? String(gid);
  return new StyxyError('UNSAFE_HOME', `${home} is writable by group ${group} but is not set up as a shared home (no setgid bit)`, {
    details: { path: home, gid, group },
    suggestions: [
      `To share it with group ${group}, its owner or an administrator sets the bit: chmod g+s ${shellWord(home)} (see ${SHARED_DOCS})`,
      'Or use a home of your own: unset STYXY_HOME (the default is ~/.styxy)',
    ],
  });
}

function notAMember(home: string, gid: number): StyxyError {
  const group = groupName(gid) ?? String(gid);
  return new StyxyError('UNSAFE_HOME', `${home} is a shared home of group ${group}, and you are not a member of it`, {
    details: { path: home, gid, group },
    suggestions: [
      `Ask an administrator to add you: sudo usermod -aG ${shellWord(group)} "$(id -un)" (then log in again)`,
      'Or use a home of your own: unset STYXY_HOME (the default is ~/.styxy)',
      `See ${SHARED_DOCS}`,
    ],
  });
}

/** A file of a shared home: any member's, but the home's group, readable and writable by it, and not by others. */
function checkSharedFile(file: string, gid: number, stat: { gid: number; mode: number }): void {
  const mode = (stat.mode & 0o777).toString(8);
  if ((stat.mode & 0o002) !== 0) {
    throw new StyxyError('UNSAFE_HOME', `${file} is writable by others (mode ${mode})`, {
      details: { path: file, mode },
      suggestions: [`Restrict it: chmod o-w ${shellWord(file)}`],
    });
  }
  if (stat.gid !== gid) {
    const group = groupName(gid) ?? String(gid);
    throw new StyxyError('UNSAFE_HOME', `${file} belongs to group ${groupName(stat.gid) ?? stat.gid}, not to the shared home's group ${group}`, {
      details: { path: file, gid: stat.gid, homeGid: gid },
      suggestions: [`Give it to the group (its owner or root): chgrp ${shellWord(group)} ${shellWord(file)} && chmod g+rw ${shellWord(file)}`],
    });
  }
  if ((stat.mode & 0o060) !== 0o060) {
    throw new StyxyError('UNSAFE_HOME', `${file} is in a shared home but not readable and writable by its group (mode ${mode})`, {
      details: { path: file, mode },
      suggestions: [`Let the group use it (its owner or root): chmod g+rw ${shellWord(file)}`],
    });
  }
}

/**
 * Refuses a file of Styxy's that is a symlink, belongs to another user or is writable by
 * group/others. Returns false when the file does not exist.
 */
export function checkFileSafety(file: string): boolean {
  let stat;
  try {
    stat = seam.lstatSync(file, { throwIfNoEntry: false });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
  if (!stat) return false;
  if (stat.isSymbolicLink()) {
    throw new StyxyError('UNSAFE_HOME', `${file} is a symbolic link; Styxy never reads or writes through one`, {
      details: { path: file },
      suggestions: [`Inspect it, then remove it: rm ${file}`],
    });
  }
  if (!stat.isFile()) throw new StyxyError('UNSAFE_HOME', `${file} is not a regular file`, { details: { path: file } });
  const sharedGid = sharedGroupAt(file);
  if (sharedGid !== null) checkSharedFile(file, sharedGid, stat);
  else checkOwnership(file, stat.uid, stat.mode, false);
  return true;
}

function checkOwnership(file: string, uid: number, mode: number, isHome: boolean): void {
  const me = currentUid();
  if (me === null) return; // Windows has neither uids nor these mode bits.
  if (uid !== me) {
    throw new StyxyError('UNSAFE_HOME', `${file} belongs to uid ${uid}, not to you (uid ${me})`, {
      details: { path: file, owner: uid },
      suggestions:
        me === 0
          ? rootSuggestions(uid)
          : uid === 0
            ? [
                // Only root can give a file back; a file root made (a sudo run) is given back through sudo.
                `It was made by root (a sudo run?); give it back: sudo chown -R "$(id -u):$(id -g)" ${shellWord(file)}`,
                `Or use a home of your own: export STYXY_HOME="$HOME/.styxy-$(id -u)"`,
              ]
            : // Another user's home is theirs: never suggest taking it. Use one's own, or share properly.
              [
                `It is another user's (uid ${uid}); use a home of your own: unset STYXY_HOME (the default is ~/.styxy), or export STYXY_HOME="$HOME/.styxy"`,
                `To share ports with other users on this machine, set up a shared home for your group instead: see ${SHARED_DOCS}`,
              ],
    });
  }
  if ((mode & 0o022) !== 0) {
    const setgid = (mode & 0o2000) !== 0;
    throw new StyxyError('UNSAFE_HOME', `${file} is writable by group or others (mode ${(mode & 0o777).toString(8)})`, {
      details: { path: file, mode: (mode & 0o777).toString(8) },
      suggestions: [
        `Restrict it: chmod go-w ${shellWord(file)}`,
        // A group-writable home is refused unless it is set up as a shared one (setgid, no world write).
        ...(isHome && (mode & 0o002) === 0 && !setgid
          ? [`Or, to share it with its group, make it a shared home: chmod g+s ${shellWord(file)} (see ${SHARED_DOCS})`]
          : []),
      ],
    });
  }
}

interface Account {
  name: string;
  uid: number;
  home: string;
}

/**
 * Root (say, `sudo -E styxy ...`) never creates or writes a home inside another user's home
 * directory: the files it made there would belong to root, and their owner would be locked out
 * of their own Styxy. A directory counts as a user's home when it is that account's home in the
 * password database and that user owns it, or when it is the home of the user sudo ran for.
 */
function refuseRootInUserHome(home: string): void {
  const accounts = readAccounts();
  const sudoUser = process.env.SUDO_USER;
  const sudoAccount = sudoUser ? accounts.find((a) => a.name === sudoUser && a.uid !== 0) : undefined;
  for (let dir = home; ; dir = path.dirname(dir)) {
    let owner: Account | undefined = sudoAccount && sudoAccount.home === dir ? sudoAccount : undefined;
    if (!owner) {
      try {
        const uid = seam.statSync(dir).uid;
        if (uid !== 0) owner = accounts.find((a) => a.uid === uid && a.home === dir);
      } catch {
        /* not there yet */
      }
    }
    if (owner) throw rootInUserHome(home, owner, sudoAccount !== undefined);
    if (path.dirname(dir) === dir) return;
  }
}

function rootInUserHome(home: string, owner: Account, viaSudo: boolean): StyxyError {
  const command = styxyCommand();
  const rootHome = path.join(safeRootHome(), '.styxy');
  return new StyxyError(
    'UNSAFE_HOME',
    `Running as root, Styxy will not create or write ${home}: it lies in ${owner.home}, the home directory of ${owner.name} (uid ${owner.uid}), who would be locked out of files root made there`,
    {
      details: { path: home, user: owner.name, uid: owner.uid, userHome: owner.home },
      suggestions: [
        viaSudo ? `Run it as ${owner.name}, without sudo: ${command}` : `Run it as ${owner.name}: runuser -u ${shellWord(owner.name)} -- ${command}`,
        `Or give root a home of its own: ${viaSudo ? 'sudo ' : ''}env STYXY_HOME=${shellWord(rootHome)} ${command}`,
      ],
    },
  );
}

/** Root meets a user's file: run as that user, or give root a home of its own; never take the file. */
function rootSuggestions(uid: number): string[] {
  const owner = readAccounts().find((a) => a.uid === uid);
  const command = styxyCommand();
  return [
    owner
      ? `Run it as ${owner.name}, who owns it: runuser -u ${shellWord(owner.name)} -- ${command}`
      : `Run it as uid ${uid}, who owns it: setpriv --reuid=${uid} --regid=${uid} --clear-groups ${command}`,
    `Or give root a home of its own: env STYXY_HOME=${shellWord(path.join(safeRootHome(), '.styxy'))} ${command}`,
  ];
}

/** This very command line, as a shell would take it. */
function styxyCommand(): string {
  const args = process.argv.slice(2).map(shellWord).join(' ');
  return `styxy${args ? ` ${args}` : ''}`;
}

function safeRootHome(): string {
  try {
    return osModule().userInfo().homedir || '/root';
  } catch {
    return '/root';
  }
}

/** The accounts of /etc/passwd (none where there is no such file). */
function readAccounts(): Account[] {
  let text: string;
  try {
    text = seam.readFileSync('/etc/passwd', 'utf8') as string;
  } catch {
    return [];
  }
  const accounts: Account[] = [];
  for (const line of text.split('\n')) {
    const [name, , uid, , , dir] = line.split(':');
    if (name && uid && dir && path.isAbsolute(dir) && dir !== '/') accounts.push({ name, uid: Number(uid), home: path.resolve(dir) });
  }
  return accounts;
}
