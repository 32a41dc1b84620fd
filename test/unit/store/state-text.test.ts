import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { inspectStateFile, serializeState, type StateSource } from '../../../lib/store/state-file';
import type { StyxyPaths } from '../../../lib/store/paths';
import { isSurelyValidState } from '../../../lib/store/state-quick-check';
import { findAllocationLines, jsonLines } from '../../../lib/store/state-text';
import type { Allocation, State } from '../../../lib/core/types';
import { random, type Random } from '../../helpers/random';

// The writer takes the text of allocations it read instead of serializing them again, and splits
// one JSON.stringify of an array into lines. Both must give, byte for byte, what serializing each
// object on its own gives: `reference` below, the plain way. Held over generated states written in
// every form a state file may have: Styxy's layout, compact JSON, and hand-edited texts that must
// not be taken as they are.

/** The plain serializer: each element on its own. */
function reference(state: State): string {
  const record = state as unknown as Record<string, unknown>;
  const members = Object.keys(state)
    .filter((key) => record[key] !== undefined)
    .map((key) => {
      const value = record[key];
      if ((key !== 'allocations' && key !== 'recentlyFreed') || !Array.isArray(value)) return `  ${JSON.stringify(key)}: ${JSON.stringify(value)}`;
      const lines = value.map((item) => `    ${JSON.stringify(item)}`);
      return `  ${JSON.stringify(key)}: [${lines.length ? `\n${lines.join(',\n')}\n  ` : ''}]`;
    });
  return `{\n${members.join(',\n')}\n}\n`;
}

/** Strings a project path or a command may hold: the ones that trip a text-level shortcut among them. */
const TEXTS = ['/p', '/home/me/My Project', '/a},{b', '/a"b', '/a\\b', 'dé/ü', '😀', ':x', '/x]', '/x}', '\n', '\u2028', '/x\\"},{"lockId":"y'];

function owner(r: Random): Allocation['owner'] {
  switch (r.int(0, 3)) {
    case 0:
      return { kind: 'persistent' };
    case 1:
      return { kind: 'lease', expiresAt: '2026-01-01T00:00:00.000Z' };
    case 2:
      return { kind: 'process', pid: r.int(1, 4_000_000), startTime: r.pick(['123', null]), detected: true, command: r.pick(TEXTS), bootId: 'b' };
    default:
      return { kind: 'process', pid: r.int(1, 99), startTime: '7', reservedUntil: 't', via: 'run' };
  }
}

function allocation(r: Random, i: number): Allocation {
  return {
    lockId: `dev-i${i}-${r.int(0, 1e6)}`,
    serviceType: r.pick(['dev', 'api', 'x.y']),
    instanceId: `i${i}`,
    port: r.int(1, 65535),
    project: r.next() < 0.7 ? '/p' : r.pick(TEXTS),
    owner: owner(r),
    allocatedAt: '2026-01-01T00:00:00.000Z',
    ...(r.next() < 0.3 && { sticky: true as const }),
    ...(r.next() < 0.5 && { user: r.next() < 0.5 ? { uid: r.int(0, 70000), name: r.pick(['alice', 'b.o-b']) } : { uid: r.int(0, 70000) } }),
  };
}

function generatedState(r: Random): State {
  const allocations = Array.from({ length: r.int(0, 12) }, (_, i) => allocation(r, i));
  const freed =
    r.next() < 0.4 ? [{ port: r.int(1, 65535), serviceType: 'dev', instanceId: 'a', project: r.pick(TEXTS), sticky: r.next() < 0.5, freedAt: 't' }] : undefined;
  return { version: 1, allocations, ...(freed && { recentlyFreed: freed }) };
}

/** Texts of `state` a state file may hold, each parsing to the same value (but where a key is repeated). */
function texts(state: State, r: Random): string[] {
  const compact = JSON.stringify(state);
  const out = [
    reference(state),
    compact,
    JSON.stringify(state, null, 2),
    reference(state).replace(/\n/g, '\r\n'),
    reference(state).replace('"port":', '"port": '),
  ];
  // A repeated key (JSON.parse keeps the last), a number written another way, an escape for a plain letter.
  if (state.allocations.length > 0) {
    out.push(compact.replace('"port":', '"port":1,"port":'));
    out.push(reference(state).replace('"kind":', '"kind":"lease","kind":'));
    out.push(compact.replace(/"port":(\d+)/, (_, p) => `"port":${Number(p)}.0`));
    out.push(reference(state).replace('"lockId":"d', '"lockId":"\\u0064'));
    out.push(compact.replace('"allocations":', '"allocations":[],"allocations":'));
  }
  return out.slice(0, r.int(5, out.length));
}

/** A source as readState makes one: only for a state the quick check passes. */
function sourceOf(text: string): { state: State; source?: StateSource } {
  const state = JSON.parse(text) as State;
  return isSurelyValidState(state) ? { state, source: { text, allocations: state.allocations } } : { state };
}

test('one stringify split into lines is the lines made one by one', () => {
  const r = random(7);
  for (let n = 0; n < 2000; n++) {
    const items = generatedState(r).allocations as unknown[];
    if (r.next() < 0.1) items.push(r.pick([null, 3, 'x', [], {}, { a: [{ b: 1 }, { c: 2 }] }]));
    expect(jsonLines(items)).toBe(items.map((item) => `    ${JSON.stringify(item)}`).join(',\n'));
  }
});

test('an allocate writes, byte for byte, what serializing every allocation gives, whatever text it read', () => {
  const r = random(11);
  let kept = 0;
  for (let n = 0; n < 1500; n++) {
    const state = generatedState(r);
    for (const text of texts(state, r)) {
      const read = sourceOf(text);
      // What a transaction may make of it: one added, or the same, or one replaced, or one dropped.
      const change = r.int(0, 3);
      const allocations = [...read.state.allocations];
      if (change === 0) allocations.push(allocation(r, 99));
      if (change === 2 && allocations.length > 0) allocations[r.int(0, allocations.length - 1)] = allocation(r, 98);
      if (change === 3 && allocations.length > 0) allocations.splice(r.int(0, allocations.length - 1), 1);
      const next: State = change === 1 ? read.state : { ...read.state, allocations };
      expect(serializeState(next, read.source)).toBe(reference(next));
      if (read.source && findAllocationLines(text, read.state.allocations.length) !== null) kept++;
    }
  }
  // The texts Styxy writes are taken as they are, often enough for this to test that path.
  expect(kept).toBeGreaterThan(500);
});

test('the text read is taken only when it is exactly what serializing gives', () => {
  const owner = { kind: 'process' as const, pid: 12, startTime: '34', detected: true as const, command: 'npm run dev', bootId: 'b' };
  const state: State = {
    version: 1,
    allocations: [
      {
        lockId: 'dev-a-1',
        serviceType: 'dev',
        instanceId: 'a',
        port: 3000,
        project: '/home/me/My Project',
        owner,
        allocatedAt: 't',
        sticky: true,
        user: { uid: 1000, name: 'me' },
      },
      { lockId: 'api-b-2', serviceType: 'api', instanceId: 'b', port: 8000, project: '/p', owner: { kind: 'persistent' }, allocatedAt: 't' },
    ],
  };
  const plain = reference(state);
  expect(findAllocationLines(plain, 2)).toBe(reference(state).split('\n').slice(3, 5).join('\n'));
  expect(findAllocationLines(JSON.stringify(state), 2)).toBe(findAllocationLines(plain, 2));
  for (const odd of [
    plain.replace('"port":', '"port": '),
    plain.replace('"port":', '"port":1,"port":'),
    plain.replace(/"port":(\d+)/, (_, p) => `"port":${p}.0`),
    plain.replace('"lockId":"', '"lockId":"\\u0041'),
    plain.replace('"allocations": [', '"allocations": [],\n  "allocations": ['),
    plain.replace('\n}', ',\n  "allocations": []\n}'),
    plain.replace('"allocatedAt"', '"extra":1,"allocatedAt"'),
  ]) {
    expect(findAllocationLines(odd, 2)).toBeNull();
  }
});

test('an allocation with a field this version does not know keeps it, and one that changed is written anew', () => {
  const known = allocation(random(3), 0);
  const text = reference({ version: 1, allocations: [{ ...known, future: { a: [1, 2] } } as Allocation, known] });
  const read = sourceOf(text);
  // The quick check does not pass a field it does not know: the schema reads it, and nothing is taken from the text.
  expect(read.source).toBeUndefined();
  const added = allocation(random(4), 1);
  const written = serializeState({ ...read.state, allocations: [...read.state.allocations, added] }, read.source);
  expect(JSON.parse(written).allocations[0].future).toEqual({ a: [1, 2] });
  // Read from Styxy's own text, then the first one handed over: its line is the new owner's.
  const plain = sourceOf(reference({ version: 1, allocations: [known, added] }));
  const handedOver = { ...plain.state.allocations[0]!, owner: { kind: 'persistent' as const } };
  const after = serializeState({ ...plain.state, allocations: [handedOver, plain.state.allocations[1]!] }, plain.source);
  expect(JSON.parse(after).allocations[0].owner).toEqual({ kind: 'persistent' });
  expect(after).toBe(reference({ version: 1, allocations: [handedOver, plain.state.allocations[1]!] }));
});

test('a state whose list is reordered in place is written in its new order, not the text read', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'styxy-state-text-'));
  try {
    const file = path.join(dir, 'state.json');
    const allocations = [0, 1, 2].map((i) => ({
      lockId: `dev-a${i}-1`,
      serviceType: 'dev',
      instanceId: `a${i}`,
      port: 3000 + i,
      project: '/p',
      owner: { kind: 'persistent' as const },
      allocatedAt: 't',
    }));
    fs.writeFileSync(file, reference({ version: 1, allocations }));
    const content = inspectStateFile({ state: file } as StyxyPaths);
    if (content.kind !== 'ok') throw new Error(content.kind);
    expect(content.source).toBeDefined();
    content.state.allocations.reverse();
    expect(serializeState(content.state, content.source)).toBe(reference(content.state));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
