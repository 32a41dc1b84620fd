import { StyxyError } from '../errors';
import { userName } from '../os/identity';
import fs = require('fs');
import { refuseSymlink } from './atomic-write';
import { faultPoint, seam, writeAll } from './fs-seam';
import type { StyxyPaths } from './paths';
import { shareCreatedFile } from './shared-home';

export const AUDIT_ROTATE_BYTES = 10 * 1024 * 1024;
export const AUDIT_ROTATIONS_KEPT = 5;

/** What a command records about one change; the log adds timestamp, user and pid. */
export interface AuditInput {
  action: string;
  serviceType?: string;
  [key: string]: unknown;
}

export interface AuditEvent extends AuditInput {
  timestamp: string;
}

/** Appends events to audit.log as JSON lines, rotating at 10 MB (audit.log.1 … .5). */
export function appendAudit(paths: StyxyPaths, events: AuditEvent[]): void {
  if (events.length === 0) return;
  rotateIfLarge(paths);
  const user = currentUser();
  const lines = events.map((e) => JSON.stringify({ ...e, user, pid: process.pid })).join('\n');
  faultPoint('during-audit');
  appendWholeLines(
    paths.audit,
    `${lines}\n`,
    `${events.length} event${events.length === 1 ? '' : 's'} (${[...new Set(events.map((e) => e.action))].join(', ')})`,
  );
}

/**
 * Appends whole lines, or nothing: a write that fails part-way (a full disk) is cut back to the
 * size the log had, so that it still ends on a whole line and the next event is not glued to a
 * torn one. A log that already ends mid-line (a writer killed while appending) gets a newline
 * first. Never through a symlink; created 0600.
 */
function appendWholeLines(file: string, text: string, what: string): void {
  let fd: number;
  try {
    fd = seam.openSync(file, fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_APPEND | (fs.constants.O_NOFOLLOW ?? 0), 0o600);
    shareCreatedFile(fd, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ELOOP') refuseSymlink(file, 'rotates or reads its log through one');
    throw appendFailure(file, err, `nothing was written to it, so ${what} are not logged`);
  }
  try {
    const size = seam.fstatSync(fd).size;
    let data = text;
    if (size > 0) {
      const last = Buffer.alloc(1);
      seam.readSync(fd, last, 0, 1, size - 1);
      if (last[0] !== 0x0a) data = `\n${text}`;
    }
    try {
      writeAll(fd, Buffer.from(data, 'utf8'));
    } catch (err) {
      let restored = true;
      try {
        seam.ftruncateSync(fd, size);
      } catch {
        restored = false;
      }
      throw appendFailure(
        file,
        err,
        restored
          ? `it was left as it was, without ${what}`
          : `it may end on a partial line (readers skip it; the next event starts a new line), and ${what} are not logged`,
      );
    }
  } finally {
    seam.closeSync(fd);
  }
}

function appendFailure(file: string, err: unknown, outcome: string): StyxyError {
  if (err instanceof StyxyError) return err;
  const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
  const reason = code === 'ENOSPC' || code === 'EDQUOT' ? 'the disk is full' : code === 'EROFS' ? 'the file system is read-only' : (err as Error).message;
  return new StyxyError('WRITE_FAILED', `could not append to ${file} (${reason}); ${outcome}`, {
    cause: err,
    details: { path: file, errno: code },
    suggestions: code === 'ENOSPC' || code === 'EDQUOT' ? ['Free some disk space'] : [],
  });
}

function rotateIfLarge(paths: StyxyPaths): void {
  let size: number;
  try {
    size = seam.lstatSync(paths.audit).size;
  } catch {
    return;
  }
  if (size < AUDIT_ROTATE_BYTES) return;
  // Rotation renames the links themselves, but a planted link would go on being read as the log.
  for (let n = 1; n <= AUDIT_ROTATIONS_KEPT; n++) refuseSymlink(`${paths.audit}.${n}`, 'rotates or reads its log through one');
  for (let n = AUDIT_ROTATIONS_KEPT - 1; n >= 1; n--) {
    try {
      seam.renameSync(`${paths.audit}.${n}`, `${paths.audit}.${n + 1}`);
    } catch {
      /* that rotation does not exist yet */
    }
  }
  seam.renameSync(paths.audit, `${paths.audit}.1`);
}

/**
 * Reads the audit events, oldest first, across rotations. A torn line (a writer killed
 * mid-append) is skipped; a symlink in place of a log file is refused with UNSAFE_HOME.
 */
export function readAudit(paths: StyxyPaths): AuditEvent[] {
  const files = [];
  for (let n = AUDIT_ROTATIONS_KEPT; n >= 1; n--) files.push(`${paths.audit}.${n}`);
  files.push(paths.audit);
  const events: AuditEvent[] = [];
  for (const file of files) {
    refuseSymlink(file, 'rotates or reads its log through one');
    let text: string;
    try {
      text = seam.readFileSync(file, 'utf8') as string;
    } catch {
      continue;
    }
    for (const line of text.split('\n')) {
      if (!line) continue;
      try {
        const event = JSON.parse(line) as AuditEvent;
        if (event && typeof event === 'object' && typeof event.action === 'string') events.push(event);
      } catch {
        /* torn line */
      }
    }
  }
  return events;
}

/** The user name recorded in audit events and auto-allocation marks. */
export function currentUser(): string {
  return userName();
}
