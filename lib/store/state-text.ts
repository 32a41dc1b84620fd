/**
 * The text of state.json's arrays, one element a line, made with as little JavaScript per
 * element as can be: a call runs once, cold, so a loop over 50 000 allocations costs far more
 * than the native JSON.stringify and string searches that do the same work. See state-file.ts
 * for the layout.
 */

/** What separates two elements' lines. */
export const LINE_BREAK = ',\n    ';

/**
 * The lines of `items`, each `    ` + JSON.stringify(item), joined by `,\n`: the same text as
 * that map and join, from one JSON.stringify of the whole array. Its elements are split where
 * `},{` stands: each pair of neighbouring objects makes one, so when there are exactly
 * items.length - 1 of them, no string and no nested array has one and each is a boundary.
 */
export function jsonLines(items: readonly unknown[]): string {
  if (items.length === 0) return '';
  for (const item of items) if (typeof item !== 'object' || item === null || Array.isArray(item)) return oneByOne(items);
  const whole = JSON.stringify(items);
  const split = whole.replaceAll('},{', `}${LINE_BREAK}{`);
  if (split.length - whole.length !== (items.length - 1) * (LINE_BREAK.length - 1)) return oneByOne(items);
  return `    ${split.slice(1, -1)}`;
}

function oneByOne(items: readonly unknown[]): string {
  return items.map((item) => `    ${JSON.stringify(item)}`).join(',\n');
}

// An allocation exactly as JSON.stringify writes it for the object JSON.parse makes of it: its
// keys in the order Styxy gives them, each once (JSON.parse would keep the last of a repeated
// one), strings without an escape (so their text is their value, which JSON.stringify writes
// back as it is: it escapes only quotes, backslashes, control characters and lone surrogates,
// none of which can stand unescaped in a string JSON.parse accepted from well-formed text),
// integers as JSON.stringify writes them (no sign, point or exponent, at most 15 digits, each
// exact in a double), no white space. An owner's optional keys may come in the orders Styxy
// writes them (owner.ts, core/prune.ts). Anything else, a hand-edited line or a field this
// version does not know, does not match, and is serialized again.
const STRING = '"[^"\\\\]*"';
const INTEGER = '(?:0|[1-9][0-9]{0,14})';
const OWNER =
  `\\{"kind":(?:"persistent"|"lease","expiresAt":${STRING}|"process","pid":${INTEGER},"startTime":(?:${STRING}|null)` +
  `(?:,"via":"run")?(?:,"detected":true)?(?:,"command":${STRING})?(?:,"bootId":${STRING})?(?:,"adoptedAt":${STRING})?(?:,"reservedUntil":${STRING})?)\\}`;
const ALLOCATION = `\\{"lockId":${STRING},"serviceType":${STRING},"instanceId":${STRING},"port":${INTEGER},"project":${STRING},"owner":${OWNER},"allocatedAt":${STRING}(?:,"sticky":true)?(?:,"user":\\{"uid":${INTEGER}(?:,"name":${STRING})?\\})?\\}`;
/** The start of a state as Styxy writes it, or as compact JSON, up to its allocations array. */
const HEAD = /\{(?:\n {2})?"version": ?1,(?:\n {2})?"allocations": ?/y;
/** What may follow the allocations: the freed ports (not taken from the text), the end. */
const TAIL = /(?:,(?:\n {2})?"recentlyFreed": ?\[[^\]]*\])?\n?\}\n?$/y;
/**
 * Up to 256 allocations of an array in Styxy's layout, and compact, each pattern made on first
 * use: every element but the last is followed by a comma and the start of another, the last by
 * the end of the array, so a match that ends with `]` ends the array. One copy of the
 * allocation's pattern in each, as every process that writes a large state compiles one; a few
 * hundred at a time, as the backtracking stack of one match over 50 000 took ~10 ms to grow.
 */
const patterns: { laidOut?: RegExp; compact?: RegExp } = {};
const ELEMENTS = {
  laidOut: () => `(?:\\n {4}${ALLOCATION}(?:,(?=\\n {4}\\{)|\\n {2}\\])){1,256}`,
  compact: () => `(?:${ALLOCATION}(?:,(?=\\{)|\\])){1,256}`,
};

/**
 * Whether the sticky `pattern` matches `text` at `at`; where it ends in pattern.lastIndex. A
 * text too long for the pattern's backtracking stack is not matched.
 */
function matchesAt(pattern: RegExp, text: string, at: number): boolean {
  pattern.lastIndex = at;
  try {
    return pattern.test(text);
  } catch {
    return false;
  }
}

/**
 * V8 runs a pattern's first calls in its interpreter and compiles it to machine code after: two
 * calls on a short text first make the one over 9 MB run ~2.5 times faster.
 */
function compiled(pattern: RegExp): RegExp {
  for (let i = 0; i < 2; i++) matchesAt(pattern, '[]', 0);
  return pattern;
}

/**
 * The lines of the allocations array in `text`, a state JSON.parse read with `readAllocations`
 * allocations, when each is exactly JSON.stringify of its allocation (see ALLOCATION), so that
 * they can be written as they are; null when that is not shown. The text must be Styxy's layout
 * or compact JSON, with the version first and the allocations next.
 */
export function findAllocationLines(text: string, readAllocations: number): string | null {
  if (!matchesAt(HEAD, text, 0)) return null;
  const start = HEAD.lastIndex;
  let end: number;
  let laidOut = false;
  if (text.startsWith('[]', start)) {
    end = start + 2;
  } else {
    if (text.charCodeAt(start) !== 0x5b) return null;
    laidOut = text.charCodeAt(start + 1) === 0x0a;
    const form = laidOut ? 'laidOut' : 'compact';
    const pattern = (patterns[form] ??= compiled(new RegExp(ELEMENTS[form](), 'y')));
    end = start + 1;
    do {
      if (!matchesAt(pattern, text, end)) return null;
      end = pattern.lastIndex;
    } while (text.charCodeAt(end - 1) !== 0x5d);
  }
  // Nothing after it but the freed ports: no second `allocations`, which JSON.parse would have
  // kept instead. The first `]` closes them, as their records hold no array and a string cut
  // there would not end before the text does.
  if (!matchesAt(TAIL, text, end)) return null;
  if (end === start + 2) return readAllocations === 0 ? '' : null;
  const region = text.slice(start, end);
  if (laidOut) return region.slice(2, -4);
  // One allocation's text has no `},{`: its only inner object is followed by a key, and a string
  // with one would make more of them than there are pairs of neighbours.
  const split = region.replaceAll('},{', `}${LINE_BREAK}{`);
  if (split.length - region.length !== (readAllocations - 1) * (LINE_BREAK.length - 1)) return null;
  return `    ${split.slice(1, -1)}`;
}
