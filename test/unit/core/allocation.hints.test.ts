import { exhaustedSuggestions, planWiderRange } from '../../../lib/core/allocation';
import { applySetting } from '../../../lib/core/config-keys';
import { builtInConfig } from '../../../lib/core/defaults';
import type { ServiceType } from '../../../lib/core/types';

const t = (low: number, high: number): ServiceType => ({ port_range: [low, high], instance_behavior: 'multi' });

describe('planWiderRange: a wider range that overlaps no other type', () => {
  test.each<[string, Record<string, ServiceType>, [number, number] | null]>([
    ['room above: its own size again', { a: t(20000, 20009) }, [20000, 20019]],
    ['at least 10 more ports', { a: t(20000, 20001) }, [20000, 20011]],
    ['a neighbour right above: below instead', { a: t(20000, 20009), b: t(20010, 20019) }, [19990, 20009]],
    ['little room on both sides: the larger side', { a: t(20000, 20009), b: t(20013, 20019), c: t(19990, 19994) }, [19995, 20009]],
    ['touching on both sides: none', { a: t(20000, 20009), b: t(20010, 20019), c: t(19990, 19999) }, null],
    ['not below 1024', { a: t(1024, 1033), b: t(1034, 1040) }, null],
    ['not above 65535', { a: t(65530, 65535) }, [65520, 65535]],
    ['an overlapping config: none', { a: t(20000, 20009), b: t(20005, 20019) }, null],
  ])('%s', (_, types, expected) => {
    expect(planWiderRange('a', types)).toEqual(expected);
  });

  test('dev among the built-in types: monitoring starts at 3100, so it grows downwards', () => {
    const types = builtInConfig().service_types;
    expect(planWiderRange('dev', types)).toEqual([2900, 3099]);
  });

  test('the hints of RANGE_EXHAUSTED: nothing that drops allocations; the exact config set, which applies', () => {
    const cfg = builtInConfig();
    const hints = exhaustedSuggestions('dev', cfg.service_types.dev!, cfg.service_types);
    expect(hints.join('\n')).not.toMatch(/--force|cleanup/);
    expect(hints).toContain('Widen the range: styxy config set service-types.dev.port-range 2900-3099');
    expect(hints.join('\n')).toContain('styxy list -v -s dev');
    expect(applySetting(cfg, null, 'service-types.dev.port-range', '2900-3099')).toMatchObject({
      kind: 'set',
      path: '/service_types/dev/port_range',
      value: [2900, 3099],
      previous: [3000, 3099],
    });
  });
});

test.each(['3099-3000', '0-10', '3000-70000', '3000', 'a-b', '3000-3099-3199'])('config set port-range %j is refused', (value) => {
  expect(applySetting(builtInConfig(), null, 'service-types.dev.port-range', value)).toMatchObject({ kind: 'rejected', code: 'INVALID_ARGUMENT' });
});
