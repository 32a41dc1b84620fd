import { reviewAllocations } from '../../../lib/core/allocation-review';
import type { Allocation, Owner } from '../../../lib/core/types';
import { allocation } from '../../helpers/builders';

const alloc = (lockId: string, port: number, owner: Owner): Allocation => allocation({ lockId, instanceId: lockId, port, owner });
const proc = (pid: number): Owner => ({ kind: 'process', pid, startTime: '1' });
const facts = {
  now: Date.parse('2026-06-01T00:00:00.000Z'),
  liveProcesses: new Map<number, string | null>([
    [10, '1'],
    [20, '1'],
  ]),
};
// 30 is a child of 10; 40 is nobody's; init is 1.
const parents: Record<number, number> = { 30: 10, 10: 1, 20: 1, 40: 1 };
const ancestry = (pid: number) => {
  const chain = [pid];
  while (parents[chain[chain.length - 1]!] !== undefined) chain.push(parents[chain[chain.length - 1]!]!);
  return chain;
};

test('each allocation lands in the right group', () => {
  const allocations = [
    alloc('ended', 3000, proc(99)),
    alloc('quiet', 3001, proc(10)),
    alloc('own', 3002, proc(10)),
    alloc('child', 3003, proc(10)),
    alloc('stranger', 3004, proc(20)),
    alloc('persistent', 3005, { kind: 'persistent' }),
    alloc('unknown-pid', 3006, proc(20)),
  ];
  const listeners = [{ port: 3002, pid: 10 }, { port: 3003, pid: 30 }, { port: 3004, pid: 40, command: 'nc -l' }, { port: 3005, pid: 40 }, { port: 3006 }];
  const review = reviewAllocations(allocations, facts, listeners, ancestry);
  expect(review.ended.map((a) => a.lockId)).toEqual(['ended']);
  expect(review.unlistened.map((a) => a.lockId)).toEqual(['quiet']);
  expect(review.foreign.map((f) => [f.allocation.lockId, f.listener.pid])).toEqual([['stranger', 40]]);
});

test('one stranger among two listeners on a port (IPv4 and IPv6) is reported', () => {
  const review = reviewAllocations(
    [alloc('a', 3000, proc(10))],
    facts,
    [
      { port: 3000, pid: 10 },
      { port: 3000, pid: 40 },
    ],
    ancestry,
  );
  expect(review.foreign).toHaveLength(1);
});

test('a reservation in time is reported as reserved, not as ended; one whose time is up is ended', () => {
  const reserved = (until: string): Owner => ({ kind: 'process', pid: 99, startTime: '1', detected: true, reservedUntil: until });
  const review = reviewAllocations(
    [alloc('waiting', 3000, reserved('2026-06-01T00:01:00.000Z')), alloc('over', 3001, reserved('2026-05-31T23:59:00.000Z'))],
    facts,
    [],
    ancestry,
  );
  expect(review.reserved.map((a) => a.lockId)).toEqual(['waiting']);
  expect(review.ended.map((a) => a.lockId)).toEqual(['over']);
});

test('owners of other PID namespaces: one that cannot be judged is its own group; one judged alive is never called a stranger', () => {
  const inNs = (pid: number, pidNs: string): Owner => ({ kind: 'process', pid, startTime: '1', pidNs });
  const fromHost = {
    ...facts,
    pidNs: '4026531836',
    namespaces: { seen: new Set(['4026532291']), live: new Map<string, string | null>([['4026532291:7', '1']]) },
  };
  const review = reviewAllocations([alloc('container', 3000, inNs(7, '4026532291'))], fromHost, [{ port: 3000, pid: 40 }], ancestry);
  expect([review.ended, review.unjudged, review.foreign]).toEqual([[], [], []]);
  const fromContainer = { ...facts, pidNs: '4026532291', namespaces: { seen: new Set<string>(), live: new Map<string, string | null>() } };
  const inside = reviewAllocations([alloc('host', 3000, inNs(10, '4026531836'))], fromContainer, [{ port: 3000, pid: 40 }], ancestry);
  expect(inside.unjudged.map((a) => a.lockId)).toEqual(['host']);
  expect([inside.ended, inside.foreign]).toEqual([[], []]);
});
