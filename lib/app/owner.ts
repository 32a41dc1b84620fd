import { StyxyError } from '../errors';
import type { Owner, ProcessOwner } from '../core/types';
import { detectInvoker, hasProc, isProcOwnNamespace, namespaceNumber, readBootId, readCommandLine, readOwnPidNamespace, readStartTime } from '../os/processes';
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
export function resolveOwner(options: OwnerOptions, now: number, warn?: (message: string) => void): Owner {
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
  if (invoker) return processOwner({ kind: 'process', pid: invoker.pid, startTime: invoker.startTime, detected: true }, invoker.command);
  // The caller is outside this PID namespace (PID 1 of a container, `docker exec`): this very
  // call owns the allocation, so that it is held for the reservation grace and taken over by the
  // server that then listens on it, as when any detected owner ends first.
  if (warn && !warnedUnseenParent) {
    warnedUnseenParent = true;
    warn(
      `styxy: the process that ran styxy cannot be seen from here (parent PID ${process.ppid}: PID 1 of a container, or docker exec); the port is held for the reservation grace, and kept by the server that listens on it by then. To hold it longer: --pid <server PID>, --ttl <duration> or --persistent`,
    );
  }
  return selfOwner(now);
}

/** This very call as the owner (detected: held for the grace once it ends, taken over by the server that listens). */
function selfOwner(now: number): Owner {
  const command = process.argv.slice(1).join(' ');
  if (!hasProc() || isProcOwnNamespace()) {
    return processOwner({ kind: 'process', pid: process.pid, startTime: readStartTime(process.pid) ?? null, detected: true }, command);
  }
  // /proc is another namespace's (unshare -p without --mount-proc): no PID read or recorded here
  // would name this process for any reader. A lease as long as the default grace, instead.
  return { kind: 'lease', expiresAt: isoTime(now + SELF_LEASE_MS) };
}

const SELF_LEASE_MS = 60_000;

let warnedUnseenParent = false;

function processOwner(owner: ProcessOwner, command: string | null): ProcessOwner {
  const boot = readBootId();
  const ns = ownerNamespace();
  return { ...owner, ...(command && { command: command.slice(0, 300) }), ...(boot && { bootId: boot }), ...(ns && { pidNs: ns }) };
}

/**
 * The PID namespace the owner's PID is numbered in: this call's own, when /proc shows it (the
 * PID was read there). A reader in another namespace then knows the PID is not its to judge.
 */
function ownerNamespace(): string | null {
  if (!hasProc() || !isProcOwnNamespace()) return null;
  return namespaceNumber(readOwnPidNamespace());
}

export function describeOwner(owner: Owner): string {
  switch (owner.kind) {
    case 'persistent':
      return 'persistent';
    case 'lease':
      return `lease until ${owner.expiresAt}`;
    case 'process': {
      const who = `PID ${owner.pid}${owner.command ? ` (${owner.command.slice(0, 60)})` : ''}`;
      if (owner.reservedUntil) return `reserved until ${owner.reservedUntil} (${who} ended)`;
      return owner.adoptedAt ? `${who}, listening, took over at ${owner.adoptedAt}` : who;
    }
  }
}
