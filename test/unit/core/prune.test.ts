import { isOwnerLive, ownerPids, pruneAllocations, pruneUnused } from '../../../lib/core/prune';
import type { Owner } from '../../../lib/core/types';
import { allocation, state, T0 } from '../../helpers/builders';

const facts = { now: T0, liveProcesses: new Map<number, string | null>([[100, '5'], [200, null]]) };

describe('isOwnerLive', () => {
  test.each<[string, Owner, boolean]>([
    ['a running process with the same start time', { kind: 'process', pid: 100, startTime: '5' }, true],
    ['a reused PID (start time differs)', { kind: 'process', pid: 100, startTime: '4' }, false],
    ['a PID that is not running (or a zombie)', { kind: 'process', pid: 300, startTime: '5' }, false],
    ['a running process whose start time could not be read', { kind: 'process', pid: 200, startTime: '9' }, true],
    ['an owner recorded without start time', { kind: 'process', pid: 100, startTime: null }, true],
    ['a lease in the future', { kind: 'lease', expiresAt: new Date(T0 + 1).toISOString() }, true],
    ['a lease that ended', { kind: 'lease', expiresAt: new Date(T0).toISOString() }, false],
    ['a persistent allocation', { kind: 'persistent' }, true],
  ])('%s', (_name, owner, live) => {
    expect(isOwnerLive(owner, facts)).toBe(live);
  });

  test('age never kills a live owner', () => {
    expect(isOwnerLive({ kind: 'process', pid: 100, startTime: '5' }, { ...facts, now: T0 + 365 * 86_400_000 })).toBe(true);
  });
});

test('pruneAllocations drops the dead and keeps the rest in order', () => {
  const live1 = allocation({ port: 3000 });
  const dead = allocation({ port: 3001, owner: { kind: 'process', pid: 300, startTime: '1' } });
  const live2 = allocation({ port: 3002, owner: { kind: 'persistent' } });
  const result = pruneAllocations(state(live1, dead, live2), facts);
  expect(result.state.allocations).toEqual([live1, live2]);
  expect(result.pruned).toEqual([dead]);
});

test('pruneAllocations returns the same state object when nothing died', () => {
  const st = state(allocation({ port: 3000 }));
  expect(pruneAllocations(st, facts).state).toBe(st);
});

test('ownerPids lists each process owner once', () => {
  const st = state(allocation({ port: 1 }), allocation({ port: 2 }), allocation({ port: 3, owner: { kind: 'persistent' } }));
  expect(ownerPids(st)).toEqual([100]);
});

test('pruneUnused drops allocations whose port has no listener, whatever the owner', () => {
  const a = allocation({ port: 3000, owner: { kind: 'persistent' } });
  const b = allocation({ port: 3001 });
  const result = pruneUnused(state(a, b), (port) => port === 3001);
  expect(result.state.allocations).toEqual([b]);
  expect(result.pruned).toEqual([a]);
});
