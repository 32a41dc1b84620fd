import {
  applySetting,
  autoAllocatedTypes,
  findRulePatternProblem,
  parseRuleFields,
  SETTABLE_KEYS,
  withRule,
  withServiceType,
  withoutRule,
  withoutServiceType,
} from '../../../lib/core/config-keys';
import { builtInConfig } from '../../../lib/core/defaults';
import { CONFIG_SETTINGS } from '../../../lib/generated/config-bounds';

const cfg = builtInConfig();

test('sets a type’s instance behaviour, keeping the rest of the user’s layer', () => {
  const layer = { service_types: { mine: { port_range: [20000, 20009] as [number, number] } }, auto_allocation: { gap_size: 3 } };
  const outcome = applySetting(cfg, layer, 'service-types.ai.instance-behavior', 'multi');
  expect(outcome).toMatchObject({ kind: 'set', path: '/service_types/ai/instance_behavior', value: 'multi', previous: 'single' });
  if (outcome.kind === 'set') {
    expect(outcome.layer).toEqual({ ...layer, service_types: { ...layer.service_types, ai: { instance_behavior: 'multi' } } });
  }
  expect(layer.service_types).not.toHaveProperty('ai');
});

test.each([
  ['auto-allocation.require-confirmation', 'true', '/auto_allocation/require_confirmation', true],
  ['auto_allocation.gap_size', '5', '/auto_allocation/gap_size', 5],
  ['auto-allocation.placement', 'smart', '/auto_allocation/placement', 'smart'],
  ['auto-allocation.port-docs-path', 'null', '/auto_allocation/port_docs_path', null],
  ['auto-allocation.enabled', 'off', '/auto_allocation/enabled', false],
  ['lifetime.reservation-grace-seconds', '5', '/lifetime/reservation_grace_seconds', 5],
  ['lifetime.reservation_grace_seconds', '0.5', '/lifetime/reservation_grace_seconds', 0.5],
  ['lifetime.reservation-grace-seconds', '0', '/lifetime/reservation_grace_seconds', 0],
])('%s %s', (key, value, path, expected) => {
  expect(applySetting(cfg, null, key, value)).toMatchObject({ kind: 'set', path, value: expected });
});

test.each([
  ['service-types.ai.instance-behavior', 'double', 'INVALID_ARGUMENT'],
  ['service-types.nope.instance-behavior', 'single', 'UNKNOWN_SERVICE_TYPE'],
  ['service-types.constructor.instance-behavior', 'single', 'INVALID_ARGUMENT'],
  ['service-types.nosuch.instance-behavior', 'single', 'UNKNOWN_SERVICE_TYPE'],
  ['auto-allocation.gap-size', '-1', 'INVALID_ARGUMENT'],
  ['auto-allocation.bogus', '1', 'INVALID_ARGUMENT'],
  ['whatever', '1', 'INVALID_ARGUMENT'],
  ['lifetime.reservation-grace-seconds', '-1', 'INVALID_ARGUMENT'],
  ['lifetime.reservation-grace-seconds', '86401', 'INVALID_ARGUMENT'],
  ['lifetime.reservation-grace-seconds', '1m', 'INVALID_ARGUMENT'],
  ['lifetime.bogus', '1', 'INVALID_ARGUMENT'],
])('%s %s is refused', (key, value, code) => {
  expect(applySetting(cfg, null, key, value)).toMatchObject({ kind: 'rejected', code });
});

describe('rule and type edits keep everything else', () => {
  const layer = {
    service_types: { mine: { port_range: [7000, 7009] as [number, number] } },
    auto_allocation_rules: { 'a-*': { chunk_size: 5 }, 'b-*': { placement: 'smart' as const } },
  };

  test('withRule changes an existing rule in place and appends a new one', () => {
    const changed = withRule(layer, 'a-*', { preferred_range_start: 5400 });
    expect(Object.entries(changed.layer.auto_allocation_rules ?? {})).toEqual([
      ['a-*', { chunk_size: 5, preferred_range_start: 5400 }],
      ['b-*', { placement: 'smart' }],
    ]);
    expect(changed.previous).toEqual({ chunk_size: 5 });
    const added = withRule(layer, 'c-*', { chunk_size: 1 });
    expect(Object.keys(added.layer.auto_allocation_rules ?? {})).toEqual(['a-*', 'b-*', 'c-*']);
    expect(added.layer.service_types).toEqual(layer.service_types);
    expect(layer.auto_allocation_rules['a-*']).toEqual({ chunk_size: 5 });
  });

  test('withoutRule removes only that rule, or says there was none', () => {
    expect(Object.keys(withoutRule(layer, 'a-*')?.layer.auto_allocation_rules ?? {})).toEqual(['b-*']);
    expect(withoutRule(layer, 'zz')).toBeNull();
    expect(withoutRule(null, 'a-*')).toBeNull();
  });

  test('autoAllocatedTypes: only marked types, newest first', () => {
    const mark = (at: string) => ({ at, by: 'u', rule: null });
    const types = withServiceType(
      withServiceType(withServiceType(layer, 'old', { port_range: [1, 2], auto_allocated: mark('2026-01-01T00:00:00Z') }), 'new', {
        port_range: [3, 4],
        auto_allocated: mark('2026-02-01T00:00:00Z'),
      }),
      'mid',
      { port_range: [5, 6], auto_allocated: mark('2026-01-15T00:00:00Z') },
    );
    expect(autoAllocatedTypes(types).map((t) => t.name)).toEqual(['new', 'mid', 'old']);
    expect(Object.keys(withoutServiceType(types, 'mid').service_types ?? {})).toEqual(['mine', 'old', 'new']);
  });

  test.each([
    [{ chunkSize: '5' }, { fields: { chunk_size: 5 } }],
    [
      { preferredRangeStart: '5400', placement: 'smart', instanceBehavior: 'single' },
      { fields: { preferred_range_start: 5400, placement: 'smart', instance_behavior: 'single' } },
    ],
    [{}, { problem: expect.stringContaining('at least one') }],
    [{ chunkSize: '0' }, { problem: expect.stringContaining('--chunk-size') }],
    [{ preferredRangeStart: '80' }, { problem: expect.stringContaining('--preferred-range-start') }],
    [{ placement: 'middle' }, { problem: expect.stringContaining('--placement') }],
  ])('parseRuleFields(%j)', (texts, expected) => {
    expect(parseRuleFields(texts)).toEqual(expected);
  });

  test.each(['database-*', 'cache-{a,b}', 'x?', 'exact-name'])('%s is a usable pattern', (p) => expect(findRulePatternProblem(p)).toBeNull());
  test.each(['bad pattern', '', '__proto__', '123', 'a/b', 'a;b', 'x'.repeat(201)])('%j is refused', (p) => expect(findRulePatternProblem(p)).not.toBeNull());
});

describe('the settable keys are the schema’s settings', () => {
  test('every setting of every settings section, in kebab-case, except agents.hook', () => {
    const expected = Object.entries(CONFIG_SETTINGS).flatMap(([section, keys]) => Object.keys(keys).map((key) => `${section}.${key}`.replace(/_/g, '-')));
    expect(SETTABLE_KEYS.filter((k) => !k.startsWith('service-types.')).sort()).toEqual(expected.filter((k) => k !== 'agents.hook').sort());
  });

  test('agents.keep-servers is set like any other boolean; agents.hook is refused with its reason', () => {
    expect(applySetting(cfg, null, 'agents.keep-servers', 'yes')).toMatchObject({ kind: 'set', path: '/agents/keep_servers', value: true, previous: false });
    expect(applySetting(cfg, null, 'agents.hook', 'false')).toMatchObject({
      kind: 'rejected',
      code: 'INVALID_ARGUMENT',
      message: expect.stringContaining('.styxy.json'),
    });
  });

  test('a number setting takes decimals within its bounds, in words that name no unit', () => {
    expect(applySetting(cfg, null, 'lifetime.reservation-grace-seconds', '1.5')).toMatchObject({ kind: 'set', value: 1.5 });
    expect(applySetting(cfg, null, 'lifetime.reservation-grace-seconds', 'x')).toMatchObject({
      kind: 'rejected',
      message: expect.stringContaining('expected a number from 0 to 86400'),
    });
  });
});

test('every section’s defaults give exactly the schema’s settings a value', () => {
  const defaults = builtInConfig() as unknown as Record<string, Record<string, unknown>>;
  for (const [section, keys] of Object.entries(CONFIG_SETTINGS))
    expect([section, Object.keys(defaults[section] ?? {}).sort()]).toEqual([section, Object.keys(keys).sort()]);
  expect(Object.keys(defaults).sort()).toEqual([...Object.keys(CONFIG_SETTINGS), 'auto_allocation_rules', 'service_types'].sort());
});
