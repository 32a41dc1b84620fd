import { StyxyError } from '../errors';
import { UNREADABLE_RECORD_MS, type LockState } from './lock-dir';
import { describeHolder } from './lock-holder';

/** Who holds the lock, in words, and whether the next caller takes it over; null when it is free. */
export function describeLockState(seen: LockState): { text: string; pid?: number; alive?: boolean; reclaimable: boolean } | null {
  if (seen.kind === 'free') return null;
  const { holding } = seen;
  if (!holding?.holder) {
    const text = holding?.entry ? 'a holder whose record is empty or unreadable' : 'no process Styxy can name (no holder record)';
    return { text, reclaimable: seen.kind === 'reclaimable' };
  }
  return {
    text: describeHolder(holding.holder, holding.liveness),
    pid: holding.holder.pid,
    alive: holding.liveness !== 'dead',
    reclaimable: seen.kind === 'reclaimable',
  };
}

export function lockTimeout(lock: string, waitedMs: number, seen: LockState, silentMs: number): StyxyError {
  const holder = describeLockState(seen);
  const heldBy = holder ? `, held by ${holder.text}` : '';
  const unknown = seen.kind !== 'free' && seen.holding?.holder && seen.holding.liveness === 'unknown';
  return new StyxyError('LOCK_TIMEOUT', `Timed out after ${(waitedMs / 1000).toFixed(1)} s waiting for the lock ${lock}${heldBy}`, {
    details: { lock, holderPid: holder?.pid ?? null, holderAlive: holder?.alive ?? null },
    suggestions: [
      seen.kind !== 'free' && seen.holding?.entry && !seen.holding.holder
        ? `A crash can leave a holder record empty; the lock is taken over once it has not changed for ${UNREADABLE_RECORD_MS / 1000} s`
        : unknown
          ? `Its holder runs in another PID namespace or on another host; if it has ended, the lock is taken over once its record is ${Math.round(silentMs / 1000)} s old`
          : holder?.alive
            ? `If PID ${holder.pid} is stuck (stopped, or hung), end it (kill ${holder.pid}); the next call takes the lock over at once`
            : `A lock whose holder has ended is taken over by the next call`,
      `If no styxy process is running anywhere, remove the lock by hand: rm -r ${lock}`,
    ],
  });
}

/** The lock was taken over while this process still worked: `file` was not written. */
export function lockCompromised(lock: string, file?: string): StyxyError {
  const what = file ? `${file} was not written` : 'nothing was written';
  return new StyxyError('LOCK_COMPROMISED', `Lost the lock ${lock} before writing; ${what}`, {
    details: { lock, reason: 'the lock was removed or taken over by another process', ...(file && { path: file }) },
    suggestions: ['Run the command again'],
  });
}

export function lockFailure(lock: string, home: string, err: unknown): StyxyError {
  if (err instanceof StyxyError) return err;
  const code = (err as NodeJS.ErrnoException).code ?? 'EIO';
  return new StyxyError('WRITE_FAILED', `Cannot create the lock ${lock}: ${(err as Error).message}`, {
    cause: err,
    details: { lock, errno: code },
    suggestions: code === 'EACCES' || code === 'EROFS' || code === 'EPERM' ? [`Make ${home} writable, or point STYXY_HOME elsewhere`] : [],
  });
}
