/**
 * Telling a typo of a known service type from a new type. An unknown type is auto-allocated a
 * range for good, so `-s dve` or `-s Dev` must be caught before that happens,
 * while `-s grafana` goes ahead.
 */

/**
 * The edit distance of `a` and `b` where inserting, deleting or changing one character, or
 * swapping two adjacent ones, is one edit (optimal string alignment: `dve` is one edit from `dev`).
 */
export function editDistance(a: string, b: string): number {
  // rows[i][j]: the distance of a's first i characters and b's first j.
  const rows: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    const row = rows[i] as number[];
    const above = rows[i - 1] as number[];
    for (let j = 1; j <= b.length; j++) {
      const change = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min((above[j] as number) + 1, (row[j - 1] as number) + 1, (above[j - 1] as number) + change);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, ((rows[i - 2] as number[])[j - 2] as number) + 1);
      row[j] = best;
    }
  }
  return (rows[a.length] as number[])[b.length] as number;
}

/**
 * How many edits a name of this length may be from a known one and still be taken for a typo of
 * it. Short names are close to many others (`ui` is one edit from `ai`), so they may differ in
 * case only; up to five characters one edit (`dve`, `apii`); longer ones two (`databse`, `montoring`).
 */
export function allowedEdits(length: number): number {
  if (length <= 2) return 0;
  if (length <= 5) return 1;
  return 2;
}

const digits = (name: string) => name.replace(/[^0-9]/g, '');

/**
 * The known type that `name` most likely misspells, or null when it is far enough from every
 * known type to be a new one. Case does not count as a difference. Names that differ in their
 * digits (`dev2`, `api3`) are deliberate, never typos. The nearest wins; among equals, the first
 * in alphabetical order, so that the answer does not depend on the config's order.
 */
export function findNearMissType(name: string, known: Iterable<string>): string | null {
  const lower = name.toLowerCase();
  const limit = allowedEdits(name.length);
  let best: { type: string; distance: number } | null = null;
  for (const type of known) {
    if (type === name || digits(type) !== digits(name)) continue;
    const distance = editDistance(lower, type.toLowerCase());
    if (distance > limit) continue;
    if (!best || distance < best.distance || (distance === best.distance && type < best.type)) best = { type, distance };
  }
  return best?.type ?? null;
}
