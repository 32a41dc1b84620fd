import * as fs from 'fs';
import * as path from 'path';
import { LABEL_PATTERN, LOCK_ID_PATTERN, NAME_PATTERN, RESERVED_NAMES, SESSION_PATTERN } from '../../../lib/core/names';
import { COMPOSE_PROJECT_PATTERN, COMPOSE_SERVICE_PATTERN, isSurelyValidState } from '../../../lib/store/state-quick-check';
import { validators } from '../../../lib/store/validators';
import { random, type Random } from '../../helpers/random';

// The quick check may say "not sure" where the schema accepts, never "valid" where it refuses.
// Both are run on thousands of states: generated valid ones, and the same with one thing broken.

const ajvAccepts = (data: unknown) => validators().validateState(data);

const NAMES = ['dev', 'api', 'a', 'A.b_c-d', '0', 'x'.repeat(63), 'web-1'];
/** Values that break one field or another: wrong types, edge lengths, reserved and odd strings. */
const ODD: unknown[] = [
  null,
  undefined,
  true,
  0,
  -1,
  1.5,
  65536,
  65535,
  1,
  NaN,
  '',
  ' ',
  'x'.repeat(64),
  'x'.repeat(201),
  'x'.repeat(4097),
  '😀'.repeat(2049),
  '😀'.repeat(2048),
  '-dev',
  '.dev',
  'dé',
  'dev\n',
  '\u0000',
  '__proto__',
  ...RESERVED_NAMES,
  [],
  {},
  ['dev'],
  { kind: 'persistent' },
  { uid: -1 },
  { uid: 1.5 },
  { uid: 4294967296 },
  { uid: 1, name: '' },
  { uid: 1, name: 'x'.repeat(257) },
  { uid: 1, name: 7 },
  { uid: 1, extra: 1 },
  { name: 'alice' },
  '1e3',
  8000.0,
  1e3,
  Number.MAX_SAFE_INTEGER,
  -0,
];

function owner(r: Random): Record<string, unknown> {
  switch (r.int(0, 4)) {
    case 0:
      return { kind: 'persistent' };
    case 1:
      return { kind: 'lease', expiresAt: '2026-01-01T00:00:00.000Z' };
    case 2:
      return { kind: 'process', pid: r.int(1, 4_000_000), startTime: r.pick(['12345', null]) };
    case 3:
      return { kind: 'process', pid: r.int(1, 4_000_000), startTime: '1', command: r.pick(['', 'node server.js', 'x'.repeat(1000)]) };
    default: {
      // The fields added for detected owners, boots, adoption and reservations, each maybe.
      const o: Record<string, unknown> = { kind: 'process', pid: r.int(1, 4_000_000), startTime: '7' };
      if (r.next() < 0.5) o.detected = true;
      if (r.next() < 0.5) o.bootId = r.pick(['6d3f1d8e-1c1a-4c8e-9a0e-2b8f5a7c9d10', 'boottime:1764590000', 'x'.repeat(100)]);
      if (r.next() < 0.5) o.adoptedAt = '2026-01-01T00:00:00.000Z';
      if (r.next() < 0.5) o.reservedUntil = '2026-01-01T00:01:00.000Z';
      if (r.next() < 0.5) o.command = 'bash';
      if (r.next() < 0.3) o.via = 'run';
      if (r.next() < 0.3) o.pidNs = r.pick(['4026531836', '4026532291']);
      return o;
    }
  }
}

function allocation(r: Random): Record<string, unknown> {
  const serviceType = r.pick(NAMES);
  const instanceId = r.pick(NAMES);
  // A label and a session, each maybe (the caller's own names: printable text; visible ASCII).
  const named: Record<string, unknown> = {};
  if (r.next() < 0.3) named.label = r.pick(['agent 2', 'feature/login ☃', 'x'.repeat(200), '😀'.repeat(200)]);
  if (r.next() < 0.3) named.session = r.pick(['claude-code:3f2a9c', 's', '!'.repeat(200)]);
  // What `styxy compose` made: its Compose project and service.
  if (r.next() < 0.3) named.compose = { project: r.pick(['shop-3c572d88', 'a', 'x'.repeat(4096)]), service: r.pick(['web', 'db.main', 'W_1']) };
  return {
    ...named,
    lockId: `${serviceType}-${instanceId}-${r.int(0, 0xffffff).toString(16)}`.slice(0, 201),
    serviceType,
    instanceId,
    port: r.int(1, 65535),
    project: r.pick(['/p', '/home/me/work tree', 'C:\\code', 'x'.repeat(4096), '😀'.repeat(2048)]),
    owner: owner(r),
    allocatedAt: '2026-01-01T00:00:00.000Z',
    // The user that made it: absent in older states, maybe without a name.
    ...(r.next() < 0.5 && { user: r.next() < 0.5 ? { uid: r.int(0, 4294967295) } : { uid: r.int(0, 70000), name: r.pick(['alice', 'x'.repeat(256)]) } }),
  };
}

function freedPort(r: Random): Record<string, unknown> {
  return {
    port: r.int(1, 65535),
    serviceType: r.pick(NAMES),
    instanceId: r.pick(NAMES),
    project: r.pick(['/p', 'x'.repeat(4096)]),
    sticky: r.next() < 0.5,
    freedAt: '2026-01-01T00:00:00.000Z',
  };
}

function state(r: Random): { version: unknown; allocations: Record<string, unknown>[]; recentlyFreed?: Record<string, unknown>[] } {
  const allocations = Array.from({ length: r.int(0, 6) }, () => {
    const a = r.next() < 0.3 ? { ...allocation(r), sticky: true } : allocation(r);
    return r.next() < 0.2 ? { ...a, block: r.int(2, 100) } : a;
  });
  // Older states have no recentlyFreed at all; newer ones may have an empty list.
  const roll = r.next();
  if (roll < 0.3) return { version: 1, allocations };
  return { version: 1, allocations, recentlyFreed: Array.from({ length: roll < 0.4 ? 0 : r.int(1, 4) }, () => freedPort(r)) };
}

/** One thing broken, somewhere: a field replaced, removed or added, in an allocation, its owner or the top. */
function mutate(r: Random, s: ReturnType<typeof state>): unknown {
  const where = r.int(0, 11);
  if (where >= 10 && s.recentlyFreed && s.recentlyFreed.length > 0) {
    const i = r.int(0, s.recentlyFreed.length - 1);
    const f = { ...s.recentlyFreed[i]! };
    const key = r.pick(['port', 'serviceType', 'instanceId', 'project', 'sticky', 'freedAt', 'extra']);
    if (r.next() < 0.2) delete f[key];
    else f[key] = r.pick(ODD);
    const recentlyFreed = [...s.recentlyFreed];
    recentlyFreed[i] = f;
    return { ...s, recentlyFreed };
  }
  if (where === 0 || where >= 10 || s.allocations.length === 0) {
    const top: Record<string, unknown> = { ...s };
    const key = r.pick(['version', 'allocations', 'recentlyFreed', 'extra', '__proto__']);
    if (r.next() < 0.3) delete top[key];
    else top[key] = r.pick(ODD);
    return key === '__proto__' ? JSON.parse(JSON.stringify(top).replace('"extra"', '"__proto__"')) : top;
  }
  const i = r.int(0, s.allocations.length - 1);
  const a = { ...s.allocations[i]! };
  const target: Record<string, unknown> = where < 4 ? { ...(a.owner as object) } : a;
  const key = r.pick(
    where < 4
      ? ['kind', 'pid', 'startTime', 'command', 'expiresAt', 'detected', 'bootId', 'adoptedAt', 'reservedUntil', 'via', 'pidNs', 'extra']
      : ['lockId', 'serviceType', 'instanceId', 'port', 'project', 'owner', 'allocatedAt', 'sticky', 'block', 'label', 'session', 'user', 'compose', 'extra'],
  );
  const roll = r.next();
  if (roll < 0.2) delete target[key];
  else if (roll < 0.3) target[key] = r.pick(['process', 'lease', 'persistent', 'Persistent']);
  else target[key] = r.pick(ODD);
  if (where < 4) a.owner = target;
  const allocations = [...s.allocations];
  allocations[i] = a;
  return { ...s, allocations };
}

test('on valid states it says valid, so the quick path is the one taken', () => {
  const r = random(1);
  for (let n = 0; n < 2000; n++) {
    const s = state(r);
    expect(ajvAccepts(s)).toBe(true);
    // Only the long project paths in code points (which ajv counts) are left to ajv.
    const expected = [...s.allocations, ...(s.recentlyFreed ?? [])].every((a) => (a.project as string).length <= 4096);
    expect(isSurelyValidState(s)).toBe(expected);
  }
});

test('it never says valid where the schema refuses (20 000 states with one thing broken)', () => {
  const r = random(2);
  let refused = 0;
  for (let n = 0; n < 20_000; n++) {
    const broken = mutate(r, state(r));
    const quick = isSurelyValidState(broken);
    const schema = ajvAccepts(broken);
    if (quick && !schema) throw new Error(`the quick check accepted what the schema refuses: ${JSON.stringify(broken)}`);
    if (!schema) refused++;
  }
  // The mutations do break things, or this test would prove nothing.
  expect(refused).toBeGreaterThan(10_000);
});

test('a state from JSON with a __proto__ key, and objects and arrays in odd places, are left to ajv', () => {
  const one = { lockId: 'dev-a-1', serviceType: 'dev', instanceId: 'a', port: 3000, project: '/p', owner: { kind: 'persistent' }, allocatedAt: 't' };
  expect(isSurelyValidState({ version: 1, allocations: [one] })).toBe(true);
  expect(isSurelyValidState(JSON.parse(`{"version":1,"allocations":[],"__proto__":{}}`))).toBe(false);
  expect(isSurelyValidState(JSON.parse(`{"version":1,"allocations":[${JSON.stringify(one).replace('{', '{"__proto__":1,')}]}`))).toBe(false);
  expect(isSurelyValidState([])).toBe(false);
  expect(isSurelyValidState({ version: 1, allocations: [[]] })).toBe(false);
  expect(isSurelyValidState({ version: 1, allocations: [{ ...one, owner: [] }] })).toBe(false);
});

test("its patterns are the schema's own", () => {
  const schema = JSON.parse(fs.readFileSync(path.join(__dirname, '../../../schemas/state.schema.json'), 'utf8'));
  expect(schema.definitions.name.pattern).toBe(NAME_PATTERN.source);
  expect(schema.definitions.name.not.enum).toEqual([...RESERVED_NAMES]);
  expect(schema.definitions.allocation.properties.lockId.pattern).toBe(LOCK_ID_PATTERN.source);
  // The keys it knows are the schema's: a field added to one and not the other fails here.
  expect(Object.keys(schema.properties).sort()).toEqual(['allocations', 'recentlyFreed', 'settled', 'version']);
  expect(Object.keys(schema.definitions.allocation.properties).sort()).toEqual([
    'allocatedAt',
    'block',
    'compose',
    'instanceId',
    'label',
    'lockId',
    'owner',
    'port',
    'project',
    'serviceType',
    'session',
    'sticky',
    'user',
  ]);
  expect(schema.definitions.allocation.properties.label.pattern).toBe(LABEL_PATTERN.source);
  expect(schema.definitions.allocation.properties.session.pattern).toBe(SESSION_PATTERN.source);
  const compose = schema.definitions.allocation.properties.compose;
  expect([compose.properties.project.pattern, compose.properties.service.pattern]).toEqual([COMPOSE_PROJECT_PATTERN.source, COMPOSE_SERVICE_PATTERN.source]);
  expect(Object.keys(compose.properties).sort()).toEqual(compose.required.sort());
  expect(Object.keys(schema.definitions.freedPort.properties).sort()).toEqual(['freedAt', 'instanceId', 'port', 'project', 'serviceType', 'sticky']);
  expect(schema.definitions.freedPort.required.sort()).toEqual(['freedAt', 'instanceId', 'port', 'project', 'serviceType', 'sticky']);
});

test('a state written before recentlyFreed existed, and one with it, both pass quickly', () => {
  const one = { lockId: 'dev-a-1', serviceType: 'dev', instanceId: 'a', port: 3000, project: '/p', owner: { kind: 'persistent' }, allocatedAt: 't' };
  const f = { port: 3001, serviceType: 'dev', instanceId: 'b', project: '/p', sticky: true, freedAt: 't' };
  expect(isSurelyValidState({ version: 1, allocations: [one] })).toBe(true);
  expect(isSurelyValidState({ version: 1, allocations: [{ ...one, sticky: true }], recentlyFreed: [f] })).toBe(true);
  expect(isSurelyValidState({ version: 1, allocations: [{ ...one, sticky: false }] })).toBe(false);
  expect(isSurelyValidState({ version: 1, allocations: [], recentlyFreed: [{ ...f, sticky: 'yes' }] })).toBe(false);
});

test('fields another version added are accepted by the schema and left to ajv by the quick check', () => {
  const r = random(3);
  for (let n = 0; n < 500; n++) {
    const s = state(r);
    const withExtras: Record<string, unknown> = { ...s, [r.pick(['recent', 'meta', 'x'])]: r.pick(ODD) };
    if (s.allocations.length > 0) {
      const i = r.int(0, s.allocations.length - 1);
      const a = { ...s.allocations[i]! };
      if (r.next() < 0.5) a.note = r.pick(ODD);
      else a.owner = { ...(a.owner as object), cgroup: r.pick(ODD) };
      const allocations = [...s.allocations];
      allocations[i] = a;
      withExtras.allocations = allocations;
    }
    // JSON drops undefined and turns NaN into null, as a state read from disk would have it.
    const fromDisk = JSON.parse(JSON.stringify(withExtras));
    expect(ajvAccepts(fromDisk)).toBe(true);
    expect(isSurelyValidState(fromDisk)).toBe(isSurelyValidState(JSON.parse(JSON.stringify(s))) && JSON.stringify(fromDisk) === JSON.stringify(s));
  }
});
