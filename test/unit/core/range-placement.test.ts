import { minimatch } from 'minimatch';
import { builtInConfig } from '../../../lib/core/defaults';
import { categoryOf, findRule, placeRange, type PlacementFacts } from '../../../lib/core/range-placement';
import type { AutoAllocationRule, AutoAllocationSettings, Config, ServiceType } from '../../../lib/core/types';

const match = (name: string, pattern: string) => minimatch(name, pattern);
const noFacts: PlacementFacts = { listeningPorts: [], heldPorts: [], ephemeral: null };
const linuxEphemeral: PlacementFacts = { ...noFacts, ephemeral: [32768, 60999] };

function cfg(
  types: Record<string, [number, number]> | 'built-in',
  auto: Partial<AutoAllocationSettings> = {},
  rules: Record<string, AutoAllocationRule> = {},
): Config {
  const base = builtInConfig();
  const serviceTypes =
    types === 'built-in' ? base.service_types : Object.fromEntries(Object.entries(types).map(([n, r]) => [n, { port_range: r } as ServiceType]));
  return { ...base, service_types: serviceTypes, auto_allocation: { ...base.auto_allocation, ...auto }, auto_allocation_rules: rules };
}

function place(serviceType: string, config: Config, facts: PlacementFacts = linuxEphemeral) {
  return placeRange({ serviceType, config, facts, match });
}

function placed(serviceType: string, config: Config, facts?: PlacementFacts) {
  const outcome = place(serviceType, config, facts);
  if (outcome.kind !== 'placed') throw new Error(`expected a range, got: ${outcome.message}`);
  return outcome.proposal;
}

describe('placement on the built-in config (min 10000, max 65000, gap 10, chunk 10)', () => {
  test.each([
    ['after', 'grafana', [11510, 11519], 'after'],
    ['before', 'grafana', [11380, 11389], 'before'],
    ['smart', 'grafana', [10000, 10009], 'smart'],
    ['smart', 'zzz', [10000, 10009], 'smart'],
  ] as const)('%s places %s at %j', (placement, type, range, strategy) => {
    const p = placed(type, cfg('built-in', { placement }));
    expect(p.range).toEqual(range);
    expect(p).toMatchObject({ chunkSize: 10, placement: strategy, requestedPlacement: placement, rule: null, tried: [] });
  });

  test('smart says why: the category of grafana is monitoring', () => {
    expect(placed('grafana', cfg('built-in', { placement: 'smart' })).reason).toMatch(/'monitoring'.*\(monitoring\)/);
  });
});

describe('placement on an empty or simple config', () => {
  test('no service types at all: after and smart start at min_port, before ends at max_port', () => {
    expect(placed('a', cfg({}, { placement: 'after' }), noFacts).range).toEqual([10000, 10009]);
    expect(placed('a', cfg({}, { placement: 'smart' }), noFacts).range).toEqual([10000, 10009]);
    expect(placed('a', cfg({}, { placement: 'before' }), noFacts).range).toEqual([64991, 65000]);
  });

  test('the gap is kept on both sides, and dropped when preserve_gaps is false', () => {
    const types = { x: [20000, 20099] as [number, number] };
    expect(placed('a', cfg(types, { placement: 'after' }), noFacts).range).toEqual([20110, 20119]);
    expect(placed('a', cfg(types, { placement: 'before' }), noFacts).range).toEqual([19980, 19989]);
    expect(placed('a', cfg(types, { placement: 'after', preserve_gaps: false }), noFacts).range).toEqual([20100, 20109]);
    expect(placed('a', cfg(types, { placement: 'before', gap_size: 0 }), noFacts).range).toEqual([19990, 19999]);
  });

  test('after skips past a range in the way; smart takes the smallest gap that fits', () => {
    const types: Record<string, [number, number]> = { low: [10000, 10049], mid: [10075, 10099], top: [12000, 12099] };
    expect(placed('a', cfg(types, { placement: 'after', gap_size: 5 }), noFacts).range).toEqual([12105, 12114]);
    // free runs with gap 5: 10055-10069 (15 ports), 10105-11994, 12105-65000: the 15-port gap wins
    expect(placed('a', cfg(types, { placement: 'smart', gap_size: 5 }), noFacts).range).toEqual([10055, 10064]);
    // a chunk of 20 does not fit there, so the next smallest
    expect(placed('a', cfg(types, { placement: 'smart', gap_size: 5, default_chunk_size: 20 }), noFacts).range).toEqual([10105, 10124]);
  });

  test('smart groups by category: next to the nearest type with the same prefix', () => {
    const types: Record<string, [number, number]> = { 'monitoring-loki': [20000, 20009], api: [30000, 30099], 'db-main': [40000, 40009] };
    expect(placed('monitoring-tempo', cfg(types, { placement: 'smart' }), noFacts).range).toEqual([20020, 20029]);
    expect(placed('db-replica', cfg(types, { placement: 'smart' }), noFacts).range).toEqual([40020, 40029]);
    // "jaeger" is a known monitoring tool
    expect(placed('jaeger', cfg(types, { placement: 'smart' }), noFacts).range).toEqual([20020, 20029]);
  });
});

describe('boundaries, fallbacks and exhaustion', () => {
  test('after has no room above the top range: before is tried next and says so', () => {
    const p = placed('a', cfg({ top: [64900, 64990] }, { placement: 'after' }), noFacts);
    expect(p.placement).toBe('before');
    expect(p.range).toEqual([64880, 64889]);
    expect(p.tried).toEqual([expect.stringMatching(/^after: no 10 free ports from 65001 to 65000/)]);
  });

  test('before ignores ranges below min_port and never goes below it', () => {
    expect(placed('a', cfg({ old: [3000, 3099], x: [10005, 10020] }, { placement: 'before' }), noFacts)).toMatchObject({
      placement: 'after',
      range: [10031, 10040],
    });
  });

  test('ranges stay within min_port..max_port', () => {
    const p = placed('a', cfg({}, { placement: 'before', min_port: 20000, max_port: 20009 }), noFacts);
    expect(p.range).toEqual([20000, 20009]);
  });

  test('no placement has room: failure names every attempt', () => {
    const outcome = place('a', cfg({ x: [10003, 10005] }, { min_port: 10000, max_port: 10016, gap_size: 2 }), noFacts);
    expect(outcome.kind).toBe('failed');
    if (outcome.kind !== 'failed') return;
    expect(outcome.tried.map((t) => t.split(':')[0])).toEqual(['after', 'before', 'smart']);
    expect(outcome.message).toMatch(/No room for a 10-port range for 'a' in 10000-10016, keeping 2 ports free around every range\. Tried: after/);
  });

  test('a port something listens on is never inside the new range', () => {
    const facts = { ...linuxEphemeral, listeningPorts: [11515] };
    expect(placed('a', cfg('built-in'), facts).range).toEqual([11516, 11525]);
  });

  test('a port held by a live allocation of a type no longer configured is avoided too', () => {
    expect(placed('a', cfg({}, {}), { ...noFacts, heldPorts: [10004] }).range).toEqual([10005, 10014]);
  });

  test('the ephemeral range is skipped', () => {
    const p = placed('a', cfg({ x: [32700, 32755] }, { min_port: 32000 }));
    expect(p.range).toEqual([61000, 61009]);
  });
});

describe('rules', () => {
  const rules: Record<string, AutoAllocationRule> = {
    'database-*': { chunk_size: 5, preferred_range_start: 5400 },
    'database-big': { chunk_size: 50 },
    'monitoring-*': { chunk_size: 20, placement: 'smart', preferred_range_start: 9000 },
    'cache-{a,b}': { chunk_size: 3, placement: 'before' },
  };

  test('the first matching rule in file order wins', () => {
    expect(findRule(rules, 'database-big', match)?.pattern).toBe('database-*');
    expect(findRule(rules, 'cache-b', match)?.pattern).toBe('cache-{a,b}');
    expect(findRule(rules, 'cache-c', match)).toBeNull();
  });

  test('a preferred start below min_port is honoured: database-* near 5400, monitoring-* near 9000', () => {
    expect(placed('database-orders', cfg('built-in', {}, rules))).toMatchObject({
      range: [5400, 5404],
      placement: 'preferred-start',
      rule: 'database-*',
      chunkSize: 5,
    });
    expect(placed('monitoring-loki', cfg('built-in', {}, rules))).toMatchObject({
      range: [9000, 9019],
      placement: 'preferred-start',
      rule: 'monitoring-*',
      requestedPlacement: 'smart',
    });
  });

  test('a preferred start inside a range moves up to the first free slot past it and its gap', () => {
    const p = placed('database-x', cfg('built-in', {}, { 'database-*': { chunk_size: 5, preferred_range_start: 5425 } }));
    expect(p.range).toEqual([5510, 5514]);
  });

  test('a rule without a preferred start uses its placement and chunk size', () => {
    expect(placed('cache-a', cfg('built-in', {}, rules))).toMatchObject({ range: [11387, 11389], placement: 'before', chunkSize: 3 });
  });

  test('no room above the preferred start falls back to the placements', () => {
    const p = placed('db-x', cfg({ x: [64000, 64990] }, {}, { 'db-*': { preferred_range_start: 64500 } }), noFacts);
    expect(p.placement).toBe('before');
    expect(p.tried[0]).toMatch(/^preferred start 64500 \(rule 'db-\*'\)/);
  });
});

describe('determinism and safety over many generated configs', () => {
  function prng(seed: number): () => number {
    let s = seed >>> 0;
    return () => {
      s = (s * 1664525 + 1013904223) >>> 0;
      return s / 2 ** 32;
    };
  }

  test('same inputs give the same range, whatever the order of the OS facts', () => {
    const facts = { listeningPorts: [11512, 10004, 11400], heldPorts: [], ephemeral: [32768, 60999] as [number, number] };
    const a = place('grafana', cfg('built-in', { placement: 'smart' }), facts);
    const b = place('grafana', cfg('built-in', { placement: 'smart' }), { ...facts, listeningPorts: [...facts.listeningPorts].reverse() });
    expect(a).toEqual(b);
  });

  test('every proposal stays in bounds and off every configured range, gap, listener and the ephemeral range', () => {
    const random = prng(7);
    let checked = 0;
    for (let round = 0; round < 300; round++) {
      const types: Record<string, [number, number]> = {};
      for (let i = 0; i < 1 + Math.floor(random() * 40); i++) {
        const lo = 1024 + Math.floor(random() * 60000);
        types[`t${i}`] = [lo, lo + Math.floor(random() * 200)];
      }
      const gap = Math.floor(random() * 20);
      const placement = (['after', 'before', 'smart'] as const)[round % 3] as 'after' | 'before' | 'smart';
      const auto = { placement, gap_size: gap, default_chunk_size: 1 + Math.floor(random() * 50), min_port: 2000 + Math.floor(random() * 20000) };
      const listeningPorts = Array.from({ length: 30 }, () => 1024 + Math.floor(random() * 64000));
      const facts = { listeningPorts, heldPorts: [], ephemeral: [32768, 60999] as [number, number] };
      const outcome = place(`t${round}`, cfg(types, auto), facts);
      if (outcome.kind === 'failed') continue;
      const [lo, hi] = outcome.proposal.range;
      expect(hi - lo + 1).toBe(auto.default_chunk_size);
      expect(lo).toBeGreaterThanOrEqual(auto.min_port);
      expect(hi).toBeLessThanOrEqual(65000);
      for (const [tLo, tHi] of Object.values(types)) expect(hi < tLo - gap || lo > tHi + gap).toBe(true);
      for (const port of listeningPorts) expect(port < lo || port > hi).toBe(true);
      expect(hi < 32768 || lo > 60999).toBe(true);
      checked++;
    }
    expect(checked).toBeGreaterThan(250);
  });
});

test('categories: the prefix before "-", or a known keyword', () => {
  expect(categoryOf('monitoring-loki')).toBe('monitoring');
  expect(categoryOf('grafana')).toBe('monitoring');
  expect(categoryOf('postgres-main')).toBe('database');
  expect(categoryOf('constructor')).toBe('constructor');
  expect(categoryOf('web')).toBe('web');
});
