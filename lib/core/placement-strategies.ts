import { categoryOf } from './categories';
import { freeRuns, highestFitTo, lowestFitFrom, type Interval } from './intervals';
import type { Placement } from './types';

/**
 * The placements: each picks one run of free ports in a layout, or says why it found none.
 * `after` grows above the highest range, `before` below the lowest, `smart` next to a range of
 * the same category (or into the smallest gap that fits); a rule's preferred start goes first.
 */

/** The lowest and highest port any auto-allocated range may use. */
export const PORT_FLOOR = 1024;
export const PORT_CEILING = 65535;

/** What every placement looks at: the chunk wanted, the gap kept, the bounds, and the ports taken. */
export interface Layout {
  chunk: number;
  gap: number;
  bounds: Interval;
  blocked: Interval[];
  /** Free runs inside the bounds. */
  free: Interval[];
  ranges: { name: string; lo: number; hi: number }[];
}

/** A placement's answer: where the range starts and why, or why it found no room. */
export type Attempt = { start: number; reason: string } | { failed: string };

function tryAfter(l: Layout): Attempt {
  const [bLo, bHi] = l.bounds;
  const below = l.ranges.filter((r) => r.lo <= bHi);
  const highest = below.reduce<Layout['ranges'][number] | null>((best, r) => (!best || r.hi > best.hi ? r : best), null);
  const from = highest ? Math.max(bLo, highest.hi + l.gap + 1) : bLo;
  const start = lowestFitFrom(l.free, from, l.chunk);
  if (start === null) return { failed: `after: no ${l.chunk} free ports from ${from} to ${bHi}` };
  const anchor = highest ? `above the highest range ('${highest.name}' ${highest.lo}-${highest.hi})` : `at the bottom of ${bLo}-${bHi}`;
  return { start, reason: `the first free ports ${anchor}` };
}

function tryBefore(l: Layout): Attempt {
  const [bLo, bHi] = l.bounds;
  const above = l.ranges.filter((r) => r.hi >= bLo);
  const lowest = above.reduce<Layout['ranges'][number] | null>((best, r) => (!best || r.lo < best.lo ? r : best), null);
  const to = lowest ? Math.min(bHi, lowest.lo - l.gap - 1) : bHi;
  const start = to < bLo ? null : highestFitTo(l.free, to, l.chunk);
  if (start === null) return { failed: `before: no ${l.chunk} free ports from ${bLo} to ${Math.max(to, bLo - 1)}` };
  const anchor = lowest ? `below the lowest range in ${bLo}-${bHi} ('${lowest.name}' ${lowest.lo}-${lowest.hi})` : `at the top of ${bLo}-${bHi}`;
  return { start, reason: `the last free ports ${anchor}` };
}

function trySmart(l: Layout, serviceType: string): Attempt {
  const category = categoryOf(serviceType);
  const kin = l.ranges.filter((r) => categoryOf(r.name) === category);
  let best: { start: number; distance: number; reason: string } | null = null;
  for (const r of kin) {
    const up = lowestFitFrom(l.free, r.hi + l.gap + 1, l.chunk);
    const down = highestFitTo(l.free, r.lo - l.gap - 1, l.chunk);
    // Above the kin first, so that at equal distance a category grows upward.
    const options = [
      ...(up === null ? [] : [{ start: up, distance: up - r.hi }]),
      ...(down === null ? [] : [{ start: down, distance: r.lo - (down + l.chunk - 1) }]),
    ];
    for (const o of options) {
      if (!best || o.distance < best.distance) {
        best = { ...o, reason: `next to '${r.name}' (${r.lo}-${r.hi}), the same category (${category})` };
      }
    }
  }
  if (best) return { start: best.start, reason: best.reason };
  const fits = l.free.filter(([lo, hi]) => hi - lo + 1 >= l.chunk);
  if (fits.length === 0) return { failed: `smart: no free run of ${l.chunk} ports in ${l.bounds[0]}-${l.bounds[1]}` };
  const [lo, hi] = fits.reduce((a, b) => (b[1] - b[0] < a[1] - a[0] ? b : a));
  return { start: lo, reason: `the smallest free gap that fits (${lo}-${hi})${kin.length ? '' : `; no other '${category}' type is configured`}` };
}

export function tryPreferred(l: Layout, preferred: number, pattern: string): Attempt {
  const ceiling = preferred <= l.bounds[1] ? l.bounds[1] : PORT_CEILING;
  const free = freeRuns(l.blocked, Math.max(PORT_FLOOR, preferred), ceiling);
  const start = lowestFitFrom(free, preferred, l.chunk);
  if (start === null) return { failed: `preferred start ${preferred} (rule '${pattern}'): no ${l.chunk} free ports from ${preferred} to ${ceiling}` };
  return { start, reason: `the first free ports at or above ${preferred}, the preferred start of rule '${pattern}'` };
}

/** Tries one of the placements on the layout. */
export function tryPlacement(placement: Placement, l: Layout, serviceType: string): Attempt {
  return placement === 'after' ? tryAfter(l) : placement === 'before' ? tryBefore(l) : trySmart(l, serviceType);
}
