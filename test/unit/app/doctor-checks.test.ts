import { StyxyError } from '../../../lib/errors';
import { DOCTOR_CHECKS, judgeFacts, type DoctorFacts, type Fact } from '../../../lib/app/doctor-checks';
import { builtInConfig } from '../../../lib/core/defaults';
import type { Allocation, Owner } from '../../../lib/core/types';
import type { StyxyPaths } from '../../../lib/store/paths';
import { allocation } from '../../helpers/builders';

/** The doctor's checks are judgements over a facts value: no disk, no processes, no clock. */
const NOW = Date.parse('2026-06-01T00:00:00.000Z');
const home = '/h/.styxy';
const paths: StyxyPaths = {
  home,
  state: `${home}/state.json`,
  lock: `${home}/state.json.lock`,
  lockHolder: `${home}/state.json.lock/holder`,
  config: `${home}/config.json`,
  backups: `${home}/backups`,
  audit: `${home}/audit.log`,
};
const known = <T>(value: T): Fact<T> => ({ ok: true, value });
const unreadable = (error: unknown): Fact<never> => ({ ok: false, error });
const proc = (pid: number): Owner => ({ kind: 'process', pid, startTime: '1' });
const alloc = (lockId: string, port: number, owner: Owner): Allocation => allocation({ lockId, instanceId: lockId, port, owner });

function facts(over: Partial<DoctorFacts> = {}): DoctorFacts {
  return {
    paths,
    ownership: known({ parentUid: 1000, rootOwned: [] }),
    home: known({ writable: true }),
    files: known(['state.json']),
    config: known({
      config: builtInConfig(),
      rangeSources: {},
      autoSource: 'built-in defaults',
      rulesSource: 'built-in defaults',
      problems: [],
      projectFile: null,
      userFile: null,
      userLayer: null,
      projectLayer: null,
    }),
    state: known({ kind: 'ok', state: { version: 1, allocations: [] } }),
    lock: known({ kind: 'free' }),
    leftovers: known({ temps: [], corrupt: [], rejected: [] }),
    disk: known({ dir: home, freeBytes: 2 * 1024 ** 3, blockSize: 4096, freeInodes: 1000, inodes: 2000, filesBytes: 300 }),
    allocations: null,
    ...over,
  };
}
const find = (f: DoctorFacts, name: string) => judgeFacts(f).find((c) => c.name === name);

test('healthy facts: every check says ok, in the order doctor reports them', () => {
  expect(DOCTOR_CHECKS.map((c) => c.name)).toEqual([
    'owner',
    'home',
    'files',
    'config',
    'state',
    'lock',
    'leftovers',
    'rejected records',
    'disk',
    'allocations',
  ]);
  expect(judgeFacts(facts())).toEqual([
    { name: 'home', status: 'ok', message: `${home} is yours and private` },
    { name: 'files', status: 'ok', message: 'state.json: regular files, yours, not writable by others' },
    { name: 'config', status: 'ok', message: 'valid (built-in defaults only)' },
    { name: 'state', status: 'ok', message: 'valid, 0 allocations recorded' },
    { name: 'lock', status: 'ok', message: 'not held' },
    { name: 'leftovers', status: 'ok', message: 'no temp files' },
    { name: 'disk', status: 'ok', message: '2.0 GB free' },
  ]);
});

test('no home yet: the home says so, and there are no files or leftovers to judge', () => {
  const checks = judgeFacts(facts({ home: null, files: null, leftovers: null }));
  expect(checks.map((c) => c.name)).toEqual(['home', 'config', 'state', 'lock', 'disk']);
  expect(checks[0]).toEqual({ name: 'home', status: 'ok', message: `${home} does not exist yet; the first allocation creates it` });
});

test('a fact that could not be read fails its check with the message and the first suggestion', () => {
  const unsafe = new StyxyError('UNSAFE_HOME', `${home} is writable by group or others (mode 777)`, {
    suggestions: [`Restrict it: chmod go-w ${home}`, 'another'],
  });
  expect(find(facts({ home: unreadable(unsafe) }), 'home')).toEqual({
    name: 'home',
    status: 'fail',
    message: unsafe.message,
    remedy: `Restrict it: chmod go-w ${home}`,
  });
  // A plain error has no remedy.
  expect(find(facts({ state: unreadable(new Error('EISDIR: illegal operation on a directory, read')) }), 'state')).toEqual({
    name: 'state',
    status: 'fail',
    message: 'EISDIR: illegal operation on a directory, read',
  });
});

test('a home its owner cannot write', () => {
  expect(find(facts({ home: known({ writable: false }) }), 'home')).toEqual({
    name: 'home',
    status: 'fail',
    message: `${home} is yours but not writable: every allocation will fail`,
    remedy: `chmod u+w ${home}`,
  });
});

test('root-owned files in a user’s home (a sudo run) fail the owner check, with the chown', () => {
  const owner = find(facts({ ownership: known({ parentUid: 1000, rootOwned: [home, `${home}/state.json`] }) }), 'owner');
  expect(owner).toEqual({
    name: 'owner',
    status: 'fail',
    message: `owned by root inside /h, which belongs to uid 1000 (a sudo styxy run?): ${home}, ${home}/state.json`,
    remedy: `Give them back: sudo chown -R 1000: ${home}`,
  });
  expect(find(facts({ ownership: known(null) }), 'owner')).toBeUndefined();
});

test.each([
  [{ kind: 'missing' } as const, 'ok', 'no state yet'],
  [{ kind: 'unusable', reason: 'it is not valid JSON' } as const, 'fail', 'state.json is unusable: it is not valid JSON'],
  [
    { kind: 'too-new', version: 9 } as const,
    'fail',
    `${paths.state} is state version 9, written by a newer Styxy; this Styxy reads state versions 1 to 3 only. Nothing was read or changed`,
  ],
])('state %j', (content, status, message) => {
  expect(find(facts({ state: known(content) }), 'state')).toMatchObject({ status, message });
});

describe('lock', () => {
  const holder = { pid: 4242, startTime: '1', ns: null, host: 'h', nonce: 'n', since: '2026-06-01T00:00:00.000Z', command: 'styxy allocate -s dev' };
  test('a reclaimable lock is a failure whose remedy is the next call, or rm -r', () => {
    const check = find(
      facts({ lock: known({ kind: 'reclaimable', holding: { holder, liveness: 'dead', ageMs: 3400, entry: 'x' }, reason: 'its holder has ended' }) }),
      'lock',
    );
    expect(check).toMatchObject({ status: 'fail', remedy: `The next styxy call takes it over; or remove it: rm -r ${paths.lock}` });
    expect(check!.message).toMatch(new RegExp(`^stale lock ${paths.lock} left by PID 4242 .*, 3 s old: its holder has ended$`));
  });
  test('a lock without a holder record fails only once it is more than 10 s old', () => {
    const held = (ageMs: number) => known({ kind: 'held', holding: { holder: null, liveness: 'unknown', ageMs, entry: null } } as const);
    expect(find(facts({ lock: held(9_000) }), 'lock')).toEqual({ name: 'lock', status: 'ok', message: 'held by no process Styxy can name (no holder record)' });
    expect(find(facts({ lock: held(61_000) }), 'lock')).toMatchObject({
      status: 'fail',
      message: `${paths.lock} is not a lock Styxy made (no holder record), 61 s old; every call waits for it`,
    });
  });
});

test('leftovers: temp files first, then corrupt state files', () => {
  expect(find(facts({ leftovers: known({ temps: ['state.json.tmp-1-ab'], corrupt: ['state.json.corrupt-x'], rejected: [] }) }), 'leftovers')).toMatchObject({
    status: 'warn',
    message: '1 temp file(s) from an interrupted write: state.json.tmp-1-ab',
  });
  expect(find(facts({ leftovers: known({ temps: [], corrupt: ['state.json.corrupt-x'], rejected: [] }) }), 'leftovers')).toMatchObject({
    status: 'warn',
    remedy: `Remove them when done: rm ${home}/state.json.corrupt-*`,
  });
});

test('rejected records: those the next call sets aside, and the files that keep those set aside before', () => {
  expect(find(facts(), 'rejected records')).toBeUndefined();
  const pending = {
    kind: 'ok' as const,
    state: { version: 1 as const, allocations: [] },
    rejected: [{ list: 'allocations' as const, index: 0, reason: 'r', record: {} }],
  };
  expect(find(facts({ state: known(pending) }), 'rejected records')).toMatchObject({
    status: 'warn',
    message: expect.stringContaining('1 record(s) in the state fail'),
  });
  // No file exists yet: nothing to remove.
  expect(find(facts({ state: known(pending) }), 'rejected records')?.remedy).not.toContain('rm ');
  const kept = known({ temps: [], corrupt: [], rejected: ['state.rejected-2026-01-01T00-00-00-000Z.json'] });
  expect(find(facts({ leftovers: kept }), 'rejected records')).toMatchObject({
    status: 'warn',
    message: expect.stringContaining(`${home}/state.rejected-2026-01-01T00-00-00-000Z.json`),
    remedy: expect.stringContaining(`rm ${home}/state.rejected-*.json`),
  });
});

describe('disk', () => {
  const disk = (over: object) => known({ dir: home, freeBytes: 10 * 1024 ** 2, blockSize: 4096, freeInodes: 10, inodes: 20, filesBytes: 0, ...over });
  test('a write needs twice the files plus a block, and at least 64 KB', () => {
    expect(find(facts({ disk: disk({ freeBytes: 60 * 1024 }) }), 'disk')).toMatchObject({
      status: 'fail',
      message: `the filesystem of ${home} is full (60 KB free, a write needs 64 KB): every allocation will fail with WRITE_FAILED`,
    });
    expect(find(facts({ disk: disk({ freeBytes: 200 * 1024, filesBytes: 100 * 1024 }) }), 'disk')).toMatchObject({
      status: 'fail',
      message: expect.stringContaining('a write needs 204 KB'),
    });
    expect(find(facts({ disk: disk({ freeBytes: 1.5 * 1024 ** 2 }) }), 'disk')).toEqual({ name: 'disk', status: 'ok', message: '1.5 MB free' });
  });
  test('no free inodes fails; a filesystem without inode counts does not', () => {
    expect(find(facts({ disk: disk({ freeInodes: 0 }) }), 'disk')).toMatchObject({
      status: 'fail',
      message: `the filesystem of ${home} has no free inodes: every allocation will fail with WRITE_FAILED`,
    });
    expect(find(facts({ disk: disk({ freeInodes: 0, inodes: 0 }) }), 'disk')).toMatchObject({ status: 'ok' });
  });
  test('where Node cannot tell, there is no disk check', () => {
    expect(find(facts({ disk: known(null) }), 'disk')).toBeUndefined();
  });
});

describe('allocations', () => {
  const owners = { now: NOW, liveProcesses: new Map<number, string | null>([[10, '1']]) };
  const withAllocations = (
    allocations: Allocation[],
    listeners: { port: number; pid?: number; command?: string }[] | null,
    ancestry: [number, number[]][] = [],
  ) => facts({ allocations: known({ allocations, owners, listeners, ancestry: new Map(ancestry) }) });

  test('a live owner whose child listens: all in order', () => {
    const f = withAllocations([alloc('a', 3000, proc(10))], [{ port: 3000, pid: 30 }], [[30, [30, 10, 1]]]);
    expect(find(f, 'allocations')).toEqual({ name: 'allocations', status: 'ok', message: '1 live, each port listened on by its owner or not yet' });
  });

  test('ended owners, unused ports and strangers are informational, with the list cut at five', () => {
    const ended = [1, 2, 3, 4, 5, 6, 7].map((i) => alloc(`e${i}`, 3000 + i, proc(90 + i)));
    const f = withAllocations(
      [...ended, alloc('quiet', 3010, proc(10)), alloc('taken', 3011, proc(10))],
      [{ port: 3011, pid: 40, command: 'nginx' }],
      [[40, [40, 1]]],
    );
    const checks = judgeFacts(f).filter((c) => c.status === 'info');
    expect(checks.map((c) => c.name)).toEqual(['ended owners', 'unused ports', 'port holders']);
    expect(checks[0]!.message).toBe(
      '7 allocation(s) whose owner has ended: dev 3001 (e1), dev 3002 (e2), dev 3003 (e3), dev 3004 (e4), dev 3005 (e5) and 2 more',
    );
    expect(checks[1]!.message).toBe('nobody listens on 1 allocated port(s): dev 3010 (quiet)');
    expect(checks[2]!.message).toBe('dev 3011 (taken) is listened on by PID 40 (nginx), not by its owner PID 10 or a child of it');
  });

  test('without a list of listeners, no port is called unused', () => {
    expect(judgeFacts(withAllocations([alloc('quiet', 3010, proc(10))], null)).map((c) => c.name)).toContain('allocations');
  });

  test('a reservation of an ended owner is reported as such', () => {
    const reserved = alloc('r', 3020, { kind: 'process', pid: 99, startTime: '1', reservedUntil: '2026-06-01T00:01:00.000Z' } as Owner);
    expect(find(withAllocations([reserved], []), 'reserved ports')).toMatchObject({ status: 'info', message: expect.stringContaining('dev 3020 (r)') });
  });
});

test('a check that throws fails under its own name, and the others still report', () => {
  const boom = {
    name: 'boom',
    check: () => {
      throw new Error('a bug');
    },
  };
  const checks = judgeFacts(facts(), [DOCTOR_CHECKS[1]!, boom, DOCTOR_CHECKS[2]!]);
  expect(checks.map((c) => [c.name, c.status])).toEqual([
    ['home', 'ok'],
    ['boom', 'fail'],
    ['files', 'ok'],
  ]);
  expect(checks[1]!.message).toBe('a bug');
});
