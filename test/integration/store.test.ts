import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { BIN, useSandbox } from '../helpers/cli';

const box = useSandbox();

const statePath = () => path.join(box.home, 'state.json');

describe('the lock', () => {
  test('50 processes started at once all succeed with 50 distinct ports, and the state is valid', async () => {
    const results = await Promise.all(Array.from({ length: 50 }, () => box.start(['allocate', '-s', 'api', '--persistent', '--json'])));
    const failures = results.filter((r) => r.code !== 0);
    expect(failures.map((r) => r.stderr || r.stdout)).toEqual([]);
    const ports = results.map((r) => r.json.port);
    expect(new Set(ports).size).toBe(50);
    const state = box.readState();
    expect(state.allocations).toHaveLength(50);
    expect(new Set(state.allocations.map((a: { port: number }) => a.port))).toEqual(new Set(ports));
    expect(box.run(['doctor', '--json']).code).toBe(0);
  });

  test('a holder killed with SIGKILL while holding the lock: the next call succeeds and nothing is lost', () => {
    const kept = box.run(['allocate', '-s', 'dev', '--persistent', '--json']).json;
    const killed = box.run(['allocate', '-s', 'dev', '--json'], { env: { STYXY_TEST_KILL_AT: 'after-lock' } });
    expect(killed.signal).toBe('SIGKILL');
    expect(fs.existsSync(path.join(box.home, 'state.json.lock'))).toBe(true);
    const next = box.run(['allocate', '-s', 'dev', '--json']);
    expect(next.code).toBe(0);
    expect(box.readState().allocations.map((a: { lockId: string }) => a.lockId)).toEqual([kept.lockId, next.json.lockId]);
  });

  test('a lock held by a live process times out with LOCK_TIMEOUT naming the lock, the holder and the remedy', () => {
    box.run(['allocate', '-s', 'dev', '--persistent']);
    const before = fs.readFileSync(statePath(), 'utf8');
    const lock = path.join(box.home, 'state.json.lock');
    fs.mkdirSync(lock);
    // This test process as the holder: alive, in the same PID namespace, on the same host.
    fs.writeFileSync(
      path.join(lock, 'holder'),
      JSON.stringify({
        pid: process.pid,
        startTime: null,
        ns: fs.readlinkSync('/proc/self/ns/pid'),
        host: os.hostname(),
        nonce: 'x',
        since: new Date().toISOString(),
        command: 'allocate -s dev',
      }),
    );
    const r = box.run(['allocate', '-s', 'dev', '--json'], { env: { STYXY_LOCK_TIMEOUT_MS: '700' } });
    expect(r.code).toBe(10);
    expect(r.json.error.code).toBe('LOCK_TIMEOUT');
    expect(r.json.error.message).toContain(lock);
    expect(r.json.error.message).toContain(`PID ${process.pid}`);
    expect(r.json.error.suggestions.join(' ')).toContain(`rm -r ${lock}`);
    expect(fs.readFileSync(statePath(), 'utf8')).toBe(before);
    fs.rmSync(lock, { recursive: true });
  });

  /** Plants a holding of Styxy's shape whose record is `record` (empty: what a power cut before its fsync leaves; null: none at all), last changed `ageMs` ago. */
  function plantUnreadableHolding(record: string | null, ageMs: number): string {
    box.run(['allocate', '-s', 'dev', '--persistent']);
    const holding = path.join(box.home, 'state.json.lock', '0123456789abcdef');
    fs.mkdirSync(holding, { recursive: true });
    const when = new Date(Date.now() - ageMs);
    if (record !== null) {
      fs.writeFileSync(path.join(holding, 'holder'), record);
      fs.utimesSync(path.join(holding, 'holder'), when, when);
    }
    fs.utimesSync(holding, when, when);
    return holding;
  }

  test.each([
    ['empty', ''],
    ['torn', '{"pid":12'],
    ['missing', null],
  ])('a holding whose record is %s and has not changed for a minute (a crash) is taken over: the next call succeeds', (_kind, record) => {
    const holding = plantUnreadableHolding(record, 60_000);
    const before = box.readState().allocations;
    expect(box.run(['doctor', '--json']).json.error.details.checks.find((c: { name: string }) => c.name === 'lock')).toMatchObject({ status: 'fail' });
    const r = box.run(['allocate', '-s', 'api', '--json'], { env: { STYXY_LOCK_TIMEOUT_MS: '3000' } });
    expect([r.code, r.json.success]).toEqual([0, true]);
    expect(fs.existsSync(holding)).toBe(false);
    expect(box.readState().allocations).toEqual([...before, expect.objectContaining({ lockId: r.json.lockId })]);
    expect(fs.readdirSync(box.home).filter((n) => n.startsWith('state.json.lock'))).toEqual([]);
  });

  test('a holding whose empty record was just written (a holder mid-write) is not taken over', () => {
    const holding = plantUnreadableHolding('', 0);
    const before = fs.readFileSync(statePath(), 'utf8');
    const r = box.run(['allocate', '-s', 'api', '--json'], { env: { STYXY_LOCK_TIMEOUT_MS: '1000' } });
    expect([r.code, r.json.error.code]).toEqual([10, 'LOCK_TIMEOUT']);
    expect(fs.existsSync(path.join(holding, 'holder'))).toBe(true);
    expect(fs.readFileSync(statePath(), 'utf8')).toBe(before);
  });
  test('names and ports are checked before the lock is taken', () => {
    box.run(['allocate', '-s', 'dev', '--persistent']);
    const refused = [
      ['allocate', '-s', '../etc', '--json'],
      ['allocate', '-s', 'dev', '-p', '70000', '--json'],
    ];
    // A call that took the lock would be killed at this point; a refused one never gets there.
    const kill = { STYXY_TEST_KILL_AT: 'after-lock' };
    expect(box.run(['allocate', '-s', 'dev', '--json'], { env: kill }).signal).toBe('SIGKILL');
    fs.rmSync(path.join(box.home, 'state.json.lock'), { recursive: true });
    for (const args of refused) {
      const r = box.run(args, { env: kill });
      expect({ args, code: r.code, error: r.json?.error?.code }).toEqual({ args, code: 3, error: 'INVALID_ARGUMENT' });
    }
    expect(fs.existsSync(path.join(box.home, 'state.json.lock'))).toBe(false);
    // Nor does it wait for a live holder: a call that waited would end with LOCK_TIMEOUT.
    const lock = path.join(box.home, 'state.json.lock');
    fs.mkdirSync(lock);
    const holder = JSON.stringify({
      pid: process.pid,
      startTime: null,
      ns: fs.readlinkSync('/proc/self/ns/pid'),
      host: os.hostname(),
      nonce: 'x',
      since: new Date().toISOString(),
    });
    fs.writeFileSync(path.join(lock, 'holder'), holder);
    const home = fs.readdirSync(box.home).sort();
    for (const args of refused) {
      const r = box.run(args, { env: { STYXY_LOCK_TIMEOUT_MS: '300' } });
      expect({ args, code: r.code, error: r.json?.error?.code }).toEqual({ args, code: 3, error: 'INVALID_ARGUMENT' });
    }
    expect(box.run(['allocate', '-s', 'dev', '--json'], { env: { STYXY_LOCK_TIMEOUT_MS: '300' } }).json.error.code).toBe('LOCK_TIMEOUT');
    expect(fs.readdirSync(lock)).toEqual(['holder']);
    expect(fs.readFileSync(path.join(lock, 'holder'), 'utf8')).toBe(holder);
    expect(fs.readdirSync(box.home).sort()).toEqual(home);
  });
});

describe('state file', () => {
  test('a corrupt state.json is moved aside, reported, and replaced', () => {
    fs.mkdirSync(box.home, { mode: 0o700 });
    fs.writeFileSync(statePath(), '{"version": 1, "allocations": [', { mode: 0o600 });
    const r = box.run(['allocate', '-s', 'dev', '--json']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/state\.json was unusable \(it is not valid JSON\); moved it to .*state\.json\.corrupt-/);
    const aside = fs.readdirSync(box.home).filter((f) => f.startsWith('state.json.corrupt-'));
    expect(aside).toHaveLength(1);
    expect(fs.readFileSync(path.join(box.home, aside[0] as string), 'utf8')).toBe('{"version": 1, "allocations": [');
    expect(box.readState().allocations).toHaveLength(1);
  });

  test('a state that parses but breaks the schema as a whole (not in one record) is treated as corrupt too', () => {
    // A bad record alone is set aside on its own (rejected-records.test.ts).
    fs.mkdirSync(box.home, { mode: 0o700 });
    fs.writeFileSync(statePath(), JSON.stringify({ version: 1, allocations: { port: 'x' } }), { mode: 0o600 });
    expect(box.run(['list', '--json']).code).toBe(0);
    expect(fs.readdirSync(box.home).some((f) => f.startsWith('state.json.corrupt-'))).toBe(true);
  });
});

describe('a large state, written from the text it was read from', () => {
  /** What the state file must hold: each allocation serialized on its own, one a line. */
  const laidOut = (state: { version: number; allocations: unknown[] }) =>
    `{\n  "version": ${state.version},\n  "allocations": [\n${state.allocations.map((a) => `    ${JSON.stringify(a)}`).join(',\n')}\n  ]\n}\n`;

  test('hand-edited lines (spacing, an escape, a field this version does not know) are read and written as their values', () => {
    box.seedAllocations(1000);
    const text = fs.readFileSync(statePath(), 'utf8');
    // Spaces in one allocation, an escaped letter in another: the values are what they were.
    const edited = text.replace('"port":10001,', '"port" :  10001 ,').replace('"instanceId":"a2"', '"instanceId":"\\u0061\\u0032"');
    fs.writeFileSync(statePath(), edited, { mode: 0o600 });
    const first = box.run(['allocate', '-s', 'api', '--persistent', '--json']);
    expect(first.code).toBe(0);
    const afterFirst = fs.readFileSync(statePath(), 'utf8');
    const expected = JSON.parse(edited);
    expected.allocations.push(box.readState().allocations[1000]);
    expect(afterFirst).toBe(laidOut(expected));
    expect(expected.allocations[2].instanceId).toBe('a2');
    // A field this version does not know is kept; the state read from Styxy's own text is extended line for line.
    fs.writeFileSync(
      statePath(),
      afterFirst.replace('"allocatedAt":"2026-01-01T00:00:00.000Z"}', '"allocatedAt":"2026-01-01T00:00:00.000Z","later":{"x":[1]}}'),
      { mode: 0o600 },
    );
    const second = box.run(['allocate', '-s', 'api', '--persistent', '--json']);
    expect(second.code).toBe(0);
    const state = box.readState();
    expect(state.allocations).toHaveLength(1002);
    expect(state.allocations[0].later).toEqual({ x: [1] });
    expect(fs.readFileSync(statePath(), 'utf8')).toBe(laidOut(state));
    expect(box.run(['allocate', '-s', 'api', '--persistent', '--json']).code).toBe(0);
    const third = box.readState();
    expect(third.allocations.slice(0, 1002)).toEqual(state.allocations);
    expect(fs.readFileSync(statePath(), 'utf8')).toBe(laidOut(third));
    expect(box.run(['doctor', '--json']).code).toBe(0);
  });

  test('an allocation released from the middle is gone, every other one written as it was', () => {
    box.seedAllocations(1000);
    const before = box.readState();
    expect(box.run(['release', 'dev-a500-000000', '--json']).code).toBe(0);
    const state = box.readState();
    expect(state.allocations).toEqual(before.allocations.filter((a: { lockId: string }) => a.lockId !== 'dev-a500-000000'));
    expect(fs.readFileSync(statePath(), 'utf8')).toBe(
      `${laidOut(state).slice(0, -3)},\n  "recentlyFreed": [\n    ${JSON.stringify(state.recentlyFreed[0])}\n  ]\n}\n`,
    );
  });
});

describe('unsafe homes', () => {
  const canSwitch = process.getuid?.() === 0 && spawnSync('setpriv', ['--version']).status === 0;
  (canSwitch ? test : test.skip)('no HOME and no passwd entry: UNSAFE_HOME with the STYXY_HOME hint; with STYXY_HOME, every command works', () => {
    // A uid no account has, as a container's --user gives.
    let uid = 54321;
    while (spawnSync('getent', ['passwd', String(uid)]).status === 0) uid++;
    const asNobody = (args: string[], env: NodeJS.ProcessEnv) => {
      const r = spawnSync('setpriv', [`--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', process.execPath, BIN, ...args], {
        cwd: box.cwd,
        env,
        encoding: 'utf8',
      });
      return { code: r.status, stderr: r.stderr, json: JSON.parse(r.stdout || 'null') };
    };
    const env: NodeJS.ProcessEnv = { ...box.env };
    delete env.HOME;
    delete env.STYXY_HOME;
    for (const args of [['list'], ['allocate', '-s', 'dev'], ['release', '-s', 'dev'], ['doctor'], ['config', 'show']]) {
      const r = asNobody([...args, '--json'], env);
      expect([args, r.code, r.json.error.code]).toEqual([args, 11, 'UNSAFE_HOME']);
      expect(r.json.error.suggestions.join(' ')).toContain('STYXY_HOME=');
    }
    fs.chmodSync(box.dir, 0o755);
    const parent = path.join(box.dir, 'for-uid');
    fs.mkdirSync(parent);
    fs.chownSync(parent, uid, uid);
    const withHome = { ...env, STYXY_HOME: path.join(parent, 'styxy') };
    const made = asNobody(['allocate', '-s', 'dev', '--persistent', '--json'], withHome);
    expect([made.code, made.json.success]).toEqual([0, true]);
    expect(asNobody(['list', '--json'], withHome).json.allocations.map((a: { lockId: string }) => a.lockId)).toEqual([made.json.lockId]);
    expect(asNobody(['config', 'set', 'auto-allocation.gap-size', '5', '--json'], withHome).code).toBe(0);
    expect(asNobody(['allocate', '-s', 'grafana', '--yes', '--json'], withHome).json.autoAllocated).toBe(true);
    expect(asNobody(['config', 'undo-auto', '--force', '--json'], withHome).code).toBe(0);
    expect(asNobody(['release', made.json.lockId, '--json'], withHome).code).toBe(0);
    expect(asNobody(['doctor', '--json'], withHome).code).toBe(0);
  });

  test('a home writable by group or others is refused', () => {
    fs.mkdirSync(box.home, { mode: 0o700 });
    fs.chmodSync(box.home, 0o777);
    const r = box.run(['allocate', '-s', 'dev', '--json']);
    expect(r.code).toBe(11);
    expect(r.json.error.code).toBe('UNSAFE_HOME');
    expect(fs.existsSync(statePath())).toBe(false);
  });

  test('a state file writable by others is refused', () => {
    box.run(['allocate', '-s', 'dev']);
    fs.chmodSync(statePath(), 0o666);
    expect(box.run(['list', '--json']).json.error.code).toBe('UNSAFE_HOME');
  });

  test.each(['state.json', 'config.json', 'audit.log'])('a symlink planted as %s is refused and its target untouched', (name) => {
    fs.mkdirSync(box.home, { mode: 0o700 });
    const target = path.join(box.dir, 'precious.txt');
    fs.writeFileSync(target, 'do not touch');
    fs.symlinkSync(target, path.join(box.home, name));
    const r = box.run(['allocate', '-s', 'dev', '--json']);
    expect(r.code).toBe(11);
    expect(r.json.error.code).toBe('UNSAFE_HOME');
    expect(fs.readFileSync(target, 'utf8')).toBe('do not touch');
  });

  const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  (asRoot ? test : test.skip)('a home owned by another user is refused', () => {
    fs.mkdirSync(box.home, { mode: 0o700 });
    fs.chownSync(box.home, 65534, 65534);
    const r = box.run(['allocate', '-s', 'dev', '--json']);
    expect(r.json.error.code).toBe('UNSAFE_HOME');
    expect(r.json.error.message).toContain('uid 65534');
  });
});

describe('a full disk', () => {
  const mountPoint = () => path.join(box.dir, 'tmpfs');
  let mounted = false;
  beforeEach(() => {
    fs.mkdirSync(mountPoint());
    mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=256k,mode=0700', 'tmpfs', mountPoint()]).status === 0;
    if (!mounted) console.warn('skipped: cannot mount a tmpfs here (needs root)');
  });
  afterEach(() => {
    if (mounted) spawnSync('umount', [mountPoint()]);
  });

  test('a write that does not fit fails with WRITE_FAILED and leaves the state byte-identical', () => {
    if (!mounted) return;
    const home = path.join(mountPoint(), 'home');
    const env = { STYXY_HOME: home };
    // Enough allocations that the state file is a few KB.
    for (let i = 0; i < 40; i++) expect(box.run(['allocate', '-s', 'api', '--persistent', '-q'], { env }).code).toBe(0);
    const before = fs.readFileSync(path.join(home, 'state.json'));
    // Fill the disk, leaving less room than one more copy of the state needs.
    const filler = path.join(mountPoint(), 'filler');
    const fd = fs.openSync(filler, 'w');
    const chunk = Buffer.alloc(1024, 120);
    try {
      for (;;) fs.writeSync(fd, chunk);
    } catch {
      /* full */
    }
    fs.closeSync(fd);
    fs.truncateSync(filler, fs.statSync(filler).size - 1024);
    const r = box.run(['allocate', '-s', 'api', '--persistent', '--json'], { env });
    expect(r.json?.error?.code).toBe('WRITE_FAILED');
    expect(r.code).toBe(13);
    expect(fs.readFileSync(path.join(home, 'state.json'))).toEqual(before);
    expect(fs.readdirSync(home).filter((f) => f.includes('.tmp-'))).toEqual([]);
    fs.unlinkSync(filler);
    expect(box.run(['allocate', '-s', 'api', '--persistent', '--json'], { env }).code).toBe(0);
  });
});
