import {
  decideLifetimes,
  describeUnjudged,
  findUnjudgedOwners,
  foreignNamespaces,
  INITIAL_PID_NAMESPACE,
  judgeOwner,
  UNJUDGED_KEEP_MS,
  type LifetimeFacts,
  type NamespaceView,
  type OwnerFacts,
  type OwnerVerdict,
} from '../../../lib/core/prune';
import type { ProcessOwner } from '../../../lib/core/types';
import { allocation, state, T0 } from '../../helpers/builders';

// The judgement of owners recorded in PID namespaces: what each caller can and cannot tell.
const HOST = INITIAL_PID_NAMESPACE;
const CONTAINER = '4026532291';
const SIBLING = '4026532999';

const view = (seen: string[], live: [string, string | null][]): NamespaceView => ({ seen: new Set(seen), live: new Map(live) });

/** CONTAINER seen (its PID 1, start 1), with processes of namespaces nested in it. */
const nestedView = (nested: [string, (string | null)[]][]): NamespaceView => ({
  seen: new Set([CONTAINER]),
  live: new Map([[`${CONTAINER}:1`, '1']]),
  nested: new Map(nested.map(([key, times]) => [key, new Set(times)])),
});

/** A caller in `pidNs`, which sees PID 100 (start 5) of its own namespace and what `namespaces` says of others. */
const from = (pidNs: string | null, namespaces?: NamespaceView): OwnerFacts => ({
  now: T0,
  liveProcesses: new Map([[100, '5']]),
  bootId: 'boot-a',
  pidNs,
  ...(namespaces && { namespaces }),
});

const owner = (pidNs: string | undefined, pid = 100, startTime: string | null = '5'): ProcessOwner => ({
  kind: 'process',
  pid,
  startTime,
  bootId: 'boot-a',
  ...(pidNs !== undefined && { pidNs }),
});

describe('judgeOwner', () => {
  test.each<[string, ProcessOwner, OwnerFacts, OwnerVerdict]>([
    ['same namespace, running', owner(CONTAINER), from(CONTAINER), 'live'],
    ['same namespace, PID gone', owner(CONTAINER, 300), from(CONTAINER), 'ended'],
    // Recorded before owners carried their namespace: most likely on the host, whose PIDs mean nothing in a container.
    ['recorded before namespaces were, its PID and start time here', owner(undefined), from(CONTAINER), 'live'],
    ['recorded before namespaces were, PID gone, in a container', owner(undefined, 300), from(CONTAINER), 'unjudged'],
    ['recorded before namespaces were, PID reused, in a container', owner(undefined, 100, '4'), from(CONTAINER), 'unjudged'],
    ['recorded before namespaces were, PID gone, on the host', owner(undefined, 300), from(HOST), 'ended'],
    ['recorded before namespaces were, PID reused, on the host', owner(undefined, 100, '4'), from(HOST), 'ended'],
    ['recorded before namespaces were, PID gone, no namespace known (no /proc)', owner(undefined, 300), from(null), 'ended'],
    // The host sees a child namespace whole: its owner, under its PID inside, is found or has ended.
    ['host, container owner visible with its start time', owner(CONTAINER, 7), from(HOST, view([CONTAINER], [[`${CONTAINER}:7`, '9']])), 'ended'],
    ['host, container owner visible', owner(CONTAINER, 7, '9'), from(HOST, view([CONTAINER], [[`${CONTAINER}:7`, '9']])), 'live'],
    ['host, container owner PID reused (start time differs)', owner(CONTAINER, 7, '8'), from(HOST, view([CONTAINER], [[`${CONTAINER}:7`, '9']])), 'ended'],
    ['host, container gone entirely (the host sees every namespace)', owner(CONTAINER, 7, '9'), from(HOST, view([], [])), 'ended'],
    ['host, same PID on the host is not the container owner', owner(CONTAINER, 100, '5'), from(HOST, view([], [])), 'ended'],
    // A container in the container: the owner's process lives in a deeper namespace, under its PID in CONTAINER at that level of NSpid.
    ['host, owner in a namespace nested in the recorded one', owner(CONTAINER, 3, '9'), from(HOST, nestedView([[`${CONTAINER}:3`, ['9']]])), 'live'],
    [
      'host, nested processes under that PID, none with its start time',
      owner(CONTAINER, 3, '9'),
      from(HOST, nestedView([[`${CONTAINER}:3`, ['8', '10']]])),
      'ended',
    ],
    [
      'host, a nested process with its start time among others of a sibling',
      owner(CONTAINER, 3, '9'),
      from(HOST, nestedView([[`${CONTAINER}:3`, ['8', '9']]])),
      'live',
    ],
    ['host, nested process under another PID', owner(CONTAINER, 3, '9'), from(HOST, nestedView([[`${CONTAINER}:4`, ['9']]])), 'ended'],
    // A container sees nothing of the host or of a sibling.
    ['container, host owner', owner(HOST, 100, '5'), from(CONTAINER, view([], [])), 'unjudged'],
    ['container, sibling container owner', owner(SIBLING, 7, '9'), from(CONTAINER, view([], [])), 'unjudged'],
    ['container, a namespace it sees (its child) without the owner', owner(SIBLING, 7, '9'), from(CONTAINER, view([SIBLING], [])), 'ended'],
    ['no namespace of its own (no /proc): every recorded one is foreign', owner(CONTAINER), from(null), 'unjudged'],
    ['another boot has ended whatever the namespace', { ...owner(HOST), bootId: 'boot-b' }, from(CONTAINER, view([], [])), 'ended'],
  ])('%s', (_name, o, facts, verdict) => {
    expect(judgeOwner(o, facts)).toBe(verdict);
  });
});

test('foreignNamespaces: the namespaces other than the caller’s that owners were recorded in', () => {
  const s = state(
    allocation({ port: 1, owner: owner(HOST) }),
    allocation({ port: 2, owner: owner(CONTAINER) }),
    allocation({ port: 3, owner: owner(undefined) }),
    allocation({ port: 4, owner: { kind: 'persistent' } }),
  );
  expect([...foreignNamespaces(s, HOST)]).toEqual([CONTAINER]);
  expect([...foreignNamespaces(s, CONTAINER)]).toEqual([HOST]);
  expect(findUnjudgedOwners(s, from(CONTAINER, view([], []))).map((a) => a.port)).toEqual([1]);
  const old = allocation({ port: 5, owner: owner(undefined, 300) });
  expect(findUnjudgedOwners(state(old), from(CONTAINER, view([], []))).map((a) => a.port)).toEqual([5]);
  expect(findUnjudgedOwners(state(old), from(HOST, view([], [])))).toEqual([]);
  expect(describeUnjudged(old.owner)).toContain('without its PID namespace');
  expect(describeUnjudged(owner(HOST))).toBe(`cannot judge: owner in PID namespace ${HOST}`);
});

describe('decideLifetimes: an owner that cannot be judged', () => {
  const lifetime = (over: Partial<LifetimeFacts>): LifetimeFacts => ({ ...from(CONTAINER, view([], [])), graceMs: 60_000, listeners: [], ...over });
  const hostOwned = allocation({ port: 3000, owner: { ...owner(HOST, 4242, '77'), detected: true } });

  test.each<[string, Partial<LifetimeFacts>, 'kept' | 'owner not judged for too long']>([
    ['is kept while its port is served as seen from here', { served: new Set([3000]), now: T0 + 10 * UNJUDGED_KEEP_MS }, 'kept'],
    ['is kept, with nothing listening, within the bound', { served: new Set(), now: T0 + UNJUDGED_KEEP_MS - 1 }, 'kept'],
    ['is kept when the listeners cannot be read, within the bound', { served: null, now: T0 + 1000 }, 'kept'],
    ['goes once the bound is over with nothing listening', { served: new Set(), now: T0 + UNJUDGED_KEEP_MS }, 'owner not judged for too long'],
  ])('%s', (_name, over, outcome) => {
    const result = decideLifetimes(state(hostOwned), lifetime(over));
    if (outcome === 'kept') {
      expect(result.state.allocations).toEqual([hostOwned]);
      expect(result.unjudged).toEqual([hostOwned]);
      expect(result.reserved).toEqual([]);
    } else {
      expect(result.state.allocations).toEqual([]);
      expect(result.reasons.get(hostOwned.lockId)).toBe(outcome);
    }
  });

  test('is never reserved nor handed to a listener here: its PID means another process', () => {
    const listeners = [{ port: 3000, pid: 555, startTime: '1', startedAt: T0 + 5000 }];
    const result = decideLifetimes(state(hostOwned), lifetime({ served: new Set([3000]), listeners }));
    expect(result.adopted).toEqual([]);
    expect(result.state.allocations).toEqual([hostOwned]);
  });

  test('a reservation made where it could be judged lasts its time, then goes', () => {
    const reserved = allocation({ port: 3000, owner: { ...owner(HOST), detected: true, reservedUntil: new Date(T0 + 1000).toISOString() } });
    expect(decideLifetimes(state(reserved), lifetime({ served: new Set() })).state.allocations).toEqual([reserved]);
    const later = decideLifetimes(state(reserved), lifetime({ served: new Set(), now: T0 + 1000 }));
    expect(later.reasons.get(reserved.lockId)).toBe('reservation over');
  });

  test.each<[string, number, Set<number> | null, 'kept' | 'reservation over']>([
    ['reserved, within, nothing served', T0 + 999, new Set(), 'kept'],
    ['reserved, over, nothing served', T0 + 1000, new Set(), 'reservation over'],
    ['reserved, over, listeners unreadable', T0 + 1000, null, 'reservation over'],
    // The server the reservation waited for listens, but only its own namespace can hand the port to it.
    ['reserved, over, served', T0 + 1000, new Set([3000]), 'kept'],
    ['reserved, long over, served', T0 + 10 * UNJUDGED_KEEP_MS, new Set([3000]), 'kept'],
  ])('a reservation seen from where it cannot be judged: %s', (_name, now, served, outcome) => {
    const reserved = allocation({ port: 3000, owner: { ...owner(SIBLING, 7, '9'), detected: true, reservedUntil: new Date(T0 + 1000).toISOString() } });
    const result = decideLifetimes(state(reserved), lifetime({ served, now }));
    if (outcome === 'kept') {
      expect(result.state.allocations).toEqual([reserved]);
      expect(result.unjudged).toEqual([reserved]);
    } else {
      expect(result.state.allocations).toEqual([]);
      expect(result.reasons.get(reserved.lockId)).toBe(outcome);
    }
  });

  test('an adopted owner is counted from its adoption', () => {
    const adopted = allocation({ port: 3000, owner: { ...owner(HOST), adoptedAt: new Date(T0 + UNJUDGED_KEEP_MS).toISOString() } });
    expect(decideLifetimes(state(adopted), lifetime({ served: new Set(), now: T0 + UNJUDGED_KEEP_MS + 1 })).state.allocations).toEqual([adopted]);
  });

  test('the host hands a container owner that ended to the listener it sees, recording its own namespace', () => {
    const inContainer = allocation({ port: 3000, owner: owner(CONTAINER, 7, '9') });
    const listeners = [{ port: 3000, pid: 555, startTime: '1', startedAt: T0 + 5000 }];
    const result = decideLifetimes(state(inContainer), { ...from(HOST, view([], [])), graceMs: 0, listeners });
    expect(result.adopted).toHaveLength(1);
    expect(result.state.allocations[0]?.owner).toMatchObject({ pid: 555, pidNs: HOST });
  });
});
