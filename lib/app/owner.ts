import { StyxyError } from '../errors';
import type { Owner } from '../core/types';
import { detectInvoker, readCommandLine, readStartTime } from '../os/processes';

export interface OwnerOptions {
  pid?: number;
  ttlMs?: number;
  persistent?: boolean;
}

/**
 * Who will own an allocation: a named PID, a lease that ends at a time, nobody (persistent), or
 * by default the process that ran styxy. Resolved before the lock is taken.
 */
export function resolveOwner(options: OwnerOptions, now: number): Owner {
  if (options.persistent) return { kind: 'persistent' };
  if (options.ttlMs !== undefined) return { kind: 'lease', expiresAt: new Date(now + options.ttlMs).toISOString() };
  if (options.pid !== undefined) {
    const startTime = readStartTime(options.pid);
    if (startTime === undefined) {
      throw new StyxyError('INVALID_ARGUMENT', `--pid ${options.pid}: no such running process`, { details: { pid: options.pid } });
    }
    return withCommand({ kind: 'process', pid: options.pid, startTime }, readCommandLine(options.pid));
  }
  const invoker = detectInvoker();
  return withCommand({ kind: 'process', pid: invoker.pid, startTime: invoker.startTime }, invoker.command);
}

function withCommand(owner: Owner & { kind: 'process' }, command: string | null): Owner {
  return command ? { ...owner, command: command.slice(0, 300) } : owner;
}

export function describeOwner(owner: Owner): string {
  switch (owner.kind) {
    case 'persistent':
      return 'persistent';
    case 'lease':
      return `lease until ${owner.expiresAt}`;
    case 'process':
      return `PID ${owner.pid}${owner.command ? ` (${owner.command.slice(0, 60)})` : ''}`;
  }
}
