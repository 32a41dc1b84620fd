import * as fs from 'fs';
import * as path from 'path';
import { applySetting, findRulePatternProblem, parseRuleFields, SETTABLE_KEYS } from '../../../lib/core/config-keys';
import { builtInConfig } from '../../../lib/core/defaults';
import { RESERVED_NAMES } from '../../../lib/core/names';
import { PORT_FLOOR } from '../../../lib/core/placement-strategies';
import { validateConfigShape } from '../../../lib/store/validators';

// The bounds `styxy config set` and `set-rule` hold values to are the config schema's, stated
// there alone (lib/core/config-keys.ts reads them from lib/generated/config-bounds.ts, which the
// build makes from the schema). Here each settable key is tried at and past the schema's bounds,
// so that a bound changed in the schema moves the command with it, or this fails naming the key.

const SCHEMA = JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', '..', 'schemas', 'config.schema.json'), 'utf8'));
const cfg = builtInConfig();
type Node = Record<string, any>;
const resolve = (node: Node): Node => (node.$ref ? resolve(SCHEMA.definitions[String(node.$ref).replace('#/definitions/', '')]) : node);
const PORT_REF = '#/definitions/port';

/** `auto-allocation.gap-size` → the schema's node for auto_allocation.gap_size. */
function nodeOf(key: string): Node {
  const [section, field] = key.replace(/-/g, '_').split('.') as [string, string];
  return SCHEMA.properties[section].properties[field];
}

const SECTION_KEYS = SETTABLE_KEYS.filter((k) => !k.startsWith('service-types.'));

test('every key of a section that `config set` takes is in the schema', () => {
  expect(SECTION_KEYS.filter((k) => nodeOf(k) === undefined)).toEqual([]);
});

describe.each(SECTION_KEYS.filter((k) => resolve(nodeOf(k)).maximum !== undefined))('%s', (key) => {
  const node = nodeOf(key);
  const { minimum, maximum } = resolve(node);
  // Ports auto-allocation starts from stay at or above its floor, which the schema leaves to the config rules.
  const low = node.$ref === PORT_REF ? Math.max(PORT_FLOOR, minimum) : minimum;

  test.each([low, maximum])('takes %d, and the layer it makes is valid', (value) => {
    const outcome = applySetting(cfg, null, key, String(value));
    expect(outcome).toMatchObject({ kind: 'set', value });
    if (outcome.kind === 'set') expect(validateConfigShape(outcome.layer)).toEqual([]);
  });

  test.each([low - 1, maximum + 1].filter((v) => v >= 0))('refuses %d, naming the bounds', (value) => {
    const outcome = applySetting(cfg, null, key, String(value));
    expect(outcome).toMatchObject({ kind: 'rejected', code: 'INVALID_ARGUMENT' });
    if (outcome.kind === 'rejected') expect(outcome.message).toContain(`from ${low} to ${maximum}`);
  });
});

describe.each(SECTION_KEYS.filter((k) => resolve(nodeOf(k)).enum !== undefined))('%s', (key) => {
  const allowed: string[] = resolve(nodeOf(key)).enum;
  test.each(allowed)('takes %s', (value) => expect(applySetting(cfg, null, key, value)).toMatchObject({ kind: 'set', value }));
  test('refuses anything else, listing the schema’s values', () => {
    expect(applySetting(cfg, null, key, 'bogus')).toMatchObject({
      kind: 'rejected',
      message: expect.stringContaining(`expected one of ${allowed.join(', ')}`),
    });
  });
});

test('a type’s port range and instance behaviour: the schema’s port bounds and values', () => {
  const { minimum, maximum } = SCHEMA.definitions.port;
  const set = (key: string, text: string) => applySetting(cfg, null, `service-types.dev.${key}`, text);
  expect(set('port-range', `${minimum}-${maximum}`)).toMatchObject({ kind: 'set', value: [minimum, maximum] });
  for (const text of [`${minimum - 1}-${maximum}`, `${minimum}-${maximum + 1}`]) {
    expect(set('port-range', text)).toMatchObject({ kind: 'rejected', message: expect.stringContaining(`(${minimum}-${maximum}, low first)`) });
  }
  const behaviours: string[] = SCHEMA.definitions.serviceType.properties.instance_behavior.enum;
  for (const value of behaviours) expect(set('instance-behavior', value)).toMatchObject({ kind: 'set', value });
  expect(set('instance-behavior', 'bogus')).toMatchObject({ kind: 'rejected', message: expect.stringContaining(`expected one of ${behaviours.join(', ')}`) });
});

test('set-rule: the schema’s bounds of a rule’s fields', () => {
  const rule: Node = SCHEMA.properties.auto_allocation_rules.additionalProperties.properties;
  const chunk = rule.chunk_size;
  const start = resolve(rule.preferred_range_start);
  const startLow = Math.max(PORT_FLOOR, start.minimum);
  expect(parseRuleFields({ chunkSize: String(chunk.minimum), preferredRangeStart: String(startLow) })).toEqual({
    fields: { chunk_size: chunk.minimum, preferred_range_start: startLow },
  });
  expect(parseRuleFields({ chunkSize: String(chunk.maximum), preferredRangeStart: String(start.maximum) })).toEqual({
    fields: { chunk_size: chunk.maximum, preferred_range_start: start.maximum },
  });
  expect(parseRuleFields({ chunkSize: String(chunk.maximum + 1) })).toEqual({ problem: expect.stringContaining(`from ${chunk.minimum} to ${chunk.maximum}`) });
  expect(parseRuleFields({ preferredRangeStart: String(startLow - 1) })).toEqual({ problem: expect.stringContaining(`from ${startLow} to ${start.maximum}`) });
  expect(parseRuleFields({ placement: 'bogus' })).toEqual({
    problem: expect.stringContaining(`expected one of ${rule.placement && resolve(rule.placement).enum.join(', ')}`),
  });
  expect(parseRuleFields({ instanceBehavior: 'bogus' })).toEqual({
    problem: expect.stringContaining(`expected one of ${rule.instance_behavior.enum.join(', ')}`),
  });
});

test('a rule pattern set-rule refuses is one the schema refuses, and the other way round', () => {
  // findRulePatternProblem says why in words, so it keeps its own regex; here it is held to the
  // schema's rulePattern over generated patterns and the edge cases.
  const accepts = (pattern: string) => validateConfigShape(JSON.parse(`{"auto_allocation_rules":{${JSON.stringify(pattern)}:{}}}`)).length === 0;
  const pool = 'aZ09._-*?[]{},!+@() /;é\\';
  let seed = 7;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  const patterns = ['', '__proto__', '123', '0', '1a', 'x'.repeat(200), 'x'.repeat(201), ...RESERVED_NAMES];
  for (let n = 0; n < 2000; n++) patterns.push(Array.from({ length: 1 + Math.floor(next() * 6) }, () => pool[Math.floor(next() * pool.length)]).join(''));
  const disagree = patterns.filter((p) => accepts(p) !== (findRulePatternProblem(p) === null));
  expect(disagree).toEqual([]);
});
