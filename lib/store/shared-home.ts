import fs = require('fs');
import path = require('path');
import { seam } from './fs-seam';

/*
 * A shared home (docs/shared-machines.md): one `$STYXY_HOME` for several Unix users of a group,
 * a directory owned by that group with the setgid bit, group-writable, not world-writable. Its
 * files are created with the group (the setgid bit does that) and made readable and writable by
 * it (0660, directories 2770: the umask would take the group's write bit away), so that every
 * member can take over a dead member's lock, rewrite the state and append to the log.
 */

export const SHARED_FILE_MODE = 0o660;
export const SHARED_DIR_MODE = 0o2770;

/** What the home check found of a home: its owner, and its group when it is a shared home. */
export interface HomeFacts {
  ownerUid: number;
  /** The group whose members share the home; null for a private home. */
  sharedGid: number | null;
}

const homes = new Map<string, HomeFacts>();
let anyShared = false;

/** The group a home directory with this stat is shared with, or null when it is no shared home. */
export function sharedGroupOf(stat: { mode: number; gid: number }): number | null {
  const setgid = (stat.mode & 0o2000) !== 0;
  const groupWritable = (stat.mode & 0o020) !== 0;
  const worldWritable = (stat.mode & 0o002) !== 0;
  return setgid && groupWritable && !worldWritable ? stat.gid : null;
}

export function rememberHome(home: string, facts: HomeFacts): void {
  homes.set(home, facts);
  if (facts.sharedGid !== null) anyShared = true;
}

/** What the home check of this process found of `home`; undefined before it ran. */
export function homeFacts(home: string): HomeFacts | undefined {
  return homes.get(home);
}

/** The group of the shared home that `file` lies in (the home itself or below it), or null. */
export function sharedGroupAt(file: string): number | null {
  if (!anyShared) return null;
  for (const [home, facts] of homes) {
    if (facts.sharedGid !== null && (file === home || file.startsWith(home + path.sep))) return facts.sharedGid;
  }
  return null;
}

/** Whether this process may act as a member of `gid` (root may act as anyone). */
export function isMemberOf(gid: number): boolean {
  if (typeof process.getuid !== 'function') return true;
  if (process.getuid() === 0) return true;
  if (typeof process.getegid === 'function' && process.getegid() === gid) return true;
  return typeof process.getgroups === 'function' && process.getgroups().includes(gid);
}

/**
 * A file just opened with O_CREAT in a shared home is made 0660 when this process owns it and
 * the umask took bits away; one another member made is left as it is (only its owner may chmod).
 */
export function shareCreatedFile(fd: number, file: string): void {
  if (sharedGroupAt(file) === null) return;
  const stat = seam.fstatSync(fd);
  if ((stat.mode & 0o7777) !== SHARED_FILE_MODE && stat.uid === process.getuid?.()) seam.fchmodSync(fd, SHARED_FILE_MODE);
}

/** A directory this process just created in a shared home is made 2770 (the umask took the group's write). */
export function shareCreatedDir(dir: string): void {
  if (sharedGroupAt(dir) === null) return;
  try {
    seam.chmodSync(dir, SHARED_DIR_MODE);
  } catch (err) {
    // Gone already (an emptied queue removed by the last waiter out): nothing to share.
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

/** The name of group `gid` in /etc/group, for messages; null when it has none there. */
export function groupName(gid: number): string | null {
  let text: string;
  try {
    text = fs.readFileSync('/etc/group', 'utf8');
  } catch {
    return null;
  }
  for (const line of text.split('\n')) {
    const [name, , id] = line.split(':');
    if (name && id === String(gid)) return name;
  }
  return null;
}
