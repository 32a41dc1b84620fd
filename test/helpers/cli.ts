import { spawn, spawnSync, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as os from 'os';
import * as path from 'path';
import { checkOutput } from './output-schemas';

export const ROOT = path.resolve(__dirname, '..', '..');
export const BIN = path.join(ROOT, 'bin', 'styxy');

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** stdout parsed as JSON when it is one document, else undefined. */
  json: any;
}

export interface Sandbox {
  /** A directory of the test's own; removed by cleanup(). */
  dir: string;
  /** STYXY_HOME (not created: styxy creates it). */
  home: string;
  /** A project directory to run in (not a git repository). */
  cwd: string;
  env: NodeJS.ProcessEnv;
  /**
   * Runs the built CLI and waits for it. Asked for `--json`, it must print one document that
   * conforms to its command's published schema (schemas/output/, checked by output-schemas.ts):
   * anything else throws, so every test that runs a command checks its output's shape too.
   */
  run(args: string[], options?: RunOptions): RunResult;
  /** `run` without blocking the test's event loop (servers in the test can answer meanwhile); rejects on a document that fails its schema. */
  start(args: string[], options?: RunOptions): Promise<RunResult>;
  readState(): any;
  writeConfig(config: unknown): void;
  /** Writes a state of `count` persistent dev allocations in this project (ports from 10000), as styxy would find it. */
  seedAllocations(count: number): void;
  cleanup(): void;
}

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  input?: string;
}

function parse(stdout: string): any {
  try {
    return JSON.parse(stdout);
  } catch {
    return undefined;
  }
}

/**
 * Persistent allocations of `project` as Styxy writes them: the i-th of type `types[i]`, instance
 * `<prefix><i>`, lock id `<type>-<prefix><i>-000000`, on port `firstPort + i`.
 */
export function persistentAllocations(types: readonly string[], project: string, { prefix = 'a', firstPort = 10000 } = {}) {
  return types.map((serviceType, i) => ({
    lockId: `${serviceType}-${prefix}${i}-000000`,
    serviceType,
    instanceId: `${prefix}${i}`,
    port: firstPort + i,
    project,
    owner: { kind: 'persistent' as const },
    allocatedAt: '2026-01-01T00:00:00.000Z',
  }));
}

/** A fresh temporary STYXY_HOME and project directory; colour off. */
export function sandbox(): Sandbox {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'styxy-test-'));
  const home = path.join(dir, 'home');
  const cwd = path.join(dir, 'project');
  fs.mkdirSync(cwd);
  // Code caches that a Node the build made none for saves (lib/boot.ts): shared by the tests, apart from the user's.
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    STYXY_HOME: home,
    NO_COLOR: '1',
    XDG_CACHE_HOME: path.join(os.tmpdir(), 'styxy-test-code-cache'),
  };
  // A STYXY_* setting where the tests run (a test hook from lib/os/test-hooks.ts, a session, CI's
  // own switches) must not reach every CLI they start: the box sets only its home.
  for (const name of Object.keys(env)) if (name.startsWith('STYXY_') && name !== 'STYXY_HOME') delete env[name];
  // Nor the session of an agent the tests may run under: styxy would record it on every allocation.
  delete env.CLAUDE_CODE_SESSION_ID;
  delete env.CODEX_SESSION_ID;
  const box: Sandbox = {
    dir,
    home,
    cwd,
    env,
    run(args, options = {}) {
      const r = spawnSync(process.execPath, [BIN, ...args], {
        cwd: options.cwd ?? cwd,
        env: { ...env, ...options.env },
        input: options.input ?? '',
        encoding: 'utf8',
        timeout: 60_000,
      });
      checkOutput(args, r.stdout, r.status);
      return {
        code: r.status,
        signal: r.signal,
        stdout: r.stdout,
        stderr: r.stderr,
        json: parse(r.stdout),
      };
    },
    start(args, options = {}) {
      return new Promise((resolve, reject) => {
        const child = spawn(process.execPath, [BIN, ...args], {
          cwd: options.cwd ?? cwd,
          env: { ...env, ...options.env },
        });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d) => (stdout += d));
        child.stderr.on('data', (d) => (stderr += d));
        child.stdin.end(options.input ?? '');
        child.on('close', (code, signal) => {
          try {
            checkOutput(args, stdout, code);
          } catch (err) {
            return reject(err);
          }
          resolve({ code, signal, stdout, stderr, json: parse(stdout) });
        });
      });
    },
    readState() {
      return JSON.parse(fs.readFileSync(path.join(home, 'state.json'), 'utf8'));
    },
    writeConfig(config) {
      fs.mkdirSync(home, { recursive: true, mode: 0o700 });
      fs.writeFileSync(path.join(home, 'config.json'), JSON.stringify(config, null, 2), { mode: 0o600 });
    },
    seedAllocations(count) {
      const allocations = persistentAllocations(
        Array.from({ length: count }, () => 'dev'),
        cwd,
      );
      fs.mkdirSync(home, { recursive: true, mode: 0o700 });
      fs.writeFileSync(path.join(home, 'state.json'), JSON.stringify({ version: 1, allocations }), { mode: 0o600 });
    },
    cleanup() {
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  return box;
}

/**
 * The sandbox of every test in the calling file: a fresh one before each test, removed after it.
 * The object returned stands for the running test's sandbox, so a file declares it once:
 * `const box = useSandbox();`. A file's own set-up goes in a beforeEach after this call.
 */
export function useSandbox(): Sandbox {
  return useSandboxAndStrays().box;
}

/**
 * A sandbox per test, and `strays`: the PIDs of processes a test started that
 * must not outlive it, even when it fails. After each test each is killed (its process group
 * first: a detached server leads one), then the sandbox goes.
 */
export function useSandboxAndStrays(): { box: Sandbox; strays: number[] } {
  let current: Sandbox | undefined;
  const strays: number[] = [];
  beforeEach(() => {
    current = sandbox();
  });
  afterEach(() => {
    for (const pid of strays.splice(0)) {
      for (const target of [-pid, pid]) {
        try {
          process.kill(target, 'SIGKILL');
          break;
        } catch {
          /* no such group, or gone, as it should be */
        }
      }
    }
    current?.cleanup();
    current = undefined;
  });
  const box = new Proxy({} as Sandbox, {
    get(_target, key) {
      if (!current) throw new Error(`the sandbox exists only while a test runs (read: ${String(key)})`);
      return current[key as keyof Sandbox];
    },
  });
  return { box, strays };
}

/** A long-lived process to own allocations; kill it to make its owner die. */
export function sleeper(): ChildProcess & { pid: number } {
  const child = spawn('sleep', ['600'], { stdio: 'ignore' });
  return child as ChildProcess & { pid: number };
}

export function killAndWait(child: ChildProcess, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill(signal);
  });
}

/** A block of `count` consecutive ports in [low, high) on which nothing listens right now. */
export async function freePortBlock(count: number, low = 20000, high = 50000): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = low + Math.floor(Math.random() * (high - low - count));
    let ok = true;
    for (let p = base; p < base + count && ok; p++) ok = await canBind(p);
    if (ok) return base;
  }
  throw new Error('no free port block found');
}

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host: '::', ipv6Only: false }, () => server.close(() => resolve(true)));
  });
}

export function listen(port: number, host: string): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const server = net.createServer((socket) => socket.end());
    server.once('error', reject);
    server.listen({ port, host, ipv6Only: host === '::1' }, () => resolve(server));
  });
}

export function closeServer(server: net.Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Polls `probe` every 20 ms until it gives a truthy value, and resolves with that value; throws,
 * naming `what`, after `timeoutMs`.
 */
export async function waitFor<T>(
  what: string,
  probe: () => T | null | undefined | false | Promise<T | null | undefined | false>,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

/** Polls `condition` every 20 ms until it holds; throws, naming `what`, after `timeoutMs`. */
export async function until(condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  await waitFor(what, condition, timeoutMs);
}

/** The error `promise` rejects with; fails when it resolves. */
export async function rejection(promise: Promise<unknown>): Promise<any> {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  throw new Error('expected a rejection');
}

/**
 * Resolves once the clock has passed `lockId`'s lease end, read from the sandbox's state: a lease
 * has ended exactly then, so a test waits no longer than it must and no less, whatever the load.
 */
export async function leaseEnded(box: Sandbox, lockId: string): Promise<void> {
  const allocation = box.readState().allocations.find((a: { lockId: string }) => a.lockId === lockId);
  if (allocation?.owner?.kind !== 'lease') throw new Error(`${lockId} is not a lease`);
  const end = Date.parse(allocation.owner.expiresAt);
  await until(() => Date.now() > end, `the lease of ${lockId} to end`, end - Date.now() + 10_000);
}

/**
 * An environment for a styxy subprocess that creates the file `mark` when the process first
 * opens a TCP connection (a preload script that only observes): the test knows, without
 * guessing a start-up time, that the process has begun probing a port.
 */
export function markingFirstConnect(box: Sandbox, mark: string): NodeJS.ProcessEnv {
  const spy = path.join(box.dir, 'mark-first-connect.js');
  fs.writeFileSync(
    spy,
    [
      "const net = require('net');",
      "const fs = require('fs');",
      'const connect = net.Socket.prototype.connect;',
      'net.Socket.prototype.connect = function (...args) {',
      `  if (!fs.existsSync(${JSON.stringify(mark)})) fs.writeFileSync(${JSON.stringify(mark)}, String(Date.now()));`,
      '  return connect.apply(this, args);',
      '};',
      '',
    ].join('\n'),
  );
  return {
    NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --require ${spy}`.trim(),
  };
}

export function hasIPv6Loopback(): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once('error', () => resolve(false));
    server.listen({ port: 0, host: '::1' }, () => server.close(() => resolve(true)));
  });
}

/**
 * Runs `fn` with a 256 KB tmpfs mounted at `dir/tmpfs` (a disk that fills up in a test), and
 * unmounts it afterwards. Mounting needs root: elsewhere the test says so and returns.
 */
export function withTmpfs(dir: string, fn: (mount: string) => void): void {
  const mount = path.join(dir, 'tmpfs');
  fs.mkdirSync(mount);
  if (spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=256k,mode=0700', 'tmpfs', mount]).status !== 0) {
    console.warn('skipped: cannot mount a tmpfs here (needs root)');
    return;
  }
  try {
    fn(mount);
  } finally {
    spawnSync('umount', [mount]);
  }
}

/** Fills the filesystem of `mount` to the last byte with one file, and returns that file's path. */
export function fillDisk(mount: string): string {
  const filler = path.join(mount, 'filler');
  const fd = fs.openSync(filler, 'w');
  try {
    for (;;) fs.writeSync(fd, Buffer.alloc(4096, 120));
  } catch {
    /* full */
  }
  fs.closeSync(fd);
  return filler;
}
