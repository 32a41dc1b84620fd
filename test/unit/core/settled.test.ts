import {
  decideLayout,
  isWellFormedSummary,
  markSettledPorts,
  SETTLE_FROM,
  summarize,
  summaryCheck,
  UNSETTLE_BELOW,
  UNSETTLED_MAX,
  withSettled,
} from '../../../lib/core/settled';
import type { Allocation, Owner, State } from '../../../lib/core/types';

const persistent: Owner = { kind: 'persistent' };
const process_: Owner = { kind: 'process', pid: 42, startTime: '1' };

function allocations(count: number, owner: Owner = persistent, from = 0): Allocation[] {
  return Array.from({ length: count }, (_, i) => ({
    lockId: `t-${from + i}-000000`,
    serviceType: i % 2 ? 'web' : 'api',
    instanceId: `i${from + i}`,
    port: 10000 + from + i,
    project: '/p',
    owner,
    allocatedAt: '2026-01-01T00:00:00.000Z',
  }));
}

const state = (list: Allocation[], extra: Partial<State> = {}): State => ({ version: 1, allocations: list, ...extra });
const FILE = 'state.settled-0123456789abcdef.json';

describe('summarize', () => {
  test('ports as ascending, disjoint runs; types each once, sorted', () => {
    const list = [...allocations(3), ...allocations(2, persistent, 10)].reverse();
    const summary = summarize(FILE, list);
    expect(summary.check).toBe(summaryCheck(5, summary.ports, ['api', 'web']));
    expect(summary).toEqual({
      check: summary.check,
      file: FILE,
      count: 5,
      ports: [
        [10000, 10002],
        [10010, 10011],
      ],
      types: ['api', 'web'],
    });
    expect(summarize(FILE, [])).toEqual({ file: FILE, count: 0, ports: [], types: [], check: summaryCheck(0, [], []) });
    // The check changes with each of the three.
    const checks = [summaryCheck(5, [[1, 5]], ['a']), summaryCheck(5, [[2, 6]], ['a']), summaryCheck(5, [[1, 5]], ['b']), summaryCheck(6, [[1, 5]], ['a'])];
    expect(new Set(checks).size).toBe(4);
  });

  test('only a summary that summarize could have written is believed', () => {
    const ref = summarize(FILE, [...allocations(3), ...allocations(2, persistent, 10)]);
    expect(isWellFormedSummary(ref)).toBe(true);
    expect(isWellFormedSummary(summarize(FILE, []))).toBe(true);
    expect(isWellFormedSummary({ ...ref, count: 4 })).toBe(false);
    expect(
      isWellFormedSummary({
        ...ref,
        ports: [
          [20000, 20002],
          [20010, 20011],
        ],
      }),
    ).toBe(false); // moved, same count: the check tells
    const runs: [number, number][][] = [
      [[10002, 10000]], // backwards
      [
        [10010, 10011],
        [10000, 10002],
      ], // out of order
      [
        [10000, 10002],
        [10002, 10003],
      ], // overlapping
      [
        [10000, 10002],
        [10003, 10004],
      ], // touching: summarize writes one run
    ];
    for (const ports of runs) expect(isWellFormedSummary({ ...ref, ports, count: ports.reduce((n, [a, b]) => n + Math.abs(b - a) + 1, 0) })).toBe(false);
  });

  test('markSettledPorts marks exactly the runs', () => {
    const held = new Uint8Array(65536);
    markSettledPorts(held, summarize(FILE, [...allocations(2), ...allocations(1, persistent, 5)]));
    expect([...held.keys()].filter((p) => held[p] === 1)).toEqual([10000, 10001, 10005]);
    markSettledPorts(held, undefined);
  });
});

describe('decideLayout', () => {
  test('below SETTLE_FROM persistent allocations everything stays in state.json, however many others', () => {
    const list = [...allocations(SETTLE_FROM - 1), ...allocations(5000, process_, 5000)];
    expect(decideLayout(state(list), undefined)).toEqual({ kind: 'inline', allocations: list });
  });

  test('from SETTLE_FROM on, the persistent ones are settled and the others stay', () => {
    const settleable = allocations(SETTLE_FROM);
    const others = allocations(3, process_, 9000);
    const layout = decideLayout(state([others[0]!, ...settleable, ...others.slice(1)]), undefined);
    expect(layout).toEqual({ kind: 'settle', settled: settleable, allocations: others });
  });

  test('a state read with its summary alone keeps its file until UNSETTLED_MAX persistent allocations have come', () => {
    const ref = summarize(FILE, allocations(SETTLE_FROM));
    const read = { ref, allocations: null };
    const fresh = allocations(UNSETTLED_MAX - 1, persistent, 20000);
    expect(decideLayout(state(fresh, { version: 2, settled: ref }), read)).toEqual({ kind: 'keep', ref, allocations: fresh });
    const more = allocations(UNSETTLED_MAX, persistent, 20000);
    expect(decideLayout(state(more, { version: 2, settled: ref }), read)).toEqual({ kind: 'read-settled' });
  });

  test('read with its summary alone and written without it, the settled file is read first: nothing it holds is written over', () => {
    const ref = summarize(FILE, allocations(SETTLE_FROM));
    expect(decideLayout(state(allocations(1, process_, 9000)), { ref, allocations: null })).toEqual({ kind: 'read-settled' });
  });

  test('read whole, the same settled allocations first (the very objects) keep the file; anything else lays it out anew', () => {
    const settled = allocations(SETTLE_FROM);
    const ref = summarize(FILE, settled);
    const read = { ref, allocations: settled };
    const added = allocations(2, process_, 9000);
    expect(decideLayout(withSettled(state(added, { version: 2, settled: ref }), settled), read)).toEqual({ kind: 'keep', ref, allocations: added });
    // One released: the rest is settled into a new file.
    const released = decideLayout(state(settled.slice(1)), read);
    expect(released).toEqual({ kind: 'settle', settled: settled.slice(1), allocations: [] });
    // Copies of the same records are not the records read.
    expect(decideLayout(state(settled.map((a) => ({ ...a }))), read).kind).toBe('settle');
    // Below UNSETTLE_BELOW, they come back into state.json.
    const few = settled.slice(0, UNSETTLE_BELOW - 1);
    expect(decideLayout(state(few), read)).toEqual({ kind: 'inline', allocations: few });
  });

  test('withSettled puts the settled allocations first and drops the summary', () => {
    const settled = allocations(2);
    const own = allocations(1, process_, 50);
    const ref = summarize(FILE, settled);
    const merged = withSettled({ version: 2, allocations: own, settled: ref, recentlyFreed: [] }, settled);
    expect(merged).toEqual({ version: 1, allocations: [...settled, ...own], recentlyFreed: [] });
  });
});
