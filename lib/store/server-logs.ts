import fs = require('fs');
import path = require('path');
import { fnv1a32 } from '../core/origin';
import { StyxyError } from '../errors';
import { ensureHome } from './home';
import type { StyxyPaths } from './paths';
import { shareCreatedDir, sharedGroupAt } from './shared-home';

/**
 * The log of a server `styxy start` started, at `$STYXY_HOME/logs/<type>-<instance>-<project>.log`
 * (`<project>`: 8 hex digits of a hash of the project's path, so that the same name in two
 * projects has two logs, and a restart of the same service writes to the same one): the
 * directory 0700, the file 0600. The log of the server's previous start is kept as `.log.1`
 * (one generation, so that the files never pile up), and a log never follows a symlink.
 */
export interface ServerLog {
  path: string;
  /** Open for appending; the server writes its stdout and stderr to it, Styxy closes its own copy. */
  fd: number;
}

/** Where the logs of detached servers go. */
export const logsDir = (paths: StyxyPaths): string => path.join(paths.home, 'logs');

/** The log's file name for a service: stable for the same type, instance id and project. */
export function serverLogName(serviceType: string, instanceId: string, project: string): string {
  return `${serviceType}-${instanceId}-${fnv1a32(project).toString(16).padStart(8, '0')}.log`;
}

export function openServerLog(paths: StyxyPaths, serviceType: string, instanceId: string, project: string): ServerLog {
  ensureHome(paths);
  const dir = logsDir(paths);
  const file = path.join(dir, serverLogName(serviceType, instanceId, project));
  try {
    fs.mkdirSync(dir, { mode: 0o700 });
    shareCreatedDir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw cannotWrite(dir, err);
  }
  const stat = fs.lstatSync(dir);
  // In a shared home (docs/shared-machines.md) logs/ is the group's, as the home is: any member's, 2770.
  const group = sharedGroupAt(dir);
  const safe =
    group !== null
      ? stat.gid === group && (stat.mode & 0o002) === 0
      : (typeof process.getuid !== 'function' || stat.uid === process.getuid()) && (stat.mode & 0o022) === 0;
  if (!stat.isDirectory() || !safe) {
    throw new StyxyError('UNSAFE_HOME', `${dir} is not a directory of yours that only you can write`, {
      details: { path: dir },
      suggestions: [`Inspect it, then move it away: mv ${dir} ${dir}.moved`],
    });
  }
  try {
    fs.renameSync(file, `${file}.1`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw cannotWrite(file, err);
  }
  try {
    const fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_APPEND | fs.constants.O_NOFOLLOW, 0o600);
    return { path: file, fd };
  } catch (err) {
    throw cannotWrite(file, err);
  }
}

/** Closes Styxy's own copy of the log's descriptor; the server keeps its own. */
export function closeServerLog(log: ServerLog): void {
  try {
    fs.closeSync(log.fd);
  } catch {
    /* closed already */
  }
}

/** The last `maxBytes` of a log, from its last whole line on; empty when it cannot be read. */
export function readLogTail(file: string, maxBytes = 4096): string {
  let fd: number | undefined;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
    const size = fs.fstatSync(fd).size;
    const length = Math.min(size, maxBytes);
    const buffer = Buffer.alloc(length);
    fs.readSync(fd, buffer, 0, length, size - length);
    const text = buffer.toString('utf8');
    return size > length ? text.slice(text.indexOf('\n') + 1) : text;
  } catch {
    return '';
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

function cannotWrite(file: string, err: unknown): StyxyError {
  return new StyxyError('WRITE_FAILED', `Cannot write the server's log ${file}: ${(err as Error).message}`, { cause: err, details: { path: file } });
}
