import fs = require('fs');
import type { SeenProcess } from '../core/holder';
import { isoTime } from '../core/time';
import { passwdName } from './identity';
import { namespaceNumber, readArgv, readPidNamespaceLink, readProcessStat, readStartedAt } from './processes';

/**
 * What this caller may learn of a process from /proc: its user, whole command line, working
 * directory, start time and PID namespace. A field the OS does not let it read is left out (the
 * cwd and namespace of another user's process, for one); null when the process is not visible.
 */
export function readProcessInfo(pid: number): SeenProcess | null {
  const stat = readProcessStat(pid);
  if (!stat) return null;
  const info: SeenProcess = { pid, startTime: stat.startTime };
  const uid = readUid(pid);
  if (uid !== undefined) {
    info.uid = uid;
    const user = passwdName(uid);
    if (user) info.user = user;
  }
  const argv = readArgv(pid);
  if (argv && argv.length > 0 && argv.join('') !== '') {
    info.argv = argv;
    info.command = argv.join(' ');
  }
  const cwd = readLink(`/proc/${pid}/cwd`);
  if (cwd) info.cwd = cwd;
  const startedAt = readStartedAt(stat.startTime);
  if (startedAt !== null) info.startedAt = isoTime(startedAt);
  const ns = readPidNamespace(pid);
  if (ns) info.pidNs = ns;
  if (isNamespaceInit(pid)) info.namespaceInit = true;
  return info;
}

/** The inode naming `pid`'s PID namespace (`pid:[4026531836]` → `4026531836`), where readable. */
export function readPidNamespace(pid: number | 'self'): string | undefined {
  return namespaceNumber(readPidNamespaceLink(pid)) ?? undefined;
}

export function readUid(pid: number): number | undefined {
  try {
    // The real uid: the first number of the Uid line.
    const match = /^Uid:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * `pid` is the init of a PID namespace: PID 1 here, or 1 in its innermost namespace (the last
 * NSpid field). Ending its tree ends every process of that namespace (a container, a sandbox).
 */
export function isNamespaceInit(pid: number): boolean {
  if (pid === 1) return true;
  try {
    const match = /^NSpid:\s*([\d\s]+)$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match !== null && (match[1] as string).trim().split(/\s+/).pop() === '1';
  } catch {
    return false;
  }
}

function readLink(file: string): string | undefined {
  try {
    return fs.readlinkSync(file);
  } catch {
    return undefined;
  }
}

/** `pid`'s parents, nearest first, each by PID and start time, up to init (at most 64). */
export function readAncestors(pid: number): { pid: number; startTime: string }[] {
  const ancestors: { pid: number; startTime: string }[] = [];
  let ppid = readProcessStat(pid)?.ppid ?? 0;
  for (let hops = 0; hops < 64 && ppid > 0; hops++) {
    const parent = readProcessStat(ppid);
    if (!parent) break;
    ancestors.push({ pid: parent.pid, startTime: parent.startTime });
    ppid = parent.ppid;
  }
  return ancestors;
}
