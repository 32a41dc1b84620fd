/**
 * What one allocate call came to, in one word (the `existing` and `reused` flags, and a hand-over,
 * used to be combined to tell it, in more than one place):
 * - `new`: this call made the allocation (of a configured type, or of one it gave a range).
 * - `claimed`: a sticky allocation whose owner had ended (kept only by its reservation grace),
 *   that this call took over: the caller is the one to start the service and to release it.
 * - `reused`: the caller's sticky allocation (same type, instance id and project), found with a
 *   live owner, a lease or persistent; `--pid`, `--ttl` or `--persistent` may have changed its owner.
 * - `existing`: the single instance of the type, running or starting: its port is to be used, not
 *   started again, and it is not the caller's to release.
 */
export type AllocationOutcome = 'new' | 'claimed' | 'reused' | 'existing';

/** The call's own allocation: the caller starts the service on it and releases it when done. */
export function isCallersOwn(outcome: AllocationOutcome): boolean {
  return outcome === 'new' || outcome === 'claimed';
}
