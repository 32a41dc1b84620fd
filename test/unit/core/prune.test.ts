import {
  decideLifetimes,
  findEndedProcessOwners,
  isOwnerLive,
  isSameBoot,
  ownerPids,
  pruneUnused,
  type ListenerProcess,
  type PruneReason,
} from '../../../lib/core/prune';
import type { Owner, ProcessOwner } from '../../../lib/core/types';
import { allocation, state, T0 } from '../../helpers/builders';

const facts = {
  now: T0,
  liveProcesses: new Map<number, string | null>([
    [100, '5'],
    [200, null],
  ]),
};

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

test('decideLifetimes drops the dead and keeps the rest in order', () => {
  const live1 = allocation({ port: 3000 });
  const dead = allocation({ port: 3001, owner: { kind: 'process', pid: 300, startTime: '1' } });
  const live2 = allocation({ port: 3002, owner: { kind: 'persistent' } });
  const result = decideLifetimes(state(live1, dead, live2), { ...facts, graceMs: 60_000, listeners: [] });
  expect(result.state.allocations).toEqual([live1, live2]);
  expect(result.pruned).toEqual([dead]);
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

describe('isSameBoot and boot ids', () => {
  test.each<[string | undefined, string | null | undefined, boolean]>([
    [undefined, 'b1', true],
    ['b1', null, true],
    ['b1', undefined, true],
    ['b1', 'b1', true],
    ['b1', 'b2', false],
    ['boottime:1000', 'boottime:1002', true],
    ['boottime:1000', 'boottime:1003', false],
    ['boottime:1000', 'b1', false],
  ])('recorded %j, now %j → %s', (recorded, current, same) => {
    expect(isSameBoot(recorded, current)).toBe(same);
  });

  test('an owner from another boot is dead even when its PID and start time match', () => {
    const owner: Owner = { kind: 'process', pid: 100, startTime: '5', bootId: 'old-boot' };
    expect(isOwnerLive(owner, { ...facts, bootId: 'old-boot' })).toBe(true);
    expect(isOwnerLive(owner, { ...facts, bootId: 'new-boot' })).toBe(false);
    // A state written before boot ids were recorded stays readable and judged as before.
    expect(isOwnerLive({ kind: 'process', pid: 100, startTime: '5' }, { ...facts, bootId: 'new-boot' })).toBe(true);
  });
});

describe('decideLifetimes', () => {
  const graceMs = 60_000;
  const at = new Date(T0).toISOString();
  const detected = (pid: number, extra: Partial<ProcessOwner> = {}): Owner => ({ kind: 'process', pid, startTime: '1', detected: true, ...extra });
  const server = (port: number, startedAt: number, pid = 500): ListenerProcess => ({
    port,
    pid,
    startTime: '77',
    startedAt,
    command: 'python3 -m http.server',
  });
  const base = { ...facts, now: T0 + 5000, graceMs, bootId: 'b' };

  test('a live owner keeps its allocation, and the state object is the same', () => {
    const st = state(allocation({ port: 3000 }));
    const r = decideLifetimes(st, { ...base, listeners: [] });
    expect(r.state).toBe(st);
    expect(r).toMatchObject({ pruned: [], adopted: [], reserved: [] });
  });

  test("a hidden listener of the allocation's own user keeps it as it is; another user's does not", () => {
    const gone = { kind: 'process' as const, pid: 300, startTime: '1' };
    const hers = allocation({ port: 3000, owner: gone, user: { uid: 1001 } });
    const st = state(hers);
    const kept = decideLifetimes(st, { ...base, listeners: [], hiddenListeners: [{ port: 3000, uid: 1001 }] });
    expect(kept.state).toBe(st);
    expect(kept).toMatchObject({ pruned: [], adopted: [], reserved: [] });
    const other = decideLifetimes(st, { ...base, listeners: [], hiddenListeners: [{ port: 3000, uid: 1002 }] });
    expect(other.pruned).toEqual([hers]);
    const elsewhere = decideLifetimes(st, { ...base, listeners: [], hiddenListeners: [{ port: 3001, uid: 1001 }] });
    expect(elsewhere.pruned).toEqual([hers]);
  });

  test('findEndedProcessOwners lists only process owners that ended', () => {
    const dead = allocation({ port: 3001, owner: detected(300) });
    const lease = allocation({ port: 3002, owner: { kind: 'lease', expiresAt: at } });
    expect(findEndedProcessOwners(state(allocation({ port: 3000 }), dead, lease), base)).toEqual([dead]);
  });

  test.each<[string, Owner, ListenerProcess[] | null, 'adopt' | 'reserve' | 'keep' | PruneReason]>([
    ['a detected owner ended, nothing listens: reserved', detected(300), [], 'reserve'],
    ['the same without /proc: reserved', detected(300), null, 'reserve'],
    ['a --pid owner ended, nothing listens: gone', { kind: 'process', pid: 300, startTime: '1' }, [], 'owner gone'],
    [
      'a styxy run ended (killed before its server listened), nothing listens yet: reserved',
      { kind: 'process', pid: 300, startTime: '1', via: 'run' },
      [],
      'reserve',
    ],
    [
      'a reserved styxy run, its server now listens: adopted',
      { kind: 'process', pid: 300, startTime: '1', via: 'run', reservedUntil: new Date(T0 + 6000).toISOString() },
      [server(3000, T0 + 3000)],
      'adopt',
    ],
    ['a detected owner ended, a server started after the allocation listens: adopted', detected(300), [server(3000, T0 + 100)], 'adopt'],
    ['a --pid owner ended (a killed styxy run), its server listens: adopted', { kind: 'process', pid: 300, startTime: '1' }, [server(3000, T0 + 100)], 'adopt'],
    [
      'a listener that started well before the allocation is not its server',
      { kind: 'process', pid: 300, startTime: '1' },
      [server(3000, T0 - 5000)],
      'owner gone',
    ],
    ['a listener on another port changes nothing', { kind: 'process', pid: 300, startTime: '1' }, [server(3001, T0 + 100)], 'owner gone'],
    ['a reservation in time is kept', detected(300, { reservedUntil: new Date(T0 + 6000).toISOString() }), [], 'keep'],
    ['a reservation whose time is up goes', detected(300, { reservedUntil: new Date(T0 + 5000).toISOString() }), [], 'reservation over'],
    [
      'a reservation is taken by the server that starts',
      detected(300, { reservedUntil: new Date(T0 + 6000).toISOString() }),
      [server(3000, T0 + 3000)],
      'adopt',
    ],
    ['an adopted owner that ended is gone, no grace', detected(300, { adoptedAt: at }), [], 'owner gone'],
    ['an expired lease goes, whoever listens', { kind: 'lease', expiresAt: at }, [server(3000, T0 + 100)], 'lease expired'],
  ])('%s', (_name, owner, listeners, expected) => {
    const a = allocation({ port: 3000, owner });
    const r = decideLifetimes(state(a), { ...base, listeners });
    const kept = r.state.allocations[0];
    switch (expected) {
      case 'adopt':
        expect(r.adopted).toEqual([{ from: a, to: kept }]);
        expect(kept!.owner).toEqual({
          kind: 'process',
          pid: 500,
          startTime: '77',
          command: 'python3 -m http.server',
          bootId: 'b',
          adoptedAt: new Date(base.now).toISOString(),
        });
        break;
      case 'reserve':
        expect(r.reserved).toEqual([kept]);
        expect(kept!.owner).toEqual({ ...owner, reservedUntil: new Date(base.now + graceMs).toISOString() });
        break;
      case 'keep':
        expect(r.state.allocations).toEqual([a]);
        expect(r.pruned).toEqual([]);
        break;
      default:
        expect(r.state.allocations).toEqual([]);
        expect(r.pruned).toEqual([a]);
        expect(r.reasons.get(a.lockId)).toBe(expected);
    }
  });

  test("another user's listener is not the heir of an allocation that records its user; the same user's is", () => {
    const a = { ...allocation({ port: 3000, owner: { kind: 'process', pid: 300, startTime: '1' } }), user: { uid: 1001 } };
    const theirs = { ...server(3000, T0 + 100), uid: 1002 };
    expect(decideLifetimes(state(a), { ...base, listeners: [theirs] })).toMatchObject({ adopted: [], pruned: [a] });
    const hers = { ...server(3000, T0 + 100, 501), uid: 1001 };
    const r = decideLifetimes(state(a), { ...base, listeners: [theirs, hers] });
    expect((r.state.allocations[0]!.owner as ProcessOwner).pid).toBe(501);
    // An allocation from before users were recorded: any listener may be its heir, as before.
    const older = allocation({ port: 3000, owner: { kind: 'process', pid: 300, startTime: '1' } });
    expect(decideLifetimes(state(older), { ...base, listeners: [theirs] }).adopted).toHaveLength(1);
  });

  test('a grace of 0 turns reservations off', () => {
    const a = allocation({ port: 3000, owner: detected(300) });
    expect(decideLifetimes(state(a), { ...base, graceMs: 0, listeners: [] }).pruned).toEqual([a]);
  });

  test('of several listeners the first started takes over (a server, not its worker)', () => {
    const a = allocation({ port: 3000, owner: detected(300) });
    const r = decideLifetimes(state(a), { ...base, listeners: [server(3000, T0 + 900, 601), server(3000, T0 + 200, 600)] });
    expect((r.state.allocations[0]!.owner as ProcessOwner).pid).toBe(600);
  });
});
