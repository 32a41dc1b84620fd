/**
 * Inclusive port intervals: merging the blocked ones, the free runs between them, and the first
 * or last run of a given length. Pure arithmetic; placement-strategies.ts decides what to ask.
 */

export type Interval = [number, number];

/** Sorted, merged, inclusive intervals. */
export function merge(intervals: Interval[]): Interval[] {
  intervals.sort((a, b) => a[0] - b[0]);
  const out: Interval[] = [];
  for (const [lo, hi] of intervals) {
    const last = out[out.length - 1];
    if (last && lo <= last[1] + 1) last[1] = Math.max(last[1], hi);
    else out.push([lo, hi]);
  }
  return out;
}

/** The free runs inside [lo, hi]: the complement of the blocked intervals. */
export function freeRuns(blocked: readonly Interval[], lo: number, hi: number): Interval[] {
  const free: Interval[] = [];
  let next = lo;
  for (const [bLo, bHi] of blocked) {
    if (bHi < next) continue;
    if (bLo > hi) break;
    if (bLo > next) free.push([next, Math.min(bLo - 1, hi)]);
    next = Math.max(next, bHi + 1);
    if (next > hi) break;
  }
  if (next <= hi) free.push([next, hi]);
  return free;
}

/** The lowest start ≥ `from` of `chunk` free ports, or null. */
export function lowestFitFrom(free: readonly Interval[], from: number, chunk: number): number | null {
  for (const [lo, hi] of free) {
    const start = Math.max(lo, from);
    if (start + chunk - 1 <= hi) return start;
  }
  return null;
}

/** The highest end ≤ `to` of `chunk` free ports, as the range's start, or null. */
export function highestFitTo(free: readonly Interval[], to: number, chunk: number): number | null {
  for (let i = free.length - 1; i >= 0; i--) {
    const [lo, hi] = free[i] as Interval;
    const end = Math.min(hi, to);
    if (end - chunk + 1 >= lo) return end - chunk + 1;
  }
  return null;
}
