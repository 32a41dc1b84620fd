import { spawn, spawnSync, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { ROOT, killAndWait, rejection, until, useSandbox } from '../helpers/cli';
import { readmeRecipe } from '../helpers/readme';
import { useBundleOfSources } from '../helpers/sources';

// `signal` and `lockTimeoutMs` of the Node API, against a real second process that holds Styxy's
// lock: an abort before or while the call waits for the lock rejects with ABORTED and changes
// nothing; lockTimeoutMs bounds the wait whatever STYXY_LOCK_TIMEOUT_MS says.

type Api = typeof import('../../types/styxy');
const API_CJS = path.join(ROOT, 'dist', 'api.js');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const api = require(API_CJS) as Api;

const box = useSandbox();
const lockSources = useBundleOfSources({ 'lib/store/lock': ['acquireLock'], 'lib/store/paths': ['resolvePaths'] });
const at = () => ({ home: box.home, cwd: box.cwd });

/** A process that takes the lock, says so, and lets it go when its stdin ends. */
async function holdLock(): Promise<ChildProcess> {
  const holder = spawn(
    process.execPath,
    [
      '-e',
      `
      const { acquireLock, resolvePaths } = require(${JSON.stringify(lockSources())});
      acquireLock(resolvePaths({ STYXY_HOME: ${JSON.stringify(box.home)} })).then((lock) => {
        process.stdout.write('held\\n');
        process.stdin.resume();
        process.stdin.on('end', () => lock.release().then(() => process.stdout.write('released\\n')));
      });
    `,
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  await new Promise<void>((resolve) => holder.stdout?.once('data', () => resolve()));
  return holder;
}

async function letGo(holder: ChildProcess): Promise<void> {
  const released = new Promise<void>((resolve) => holder.stdout?.once('data', () => resolve()));
  holder.stdin?.end();
  await released;
  await killAndWait(holder);
}

const queueDir = () => path.join(box.home, 'state.json.lock.queue');
const waiters = () => (fs.existsSync(queueDir()) ? fs.readdirSync(queueDir()).length : 0);
const cliList = () => box.run(['list', '--json']).json.allocations as unknown[];

describe('signal', () => {
  test('an already aborted signal rejects with ABORTED (an AbortError) before anything is made, even the home', async () => {
    const home = path.join(box.dir, 'never-made');
    const reason = new Error('changed my mind');
    const err = await rejection(api.allocate({ serviceType: 'dev', home, cwd: box.cwd, signal: AbortSignal.abort(reason) }));
    expect(err).toBeInstanceOf(api.StyxyError);
    expect([err.code, err.name, err.exitCode, err.cause]).toEqual(['ABORTED', 'AbortError', 27, reason]);
    expect(fs.existsSync(home)).toBe(false);
    for (const call of [
      api.list({ home, signal: AbortSignal.abort() }),
      api.release('dev-x', { home, signal: AbortSignal.abort() }),
      api.whoHolds(3000, { home, signal: AbortSignal.abort() }),
      api.stop(3000, { home, signal: AbortSignal.abort() }),
      api.allocateMany({ serviceTypes: ['dev', 'api'], home, signal: AbortSignal.abort() }),
    ]) {
      expect((await rejection(call)).code).toBe('ABORTED');
    }
    expect(fs.existsSync(home)).toBe(false);
  });

  test('aborted while waiting in line for a lock another process holds: ABORTED, its place in line given up, nothing allocated', async () => {
    box.run(['list']); // the home exists, so that the holder can take the lock in it
    const holder = await holdLock();
    try {
      const controller = new AbortController();
      const waiting = rejection(api.allocate({ serviceType: 'dev', instanceId: 'web', signal: controller.signal, ...at() }));
      await until(() => waiters() === 1, 'the API call to queue for the lock');
      controller.abort();
      const err = await waiting;
      expect([err.code, err.name]).toEqual(['ABORTED', 'AbortError']);
      expect(err.cause).toBe(controller.signal.reason);
      // Its ticket left the line at once, while the holder still holds the lock.
      expect(waiters()).toBe(0);
      expect(fs.existsSync(path.join(box.home, 'state.json.lock'))).toBe(true);
    } finally {
      await letGo(holder);
    }
    expect(cliList()).toEqual([]);
    expect(box.run(['allocate', '-s', 'dev', '-n', 'web', '--persistent', '--json']).json.port).toBe(3000);
  });

  test('a signal aborted after the call took the lock changes nothing of what it did', async () => {
    const controller = new AbortController();
    const a = await api.allocate({ serviceType: 'dev', signal: controller.signal, ...at() });
    controller.abort();
    expect(cliList()).toEqual([expect.objectContaining({ lockId: a.lockId })]);
    // Giving it back is not cancelled with the call that took it.
    expect(await a.release()).toBe(true);
    expect(cliList()).toEqual([]);
  });

  test('a stop aborted once it has begun signalling still ends the tree and releases the port', async () => {
    const marker = path.join(box.dir, 'got-sigterm');
    // A server that outlives SIGTERM, so that the stop is still under way when the signal fires.
    // It listens on the port it is told on stdin, owned by its own PID.
    const script = `
      process.on('SIGTERM', () => require('fs').writeFileSync(${JSON.stringify(marker)}, ''));
      process.stdin.once('data', (port) => require('net').createServer().listen(Number(port), '127.0.0.1', () => console.log('listening')));
    `;
    const server = spawn(process.execPath, ['-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
    try {
      const a = await api.allocate({ serviceType: 'dev', pid: server.pid!, ...at() });
      const listening = new Promise<void>((resolve) => server.stdout?.once('data', () => resolve()));
      server.stdin?.write(`${a.port}\n`);
      await listening;
      const controller = new AbortController();
      const stopping = api.stop(a.lockId, { graceMs: 1000, signal: controller.signal, ...at() });
      await until(() => fs.existsSync(marker), 'the server to get SIGTERM');
      controller.abort();
      const report = await stopping;
      expect(report.stopped).toEqual([
        expect.objectContaining({
          port: a.port,
          reason: 'owner',
          released: true,
          processes: [expect.objectContaining({ pid: server.pid, signals: ['SIGTERM', 'SIGKILL'] })],
        }),
      ]);
      expect(cliList()).toEqual([]);
    } finally {
      await killAndWait(server);
    }
  });

  test('a stop with lockTimeoutMs 0 that has begun signalling waits for the lock to release the port', async () => {
    const marker = path.join(box.dir, 'got-sigterm-2');
    const script = `
      process.on('SIGTERM', () => require('fs').writeFileSync(${JSON.stringify(marker)}, ''));
      process.stdin.once('data', (port) => require('net').createServer().listen(Number(port), '127.0.0.1', () => console.log('listening')));
    `;
    const server = spawn(process.execPath, ['-e', script], { stdio: ['pipe', 'pipe', 'inherit'] });
    let holder: ChildProcess | undefined;
    try {
      const a = await api.allocate({ serviceType: 'dev', persistent: true, ...at() });
      const listening = new Promise<void>((resolve) => server.stdout?.once('data', () => resolve()));
      server.stdin?.write(`${a.port}\n`);
      await listening;
      const stopping = api.stop(a.port, { graceMs: 1000, force: true, lockTimeoutMs: 0, ...at() });
      await until(() => fs.existsSync(marker), 'the server to get SIGTERM');
      // Another process takes the lock while the stop signals: the stop's release must wait for it.
      holder = await holdLock();
      const report = await Promise.race([stopping, new Promise((resolve) => setTimeout(() => resolve('still waiting'), 2500))]);
      expect(report).toBe('still waiting');
      await letGo(holder);
      holder = undefined;
      expect((await stopping).stopped).toEqual([expect.objectContaining({ port: a.port, released: true })]);
      expect(cliList()).toEqual([]);
    } finally {
      if (holder) await letGo(holder);
      await killAndWait(server);
    }
  });

  test('a signal that is not an AbortSignal is INVALID_ARGUMENT', async () => {
    const err = await rejection(api.list({ signal: { aborted: 'no' } as unknown as AbortSignal, ...at() }));
    expect(err.code).toBe('INVALID_ARGUMENT');
  });
});

describe('lockTimeoutMs', () => {
  test('bounds the wait for a held lock, whatever STYXY_LOCK_TIMEOUT_MS allows: LOCK_TIMEOUT naming the holder, nothing allocated', async () => {
    box.run(['list']);
    const holder = await holdLock();
    try {
      // A child whose default deadline is 10 minutes: only the option can end its wait.
      const script = `
        const api = require(${JSON.stringify(API_CJS)});
        api.allocate({ serviceType: 'dev', lockTimeoutMs: 300, home: ${JSON.stringify(box.home)}, cwd: ${JSON.stringify(box.cwd)} })
          .then((a) => console.log(JSON.stringify({ port: a.port })), (e) => console.log(JSON.stringify({ code: e.code, details: e.details })));
      `;
      const child = await new Promise<{ stdout: string }>((resolve) => {
        const c = spawn(process.execPath, ['-e', script], { env: { ...box.env, STYXY_LOCK_TIMEOUT_MS: '600000' } });
        let stdout = '';
        c.stdout.on('data', (d) => (stdout += d));
        c.on('close', () => resolve({ stdout }));
      });
      const answer = JSON.parse(child.stdout);
      expect(answer).toEqual({ code: 'LOCK_TIMEOUT', details: expect.objectContaining({ holderPid: holder.pid, holderAlive: true }) });
      expect(waiters()).toBe(0);
      // 0: take the lock only if it is free, never wait.
      expect((await rejection(api.list({ lockTimeoutMs: 0, ...at() }))).code).toBe('LOCK_TIMEOUT');
    } finally {
      await letGo(holder);
    }
    expect(cliList()).toEqual([]);
    expect((await api.allocate({ serviceType: 'dev', lockTimeoutMs: 0, ...at() })).port).toBe(3000);
  });

  test('a lockTimeoutMs that is not a number of milliseconds is INVALID_ARGUMENT', async () => {
    for (const bad of [-1, '5s', Number.NaN, 1e12]) {
      const err = await rejection(api.allocate({ serviceType: 'dev', lockTimeoutMs: bad as number, ...at() }));
      expect(err.code).toBe('INVALID_ARGUMENT');
    }
    expect(fs.existsSync(path.join(box.home, 'state.json'))).toBe(false);
  });
});

test('ABORTED has its row in the exit-code table', () => {
  expect(new api.StyxyError('ABORTED', 'x').exitCode).toBe(27);
  expect(fs.readFileSync(path.join(ROOT, 'docs', 'cli.md'), 'utf8')).toMatch(/^\| 27 \| `ABORTED` \|/m);
});

describe('the manual', () => {
  function runRecipe(): { status: number | null; stdout: string; stderr: string } {
    const dir = path.join(box.dir, 'user');
    fs.mkdirSync(path.join(dir, 'node_modules'), { recursive: true });
    if (!fs.existsSync(path.join(dir, 'node_modules', 'styxy'))) fs.symlinkSync(ROOT, path.join(dir, 'node_modules', 'styxy'));
    fs.writeFileSync(path.join(dir, 'deadline.mjs'), readmeRecipe('api-abort'));
    const r = spawnSync(process.execPath, ['deadline.mjs'], { cwd: dir, env: box.env, encoding: 'utf8' });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  test('the api-abort recipe gets its ports when the lock is free, and gives up without them while another process holds it', async () => {
    expect(runRecipe()).toEqual({ status: 0, stdout: 'web 3000, api 8000\n', stderr: '' });
    const holder = await holdLock();
    try {
      const r = runRecipe();
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/^no ports: (LOCK_TIMEOUT|ABORTED)\n$/);
    } finally {
      await letGo(holder);
    }
    expect(cliList()).toEqual([]);
  });
});
