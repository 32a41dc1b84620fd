import { spawn, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { acquireLock } from '../../lib/store/lock';
import { resolvePaths } from '../../lib/store/paths';
import { BIN, sandbox, type Sandbox } from '../helpers/cli';

let box: Sandbox;
beforeEach(() => {
  box = sandbox();
  fs.mkdirSync(box.home, { mode: 0o700 });
});
afterEach(() => box.cleanup());

const WORKER = path.join(__dirname, 'lock-worker.js');

/** Starts a styxy call that takes the lock and is SIGKILLed while holding it; resolves once it is dead. */
function killedHolder(): Promise<void> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, 'allocate', '-s', 'dev', '--persistent'], { env: { ...box.env, STYXY_TEST_KILL_AT: 'after-lock' }, stdio: 'ignore' });
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
  // The one timing this suite asserts, as the issue asks; the figures go to the README.
  console.log(`lock recovery after a SIGKILLed holder (ms): ${recoveries.map((r) => r.toFixed(1)).join(', ')}`);
  expect(Math.max(...recoveries)).toBeLessThan(1000);
  expect(fs.readdirSync(box.home).filter((n) => n.startsWith('state.json.lock'))).toEqual([]);
});

test('a stopped (SIGSTOP) live holder is not broken: others fail with LOCK_TIMEOUT naming it', async () => {
  const holder = spawn(process.execPath, ['-e', `
    const { acquireLock } = require(${JSON.stringify(path.join(__dirname, '..', '..', 'dist', 'lib', 'store', 'lock.js'))});
    const { resolvePaths } = require(${JSON.stringify(path.join(__dirname, '..', '..', 'dist', 'lib', 'store', 'paths.js'))});
    acquireLock(resolvePaths({ STYXY_HOME: ${JSON.stringify(box.home)} })).then(() => { process.stdout.write('held\\n'); setInterval(() => {}, 1000); });
  `]);
  try {
    await new Promise<void>((resolve) => holder.stdout?.once('data', () => resolve()));
    holder.kill('SIGSTOP');
    const r = box.run(['allocate', '-s', 'dev', '--json'], { env: { STYXY_LOCK_TIMEOUT_MS: '2500' } });
    expect(r.code).toBe(10);
    expect(r.json.error.message).toContain(`PID ${holder.pid}`);
    // Past the mtime staleness (2 s) too: a live holder seen from this namespace is never taken over.
    const record = JSON.parse(fs.readFileSync(path.join(box.home, 'state.json.lock', 'holder'), 'utf8'));
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
    const child = spawn(process.execPath, [WORKER, box.home, String(until)]);
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
  console.log(`lock stress: ${seconds} s, ${killed} processes SIGKILLed, ${reports.length} finished, ${rounds} rounds, overlaps ${reports.reduce((n, r) => n + r.overlaps, 0)}`);
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
      Array.from({ length: 4 }, () =>
        new Promise<{ code: number | null; stdout: string }>((resolve) => {
          const child = spawn(process.execPath, [WORKER, box.home, String(Date.now() + 60_000), '1']);
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
