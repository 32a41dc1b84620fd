import { buildAllocation, planAllocation, type AllocationRequest } from '../../../lib/core/allocation';
import { orderByReuse, trackFreedPorts, type Asker } from '../../../lib/core/port-memory';
import type { FreedPort, PortReuseSettings, State } from '../../../lib/core/types';
import { allocation, config, state, T0 } from '../../helpers/builders';

const settings: PortReuseSettings = { cooldown_seconds: 600, home_port_days: 7, home_port_limit: 3 };
const S = 1000;
const DAY = 86_400 * S;
const at = (ms: number) => new Date(T0 + ms).toISOString();
const freed = (port: number, over: Partial<FreedPort> = {}): FreedPort => ({
  port,
  serviceType: 'dev',
  instanceId: `i${port}`,
  project: '/p',
  sticky: false,
  freedAt: at(0),
  ...over,
});
const anyone: Asker = { serviceType: 'dev', project: '/p' };
const web: Asker = { serviceType: 'dev', instanceId: 'web', project: '/p' };
const range = [3000, 3001, 3002, 3003];

describe('orderByReuse (the clock is T0 + the given offset)', () => {
  test.each<[string, Asker, FreedPort[], number, number[], number | undefined, number[]]>([
    ['no memory: the order is kept', anyone, [], 10 * S, range, undefined, []],
    ['a port freed 10 s ago in another project goes last', anyone, [freed(3000, { project: '/q' })], 10 * S, [3001, 3002, 3003, 3000], undefined, [3000]],
    ['after the cool-down a plain freed port is an ordinary port again', anyone, [freed(3000, { project: '/q' })], 601 * S, range, undefined, []],
    [
      'cooling ports: the one freed longest ago first',
      anyone,
      [freed(3000, { freedAt: at(5 * S), project: '/q' }), freed(3001, { project: '/q' })],
      10 * S,
      [3002, 3003, 3001, 3000],
      undefined,
      [3000, 3001],
    ],
    [
      'without instance ids, the same type in the same project is the same service: a restart gets its port back',
      anyone,
      [freed(3002)],
      10 * S,
      [3002, 3000, 3001, 3003],
      3002,
      [],
    ],
    ['... during the cool-down only (nobody keeps it as a home)', anyone, [freed(3002)], 601 * S, range, undefined, []],
    ['a named instance does not take the port of an unnamed one', web, [freed(3002)], 10 * S, [3000, 3001, 3003, 3002], undefined, [3002]],
    [
      'another type cools the port too',
      { ...anyone, serviceType: 'api' },
      [freed(3001, { serviceType: 'dev' })],
      10 * S,
      [3000, 3002, 3003, 3001],
      undefined,
      [3001],
    ],
    [
      'the same type without an instance id is another service',
      anyone,
      [freed(3000, { sticky: true, instanceId: 'web' })],
      10 * S,
      [3001, 3002, 3003, 3000],
      undefined,
      [3000],
    ],
    [
      'a sticky service gets its home first, even while it cools',
      web,
      [freed(3002, { sticky: true, instanceId: 'web' })],
      10 * S,
      [3002, 3000, 3001, 3003],
      3002,
      [],
    ],
    ['its home a day later', web, [freed(3002, { sticky: true, instanceId: 'web' })], DAY, [3002, 3000, 3001, 3003], 3002, []],
    ['a home older than home_port_days is forgotten', web, [freed(3002, { sticky: true, instanceId: 'web' })], 8 * DAY, range, undefined, []],
    [
      'the same id in another project is another service',
      { ...web, project: '/q' },
      [freed(3002, { sticky: true, instanceId: 'web' })],
      10 * S,
      [3000, 3001, 3003, 3002],
      undefined,
      [3002],
    ],
    ['a non-sticky record never makes a home', web, [freed(3002, { sticky: false, instanceId: 'web' })], 10 * S, [3000, 3001, 3003, 3002], undefined, [3002]],
    [
      'others pass over a home after its cool-down, but before cooling ports',
      anyone,
      [freed(3000, { sticky: true, instanceId: 'web', freedAt: at(0) }), freed(3001, { freedAt: at(DAY - 10 * S), project: '/q' })],
      DAY,
      [3002, 3003, 3000, 3001],
      undefined,
      [3001],
    ],
    [
      'a single-instance type is one service: its freed port is its own',
      { ...anyone, serviceType: 'ai', singleInstance: true },
      [freed(3001, { serviceType: 'ai' })],
      10 * S,
      [3001, 3000, 3002, 3003],
      3001,
      [],
    ],
    [
      'a port freed in the future (a clock set back) cools, never crashes',
      anyone,
      [freed(3000, { freedAt: at(60 * S), project: '/q' })],
      0,
      [3001, 3002, 3003, 3000],
      undefined,
      [3000],
    ],
  ])('%s', (_name, asker, memory, now, expected, home, cooling) => {
    const order = orderByReuse(range, 0, asker, memory, T0 + now, settings);
    expect(order.ports).toEqual(expected);
    expect(order.home).toBe(home);
    expect([...order.cooling.keys()].sort()).toEqual(cooling);
  });

  test('a pinned port (asked for by number) stays first, and is reported when cooling', () => {
    const order = orderByReuse(
      [3001, ...range.filter((p) => p !== 3001)],
      1,
      web,
      [freed(3001, { project: '/q' }), freed(3003, { sticky: true, instanceId: 'web' })],
      T0 + 10 * S,
      settings,
    );
    expect(order.ports).toEqual([3001, 3003, 3000, 3002]);
    expect([...order.cooling.keys()]).toEqual([3001]);
  });

  test('a zero cool-down turns the rule off', () => {
    expect(orderByReuse(range, 0, anyone, [freed(3000, { project: '/q' })], T0 + 1, { ...settings, cooldown_seconds: 0 }).ports).toEqual(range);
  });
});

describe('planAllocation with the memory', () => {
  const cfg = config({ dev: { port_range: [3000, 3003], preferred_ports: [3000] } });
  const req = (over: Partial<AllocationRequest> = {}): AllocationRequest => ({ serviceType: 'dev', project: '/p', owner: { kind: 'persistent' }, ...over });
  const st: State = { ...state(allocation({ port: 3001 })), recentlyFreed: [freed(3000, { project: '/q' }), freed(3002, { sticky: true, instanceId: 'web' })] };

  test('the preferred port, when cooling, gives way; the home of another goes after the fresh ports', () => {
    const plan = planAllocation(cfg, st, req(), { now: T0 + 10 * S });
    expect(plan).toMatchObject({ kind: 'candidates', ports: [3003, 3000, 3002] });
    expect(plan.kind === 'candidates' && [...(plan.cooling?.keys() ?? [])].sort()).toEqual([3000, 3002]);
  });

  test('the sticky owner is handed its home before the preferred port', () => {
    expect(planAllocation(cfg, st, req({ instanceId: 'web' }), { now: T0 + 10 * S })).toMatchObject({
      kind: 'candidates',
      ports: [3002, 3003, 3000],
      homePort: 3002,
    });
  });

  test('a home outside the range (the config changed) is not offered', () => {
    const moved = config({ dev: { port_range: [4000, 4001] } });
    const plan = planAllocation(moved, st, req({ instanceId: 'web' }), { now: T0 });
    expect(plan).toMatchObject({ kind: 'candidates', ports: [4000, 4001] });
    expect(plan.kind === 'candidates' && plan.homePort).toBeUndefined();
  });

  test('a new sticky allocation is marked sticky; one without an instance id is not', () => {
    // The mark is what makes the port a home when it is freed.
    const ids = { generatedInstanceId: 'abcd1234', lockSuffix: 'ffffff' };
    expect(buildAllocation(req({ instanceId: 'web' }), 3000, ids, T0).sticky).toBe(true);
    expect('sticky' in buildAllocation(req(), 3000, ids, T0)).toBe(false);
  });
});

describe('trackFreedPorts', () => {
  const web = allocation({ port: 3000, instanceId: 'web', sticky: true, lockId: 'dev-web-1' });
  const tmp = allocation({ port: 3001, instanceId: 'abcd1234', lockId: 'dev-abcd1234-1' });
  const now = T0 + 5 * S;

  test('nothing freed and nothing taken: the same state object (so nothing is written)', () => {
    const s = state(web);
    expect(trackFreedPorts(s, s, now, settings)).toBe(s);
    const withMemory: State = { ...state(web), recentlyFreed: [freed(3005)] };
    expect(trackFreedPorts(withMemory, withMemory, now, settings)).toBe(withMemory);
  });

  test('a released or pruned allocation is remembered with who held it and when', () => {
    const after = trackFreedPorts(state(web, tmp), state(), now, settings);
    expect(after.recentlyFreed).toEqual([
      { port: 3000, serviceType: 'dev', instanceId: 'web', project: '/p', sticky: true, freedAt: at(5 * S) },
      { port: 3001, serviceType: 'dev', instanceId: 'abcd1234', project: '/p', sticky: false, freedAt: at(5 * S) },
    ]);
  });

  test('a port taken again is forgotten; the key goes when the list is empty', () => {
    const before: State = { ...state(), recentlyFreed: [freed(3000)] };
    const after = trackFreedPorts(before, state(allocation({ port: 3000 })), now, settings);
    expect('recentlyFreed' in after).toBe(false);
  });

  test('an allocation handed over on the same port (a new lock id) frees nothing', () => {
    const renewed = { ...web, lockId: 'dev-web-2' };
    expect(trackFreedPorts(state(web), state(renewed), now, settings).recentlyFreed).toBeUndefined();
  });

  test('a port freed again replaces what was remembered of it; a sticky service keeps one home', () => {
    const before: State = { ...state(web), recentlyFreed: [freed(3000, { instanceId: 'old' }), freed(3007, { sticky: true, instanceId: 'web' })] };
    expect(trackFreedPorts(before, { ...state(), recentlyFreed: before.recentlyFreed! }, now, settings).recentlyFreed).toEqual([
      { port: 3000, serviceType: 'dev', instanceId: 'web', project: '/p', sticky: true, freedAt: at(5 * S) },
    ]);
  });

  test('what has outlived both rules is dropped when the memory is next written', () => {
    const before: State = {
      ...state(tmp),
      recentlyFreed: [
        freed(3005, { freedAt: at(-601 * S) }),
        freed(3006, { sticky: true, freedAt: at(-8 * DAY) }),
        freed(3007, { sticky: true, freedAt: at(-DAY) }),
      ],
    };
    expect(trackFreedPorts(before, { ...state(), recentlyFreed: before.recentlyFreed! }, now, settings).recentlyFreed?.map((f) => f.port)).toEqual([
      3007, 3001,
    ]);
  });

  test('at most home_port_limit homes and as many plain ports are kept, the newest', () => {
    const homes = [3010, 3011, 3012].map((port, i) => freed(port, { sticky: true, instanceId: `h${i}`, freedAt: at(i * S) }));
    const plain = [3020, 3021, 3022].map((port, i) => freed(port, { freedAt: at(i * S) }));
    const gone = [allocation({ port: 3013, instanceId: 'h9', sticky: true, lockId: 'dev-h9-1' }), allocation({ port: 3023, lockId: 'dev-x-1' })];
    const before: State = { ...state(...gone), recentlyFreed: [...homes, ...plain] };
    const after = trackFreedPorts(before, { ...state(), recentlyFreed: before.recentlyFreed! }, now, settings);
    expect(after.recentlyFreed?.map((f) => f.port)).toEqual([3011, 3012, 3021, 3022, 3013, 3023]);
  });
});
