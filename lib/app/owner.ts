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
  if (hasProc() && !isProcOwnNamespace()) {
    // /proc is another namespace's (unshare -p without --mount-proc): no PID read or recorded
    // here would name this process, nor the server that follows, for any reader.
    warnOnce(
      warn,
      'styxy: /proc here belongs to another PID namespace (unshare -p without --mount-proc?): no process here can be recorded as the owner, so the port is a lease that ends after the reservation grace (lifetime.reservation-grace-seconds), whatever listens on it. To hold it longer: --ttl <duration> or --persistent; or mount a /proc of this namespace (unshare --mount-proc)',
    );
    return graceLease(now);
  }
  // The caller is outside this PID namespace (PID 1 of a container, `docker exec`): this very
  // call owns the allocation, so that it is held for the reservation grace and taken over by the
  // server that then listens on it, as when any detected owner ends first.
  warnOnce(
    warn,
    `styxy: the process that ran styxy cannot be seen from here (parent PID ${process.ppid}: PID 1 of a container, or docker exec); the port is held for the reservation grace, and kept by the server that listens on it by then. To hold it longer: --pid <server PID>, --ttl <duration> or --persistent`,
  );
  const command = process.argv.slice(1).join(' ');
  return processOwner({ kind: 'process', pid: process.pid, startTime: readStartTime(process.pid) ?? null, detected: true }, command);
}

let warned = false;

function warnOnce(warn: ((message: string) => void) | undefined, message: string): void {
  if (!warn || warned) return;
  warned = true;
  warn(message);
}

/** Leases made by graceLease, until settleGraceLease gives them the configured length. */
const graceLeases = new WeakSet<Owner>();

/** A lease as long as the reservation grace; its length is settled once the config is read (settleGraceLease). */
function graceLease(now: number): Owner {
  const lease: Owner = { kind: 'lease', expiresAt: isoTime(now + DEFAULT_GRACE_MS) };
  graceLeases.add(lease);
  return lease;
}

const DEFAULT_GRACE_MS = 60_000;

/**
 * The owner to record, once the config is read: a lease that stands in for an owner no process
 * can be (see resolveOwner) lasts the configured reservation grace from `now`; any other owner
 * is as resolved.
 */
export function settleGraceLease(owner: Owner, graceMs: number, now: number): Owner {
  return graceLeases.has(owner) ? { kind: 'lease', expiresAt: isoTime(now + graceMs) } : owner;
}

function processOwner(owner: ProcessOwner, command: string | null): ProcessOwner {
  const boot = readBootId();
  const ns = ownerNamespace();
  return { ...owner, ...(command && { command: command.slice(0, 300) }), ...(boot && { bootId: boot }), ...(ns && { pidNs: ns }) };
}

/** This call's PID namespace, read once (undefined until describeOwner first needs it). */
let callerNamespace: string | null | undefined;

/**
 * The PID namespace the owner's PID is numbered in: this call's own, when /proc shows it (the
 * PID was read there). A reader in another namespace then knows the PID is not its to judge.
 */
function ownerNamespace(): string | null {
  if (!hasProc() || !isProcOwnNamespace()) return null;
  return namespaceNumber(readOwnPidNamespace());
}

/**
 * An owner in words. `hostPid`: the host's PID of an owner recorded in a container (its PID is
 * the container's there, and `kill <that PID>` on the host would signal another process). The
 * recorded command is cut to 60 characters for a one-line answer; `command` (the whole command
 * line read now) is shown whole, for `list -v`, which wraps instead.
 */
export function describeOwner(owner: Owner, hostPid?: number, command?: string): string {
  switch (owner.kind) {
    case 'persistent':
      return 'persistent';
    case 'lease':
      return `lease until ${owner.expiresAt}`;
    case 'process': {
      // A PID of another namespace names another process here (or none): say whose number it is.
      const elsewhere = owner.pidNs !== undefined && (hostPid !== undefined || owner.pidNs !== (callerNamespace ??= ownerNamespace()));
      const where = elsewhere ? ` in PID namespace ${owner.pidNs}${hostPid !== undefined ? ` (host PID ${hostPid})` : ''}` : '';
      const text = command ?? owner.command?.slice(0, 60);
      const who = `PID ${owner.pid}${where}${text ? ` (${text})` : ''}`;
      if (owner.reservedUntil) return `reserved until ${owner.reservedUntil} (${who} ended)`;
      // It listened when it took over; whether it still does is not known here.
      return owner.adoptedAt ? `${who}, took over at ${owner.adoptedAt} as the process listening on the port` : who;
    }
  }
}
