import { StyxyError } from '../errors';
import type { Owner, ProcessOwner } from '../core/types';
import { detectInvoker, readBootId, readCommandLine, readStartTime } from '../os/processes';
import { isoTime } from '../core/time';

export interface OwnerOptions {
  pid?: number;
  ttlMs?: number;
  persistent?: boolean;
  /** With pid: that process is a `styxy run`. */
  via?: 'run';
}

/**
 * Who will own an allocation: a named PID, a lease that ends at a time, nobody (persistent), or
 * by default the process that ran styxy. Resolved before the lock is taken.
 */
export function resolveOwner(options: OwnerOptions, now: number): Owner {
  if (options.persistent) return { kind: 'persistent' };
  if (options.ttlMs !== undefined) return { kind: 'lease', expiresAt: isoTime(now + options.ttlMs) };
  if (options.pid !== undefined) {
    const startTime = readStartTime(options.pid);
    if (startTime === undefined) {
      throw new StyxyError('INVALID_ARGUMENT', `--pid ${options.pid}: no such running process`, { details: { pid: options.pid } });
    }
    return processOwner({ kind: 'process', pid: options.pid, startTime, ...(options.via && { via: options.via }) }, readCommandLine(options.pid));
  }
  const invoker = detectInvoker();
  return processOwner({ kind: 'process', pid: invoker.pid, startTime: invoker.startTime, detected: true }, invoker.command);
}

function processOwner(owner: ProcessOwner, command: string | null): ProcessOwner {
  const boot = readBootId();
  return { ...owner, ...(command && { command: command.slice(0, 300) }), ...(boot && { bootId: boot }) };
}

/**
 * The owner in words. The recorded command is cut to 60 characters for a one-line answer; `command`
 * (the whole command line read now) is shown whole, for `list -v`, which wraps instead.
 */
export function describeOwner(owner: Owner, command?: string): string {
  switch (owner.kind) {
    case 'persistent':
      return 'persistent';
    case 'lease':
      return `lease until ${owner.expiresAt}`;
    case 'process': {
      const text = command ?? owner.command?.slice(0, 60);
      const who = `PID ${owner.pid}${text ? ` (${text})` : ''}`;
      if (owner.reservedUntil) return `reserved until ${owner.reservedUntil} (${who} ended)`;
      return owner.adoptedAt ? `${who}, listening, took over at ${owner.adoptedAt}` : who;
    }
  }
}
