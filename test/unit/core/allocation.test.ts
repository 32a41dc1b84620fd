import {
  addAllocation,
  buildAllocation,
  findSingletonHolder,
  planAllocation,
  planOwnerChange,
  replaceAllocation,
  type AllocationRequest,
  type OwnerChange,
} from '../../../lib/core/allocation';
import type { Owner } from '../../../lib/core/types';
import { allocation, config, state, T0 } from '../../helpers/builders';

const owner = { kind: 'process' as const, pid: 42, startTime: '7' };
const req = (over: Partial<AllocationRequest> = {}): AllocationRequest => ({ serviceType: 'dev', project: '/p', owner, ...over });
const cfg = config({
  dev: { port_range: [3000, 3004], preferred_ports: [3002] },
  ai: { port_range: [11400, 11402], instance_behavior: 'single' },
});

describe('planAllocation candidates', () => {
  test.each([
    ['preferred ports first, then the range ascending', req(), state(), [3002, 3000, 3001, 3003, 3004]],
    ['a requested port comes first', req({ port: 3004 }), state(), [3004, 3002, 3000, 3001, 3003]],
    ['a requested port outside the range is still tried first', req({ port: 9999 }), state(), [9999, 3002, 3000, 3001, 3003, 3004]],
    ['ports held by live allocations are skipped', req(), state(allocation({ port: 3002 }), allocation({ port: 3000 })), [3001, 3003, 3004]],
    ['a port held by another type is skipped too', req(), state(allocation({ port: 3001, serviceType: 'api' })), [3002, 3000, 3003, 3004]],
  ])('%s', (_name, request, st, expected) => {
    const plan = planAllocation(cfg, st, request);
    expect(plan.kind).toBe('candidates');
    if (plan.kind === 'candidates') expect(plan.ports).toEqual(expected);
  });

  test('a requested port held by an allocation is noted and skipped', () => {
    const plan = planAllocation(cfg, state(allocation({ port: 3004, lockId: 'dev-x-1' })), req({ port: 3004 }));
    expect(plan).toMatchObject({ kind: 'candidates', requestedPortNote: { port: 3004, reason: 'allocated to dev-x-1' } });
    if (plan.kind === 'candidates') expect(plan.ports).not.toContain(3004);
  });

  test('a full range leaves no candidates', () => {
    const full = state(...[3000, 3001, 3002, 3003, 3004].map((port) => allocation({ port })));
    const plan = planAllocation(cfg, full, req());
    expect(plan.kind === 'candidates' && plan.ports).toEqual([]);
  });
});

describe('planAllocation sticky instance ids', () => {
  const mine = allocation({ port: 3003, instanceId: 'web', project: '/p' });
  test('same type + instance id + project gets the same allocation back', () => {
    expect(planAllocation(cfg, state(mine), req({ instanceId: 'web' }))).toEqual({ kind: 'reused', allocation: mine });
  });
  test.each([
    ['another project', req({ instanceId: 'web', project: '/q' })],
    ['another instance id', req({ instanceId: 'api' })],
    ['no instance id', req()],
  ])('%s gets a new port', (_name, request) => {
    expect(planAllocation(cfg, state(mine), request).kind).toBe('candidates');
  });
});

describe('planAllocation single-instance types', () => {
  const holder = allocation({ port: 11400, serviceType: 'ai', instanceId: 'rag', project: '/a' });
  test('the first allocation of a single type gets candidates', () => {
    expect(planAllocation(cfg, state(), req({ serviceType: 'ai' })).kind).toBe('candidates');
  });
  test('a second caller gets the holder back, whatever its project or instance id', () => {
    const plan = planAllocation(cfg, state(holder), req({ serviceType: 'ai', instanceId: 'other', project: '/b' }));
    expect(plan).toEqual({ kind: 'existing', allocation: holder, reused: false, message: "Service 'ai' only allows single instance" });
  });
  test('the holder asking again is told it is both existing and its own', () => {
    const plan = planAllocation(cfg, state(holder), req({ serviceType: 'ai', instanceId: 'rag', project: '/a' }));
    expect(plan).toMatchObject({ kind: 'existing', reused: true });
  });
  test('after release (no allocation left) the type is free again', () => {
    expect(planAllocation(cfg, state(allocation({ port: 3000 })), req({ serviceType: 'ai' })).kind).toBe('candidates');
  });
  test('multi types are unaffected by other allocations of the type', () => {
    expect(planAllocation(cfg, state(allocation({ port: 3000 })), req()).kind).toBe('candidates');
  });
  test('the holder is derived from the allocations', () => {
    expect(findSingletonHolder(state(allocation({ port: 3000 }), holder), 'ai')).toBe(holder);
    expect(findSingletonHolder(state(allocation({ port: 3000 })), 'ai')).toBeUndefined();
  });
});

test('an unknown type is left to auto-allocation', () => {
  expect(planAllocation(cfg, state(), req({ serviceType: 'grafana' }))).toEqual({ kind: 'unknown' });
});

test('names that exist on Object.prototype are not service types', () => {
  for (const name of ['constructor', 'toString', 'hasOwnProperty']) {
    expect(planAllocation(cfg, state(), req({ serviceType: name })).kind).toBe('unknown');
  }
});

test('buildAllocation uses the given ids and time', () => {
  const a = buildAllocation(req(), 3001, { generatedInstanceId: 'abcd1234', lockSuffix: 'ff00ff' }, T0);
  expect(a).toEqual({
    lockId: 'dev-abcd1234-ff00ff',
    serviceType: 'dev',
    instanceId: 'abcd1234',
    port: 3001,
    project: '/p',
    owner,
    allocatedAt: '2026-01-01T00:00:00.000Z',
  });
  expect(buildAllocation(req({ instanceId: 'web' }), 3001, { generatedInstanceId: 'x', lockSuffix: 'y' }, T0).lockId).toBe('dev-web-y');
  expect(addAllocation(state(), a).allocations).toEqual([a]);
});

describe('planOwnerChange: a sticky re-allocation hands over, renews, persists', () => {
  const live: Owner = { kind: 'process', pid: 100, startTime: '5', detected: true };
  const reserved: Owner = { ...live, reservedUntil: new Date(T0 + 60_000).toISOString() };
  const lease: Owner = { kind: 'lease', expiresAt: new Date(T0 + 3_600_000).toISOString() };
  test.each<[string, Owner, Owner, OwnerChange | null]>([
    ['a detected caller leaves a live owner alone', live, { kind: 'process', pid: 200, startTime: '9', detected: true }, null],
    ['a detected caller claims a reservation', reserved, { kind: 'process', pid: 200, startTime: '9', detected: true }, 'hand-over'],
    ['--pid N hands a live owner’s allocation to N', live, { kind: 'process', pid: 200, startTime: '9' }, 'hand-over'],
    ['--pid of the owner itself changes nothing', { kind: 'process', pid: 200, startTime: '9' }, { kind: 'process', pid: 200, startTime: '9' }, null],
    ['--pid N takes a persistent allocation', { kind: 'persistent' }, { kind: 'process', pid: 200, startTime: '9' }, 'hand-over'],
    ['--ttl renews a lease', lease, { kind: 'lease', expiresAt: new Date(T0 + 7_200_000).toISOString() }, 'renew'],
    ['--ttl turns a process owner into a lease', live, lease, 'renew'],
    ['--persistent makes it persistent', lease, { kind: 'persistent' }, 'persist'],
    ['--persistent on a persistent one changes nothing', { kind: 'persistent' }, { kind: 'persistent' }, null],
  ])('%s', (_name, current, requested, change) => {
    const a = allocation({ port: 3000, owner: current });
    const planned = planOwnerChange(a, requested);
    if (change === null) return expect(planned).toBeNull();
    expect(planned).toEqual({ allocation: { ...a, owner: requested }, change });
  });

  test('replaceAllocation swaps one allocation by lock id, keeping the order', () => {
    const a = allocation({ port: 3000 });
    const b = allocation({ port: 3001 });
    const b2 = { ...b, owner: { kind: 'persistent' } as Owner };
    expect(replaceAllocation(state(a, b), b2).allocations).toEqual([a, b2]);
  });
});

describe('a reserved single-instance holder', () => {
  const single = config({ ai: { port_range: [11400, 11409], instance_behavior: 'single' } });
  const holder = allocation({
    port: 11400,
    serviceType: 'ai',
    instanceId: 'rag',
    owner: { kind: 'process', pid: 100, startTime: '5', detected: true, reservedUntil: new Date(T0 + 1).toISOString() },
  });
  const ask = (instanceId?: string): AllocationRequest => ({
    serviceType: 'ai',
    project: '/p',
    owner: { kind: 'persistent' },
    ...(instanceId && { instanceId }),
  });

  test('comes back to its own instance as a sticky allocation, not as a running one', () => {
    expect(planAllocation(single, state(holder), ask('rag'))).toEqual({ kind: 'reused', allocation: holder });
  });

  test('is the running instance for every other caller while the grace lasts: the type never gets a second one', () => {
    for (const request of [ask('other'), ask()]) {
      expect(planAllocation(single, state(holder), request)).toMatchObject({ kind: 'existing', allocation: holder, reused: false });
    }
  });
});

describe('planAllocation with a block', () => {
  const blockCfg = config({ dev: { port_range: [3000, 3004], preferred_ports: [3002] } });
  const plan = (request: AllocationRequest, st = state()) => {
    const p = planAllocation(blockCfg, st, request);
    return p.kind === 'candidates' ? p.ports : p.kind;
  };
  test('candidates are first ports whose whole block is in the range and held by nobody', () => {
    expect(plan(req({ block: 2 }), state(allocation({ port: 3001 })))).toEqual([3002, 3003]);
    expect(plan(req({ block: 5 }))).toEqual([3000]);
    expect(plan(req({ block: 6 }))).toEqual([]);
  });
  test('a block in the state holds every one of its ports', () => {
    expect(plan(req(), state(allocation({ port: 3000, block: 3 })))).toEqual([3003, 3004]);
  });
  test('a requested first port comes first, and may run past the range', () => {
    expect(plan(req({ block: 2, port: 3004 }))[0]).toBe(3004);
  });
});
