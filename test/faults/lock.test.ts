import { spawn, spawnSync, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { acquireLock } from '../../lib/store/lock';
import { resolvePaths } from '../../lib/store/paths';
import { BIN, useSandbox, waitFor } from '../helpers/cli';
import { useBundleOfSources } from '../helpers/sources';

const box = useSandbox();
beforeEach(() => {
  fs.mkdirSync(box.home, { mode: 0o700 });
});

const WORKER = path.join(__dirname, 'lock-worker.js');
/** The lock for processes of their own: lock-worker.js and the stopped holder. */
const lockSources = useBundleOfSources({ 'lib/store/lock': ['acquireLock'], 'lib/store/paths': ['resolvePaths'] });

/** Starts a styxy call that takes the lock and is SIGKILLed while holding it; resolves once it is dead. */
function killedHolder(): Promise<void> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, 'allocate', '-s', 'dev', '--persistent'], {
      env: { ...box.env, STYXY_TEST_KILL_AT: 'after-lock' },
      stdio: 'ignore',
    });
    child.on('exit', () => resolve());
  });
}

test('a lock whose holder was SIGKILLed is taken over in well under a second', async () => {
  const paths = resolvePaths({ STYXY_HOME: box.home });
  const recoveries: number[] = [];
  for (let i = 0; i < 5; i++) {
    await killedHolder();
    expect(fs.existsSync(paths.lock)).toBe(true);
    const started = process.hrtime.bigint();
    const lock = await acquireLock(paths, 10_000);
    recoveries.push(Number(process.hrtime.bigint() - started) / 1e6);
    lock.assertHeld();
    await lock.release();
  }
  // The one timing this suite asserts: fast recovery from a dead holder is a promise of
  // docs/reliability.md, and the figures printed here are the ones it quotes.
  console.log(`lock recovery after a SIGKILLed holder (ms): ${recoveries.map((r) => r.toFixed(1)).join(', ')}`);
  expect(Math.max(...recoveries)).toBeLessThan(1000);
  expect(fs.readdirSync(box.home).filter((n) => n.startsWith('state.json.lock'))).toEqual([]);
});

test('a stopped (SIGSTOP) live holder is not broken: others fail with LOCK_TIMEOUT naming it', async () => {
  const holder = spawn(process.execPath, [
    '-e',
    `
    const { acquireLock, resolvePaths } = require(${JSON.stringify(lockSources())});
    acquireLock(resolvePaths({ STYXY_HOME: ${JSON.stringify(box.home)} })).then(() => { process.stdout.write('held\\n'); setInterval(() => {}, 1000); });
  `,
  ]);
  try {
    await new Promise<void>((resolve) => holder.stdout?.once('data', () => resolve()));
    holder.kill('SIGSTOP');
    const r = box.run(['allocate', '-s', 'dev', '--json'], { env: { STYXY_LOCK_TIMEOUT_MS: '2500' } });
    expect(r.code).toBe(10);
    expect(r.json.error.message).toContain(`PID ${holder.pid}`);
    // A live holder seen from this namespace is never taken over, however long it keeps still.
    const lockDir = path.join(box.home, 'state.json.lock');
    const record = JSON.parse(fs.readFileSync(path.join(lockDir, fs.readdirSync(lockDir)[0] as string, 'holder'), 'utf8'));
    expect(record.pid).toBe(holder.pid);
  } finally {
    holder.kill('SIGKILL');
  }
}, 30_000);

test('20 processes contend for the lock while one is SIGKILLed every 50 ms: no overlap, no error, no leftovers', async () => {
  const seconds = Number(process.env.STYXY_STRESS_SECONDS || 30);
  const until = Date.now() + seconds * 1000;
  const workers = new Set<ChildProcess>();
  const reports: { rounds: number; overlaps: number }[] = [];
  const failures: string[] = [];
  let killed = 0;
  const exited: Promise<void>[] = [];
  const startWorker = () => {
    const child = spawn(process.execPath, [WORKER, lockSources(), box.home, String(until)]);
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    workers.add(child);
    exited.push(
      new Promise((resolve) =>
        child.on('close', (code, signal) => {
          workers.delete(child);
          if (signal === 'SIGKILL') killed++;
          else if (code === 0) reports.push(JSON.parse(out));
          else failures.push(err || `exit ${code}`);
          resolve();
        }),
      ),
    );
  };
  for (let i = 0; i < 20; i++) startWorker();
  while (Date.now() < until - 200) {
    await new Promise((r) => setTimeout(r, 50));
    const list = [...workers];
    const victim = list[Math.floor(Math.random() * list.length)];
    if (victim) {
      victim.kill('SIGKILL');
      workers.delete(victim);
      startWorker();
    }
  }
  while (exited.length > 0) await exited.shift();
  const rounds = reports.reduce((n, r) => n + r.rounds, 0);
  console.log(
    `lock stress: ${seconds} s, ${killed} processes SIGKILLed, ${reports.length} finished, ${rounds} rounds, overlaps ${reports.reduce((n, r) => n + r.overlaps, 0)}`,
  );
  expect(failures).toEqual([]);
  expect(reports.reduce((n, r) => n + r.overlaps, 0)).toBe(0);
  expect(killed).toBeGreaterThan(seconds * 5);
  expect(rounds).toBeGreaterThan(0);
  // Whatever the last victims left behind goes with the next call.
  expect(box.run(['list', '--json']).code).toBe(0);
  expect(fs.readdirSync(box.home).filter((n) => n.startsWith('state.json.lock'))).toEqual([]);
}, 180_000);

test('four callers racing to take over one dead holder: one at a time, each exactly once', async () => {
  // The race that the takeover guard exists for, twenty times over.
  const paths = resolvePaths({ STYXY_HOME: box.home });
  for (let round = 0; round < 20; round++) {
    await killedHolder();
    const contenders = await Promise.all(
      Array.from(
        { length: 4 },
        () =>
          new Promise<{ code: number | null; stdout: string }>((resolve) => {
            const child = spawn(process.execPath, [WORKER, lockSources(), box.home, String(Date.now() + 60_000), '1']);
            let stdout = '';
            child.stdout.on('data', (d) => (stdout += d));
            child.on('close', (code) => resolve({ code, stdout }));
          }),
      ),
    );
    for (const c of contenders) {
      expect(c.code).toBe(0);
      expect(JSON.parse(c.stdout)).toEqual({ rounds: 1, overlaps: 0 });
    }
  }
  expect(fs.existsSync(paths.lock)).toBe(false);
}, 120_000);

// A holder whose liveness others cannot see: it runs in a PID namespace of its own (unshare),
// and stops itself (SIGSTOP) right before it renames its new state into place, the moment the
// old code had long since checked that it still held the lock.
const canUnshare = spawnSync('unshare', ['--pid', '--fork', 'true']).status === 0;

/** Reads /proc/PID/stat's state letter, or null when the process is gone. */
function procState(pid: number): string | null {
  try {
    const text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return text.slice(text.lastIndexOf(')') + 2).split(' ')[0] ?? null;
  } catch {
    return null;
  }
}

/** Starts `styxy allocate` in its own PID namespace, stopped inside its section; resolves with its host PID and its result to come. */
async function stoppedForeignHolder(
  point = 'before-rename:state.json',
  type = 'dev',
): Promise<{ pid: number; result: Promise<{ code: number | null; json: any }> }> {
  // A shell is the namespace's PID 1 (which ignores the signals it sends itself), node its child.
  const command = `${JSON.stringify(process.execPath)} ${JSON.stringify(BIN)} allocate -s ${type} --persistent --json; exit $?`;
  const child = spawn('unshare', ['--pid', '--fork', 'sh', '-c', command], {
    env: { ...box.env, STYXY_TEST_STOP_AT: point },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  child.stdout.on('data', (d) => (stdout += d));
  const result = new Promise<{ code: number | null; json: any }>((resolve) =>
    child.on('close', (code) => resolve({ code, json: stdout.trim() ? JSON.parse(stdout) : undefined })),
  );
  // unshare forks the shell, which forks node; find it, then wait until it has stopped itself.
  const childOf = (pid: number | null | undefined) => {
    try {
      return Number(fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(' ')[0]) || null;
    } catch {
      return null;
    }
  };
  const pid = await waitFor('the holder to start', () => childOf(childOf(child.pid)));
  await waitFor('the holder to stop inside its section', () => procState(pid) === 'T');
  return { pid, result };
}

(canUnshare ? test : test.skip)(
  'a holder of unknown liveness, stopped in its section past every old deadline, is not taken over; resumed, it commits',
  async () => {
    const first = box.run(['allocate', '-s', 'dev', '--persistent', '--json']);
    const holder = await stoppedForeignHolder();
    try {
      // Its record is untouched while it is stopped; the old code took such a lock over after 2 s.
      const second = box.run(['allocate', '-s', 'dev', '--persistent', '--json'], { env: { STYXY_LOCK_TIMEOUT_MS: '3500' } });
      expect(second.json.error.code).toBe('LOCK_TIMEOUT');
      expect(second.code).toBe(10);
      expect(second.json.error.message).toContain('cannot be seen from here');
      // doctor agrees with the lock: held, not stale.
      const lockCheck = box.run(['doctor', '--json']).json.checks.find((c: { name: string }) => c.name === 'lock');
      expect(lockCheck).toMatchObject({ status: 'ok' });
      expect(lockCheck.message).toMatch(/^held by PID 2 on /);
    } finally {
      process.kill(holder.pid, 'SIGCONT');
    }
    const done = await holder.result;
    expect(done.code).toBe(0);
    const ports = box
      .readState()
      .allocations.map((a: { port: number }) => a.port)
      .sort();
    expect(ports).toEqual([first.json.port, done.json.port].sort());
  },
  60_000,
);

// Stopped right before renaming its state, or between its config write and its state write (a
// new type: the config is written first).
(canUnshare
  ? test.each([
      ['before-rename:state.json', 'dev'],
      ['after-rename:config.json', 'newtool'],
    ])
  : test.skip.each([['', '']]))(
  'taken over while it still works (stopped at %s), the resumed holder refuses to write (LOCK_COMPROMISED): one writer, nothing lost',
  async (point, type) => {
    const first = box.run(['allocate', '-s', 'dev', '--persistent', '--json']);
    const holder = await stoppedForeignHolder(point, type);
    let second;
    try {
      // Silence shortened to 1 s for this test only: the takeover happens while the holder still runs.
      second = box.run(['allocate', '-s', 'dev', '--persistent', '--json'], { env: { STYXY_TEST_LOCK_SILENT_MS: '1000' } });
      expect(second.code).toBe(0);
    } finally {
      process.kill(holder.pid, 'SIGCONT');
    }
    const done = await holder.result;
    expect(done.json.error.code).toBe('LOCK_COMPROMISED');
    expect(done.code).toBe(12);
    // Every call that succeeded is in the state, each port once; the refused one left nothing.
    const allocations = box.readState().allocations;
    expect(allocations.map((a: { lockId: string }) => a.lockId).sort()).toEqual([first.json.lockId, second.json.lockId].sort());
    expect(new Set(allocations.map((a: { port: number }) => a.port)).size).toBe(2);
    expect(box.run(['allocate', '-s', 'dev', '--persistent', '--json']).code).toBe(0);
    expect(fs.readdirSync(box.home).filter((n) => n.startsWith('state.json.lock') || n.includes('.tmp-'))).toEqual([]);
  },
  60_000,
);
