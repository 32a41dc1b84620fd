import { builtInConfig } from '../../../lib/core/defaults';
import { serializeState } from '../../../lib/store/state-file';
import { validateConfigShape, validateStateShape } from '../../../lib/store/validators';

test('the built-in defaults are a valid config layer', () => {
  expect(validateConfigShape(builtInConfig())).toEqual([]);
});

test('every problem is reported at once', () => {
  const errors = validateConfigShape({ service_types: { dev: { port_range: [0, 70000], instance_behavior: 'twice' } }, bogus: 1 });
  expect(errors.map((e) => e.keyword).sort()).toEqual(['additionalProperties', 'enum', 'maximum', 'minimum']);
});

test('hostile keys are refused as names', () => {
  expect(validateConfigShape(JSON.parse('{"service_types": {"__proto__": {"port_range": [20000, 20001]}}}')).length).toBeGreaterThan(0);
  expect(validateConfigShape({ auto_allocation_rules: { constructor: {} } }).length).toBeGreaterThan(0);
});

test('serialized state round-trips and validates', () => {
  const state = {
    version: 1 as const,
    allocations: [
      { lockId: 'dev-a-1', serviceType: 'dev', instanceId: 'a', port: 3000, project: '/p', owner: { kind: 'persistent' as const }, allocatedAt: 't' },
      {
        lockId: 'dev-b-1',
        serviceType: 'dev',
        instanceId: 'b',
        port: 3001,
        project: '/p',
        owner: { kind: 'lease' as const, expiresAt: 't' },
        allocatedAt: 't',
      },
    ],
  };
  const text = serializeState(state);
  expect(JSON.parse(text)).toEqual(state);
  expect(validateStateShape(JSON.parse(text))).toEqual([]);
  expect(JSON.parse(serializeState({ version: 1, allocations: [] }))).toEqual({ version: 1, allocations: [] });
});

test('a state with a bad port is invalid', () => {
  expect(
    validateStateShape({
      version: 1,
      allocations: [{ lockId: 'x', serviceType: 'dev', instanceId: 'a', port: 0, project: '/', owner: { kind: 'persistent' }, allocatedAt: 't' }],
    }).length,
  ).toBeGreaterThan(0);
});
