import { applySetting } from '../../../lib/core/config-keys';
import { builtInConfig } from '../../../lib/core/defaults';

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
])('%s %s', (key, value, path, expected) => {
  expect(applySetting(cfg, null, key, value)).toMatchObject({ kind: 'set', path, value: expected });
});

test.each([
  ['service-types.ai.instance-behavior', 'double', 'INVALID_ARGUMENT'],
  ['service-types.nope.instance-behavior', 'single', 'UNKNOWN_SERVICE_TYPE'],
  ['service-types.constructor.instance-behavior', 'single', 'UNKNOWN_SERVICE_TYPE'],
  ['auto-allocation.gap-size', '-1', 'INVALID_ARGUMENT'],
  ['auto-allocation.bogus', '1', 'INVALID_ARGUMENT'],
  ['whatever', '1', 'INVALID_ARGUMENT'],
])('%s %s is refused', (key, value, code) => {
  expect(applySetting(cfg, null, key, value)).toMatchObject({ kind: 'rejected', code });
});
