import { spawn, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { BIN, closeServer, listen, sandbox, sleep, sleeper, until, waitFor, type Sandbox } from '../helpers/cli';

let box: Sandbox;
beforeEach(() => {
  box = sandbox();
});
afterEach(() => box.cleanup());

const NODE = process.execPath;

/** A node script in the sandbox; returns its path. */
function script(name: string, source: string): string {
  const file = path.join(box.dir, name);
  fs.writeFileSync(file, source);
  return file;
}

/** Starts `styxy run ...` as a real process; resolves with its status when it ends. */
function startRun(args: string[]): {
  proc: ChildProcess;
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
} {
  const proc = spawn(NODE, [BIN, 'run', ...args], { cwd: box.cwd, env: box.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  proc.stdout!.on('data', (d) => (stdout += d));
  proc.stderr!.on('data', (d) => (stderr += d));
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve) =>
    // 'exit', not 'close': a command that outlives run (run SIGKILLed) keeps the pipes open.
    proc.on('exit', (code, signal) => resolve({ code, signal, stdout, stderr })),
  );
  return { proc, done };
}

async function waitForFile(file: string, timeoutMs = 20_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (fs.existsSync(file) && fs.readFileSync(file, 'utf8').length > 0) return fs.readFileSync(file, 'utf8');
    await sleep(20);
  }
  throw new Error(`${file} never appeared`);
}

const allocations = () => box.run(['list', '--json']).json.allocations;

describe('styxy run', () => {
  test('the command gets PORT and the STYXY_* variables, and the port is released when it ends', () => {
    const dump = script(
      'dump.js',
      'process.stdout.write(JSON.stringify(Object.fromEntries(Object.entries(process.env).filter(([k]) => k === "PORT" || k.startsWith("STYXY_")))))',
    );
    const r = box.run(['run', '-s', 'dev', '-n', 'web', '--', NODE, dump]);
    expect(r.code).toBe(0);
    const env = JSON.parse(r.stdout);
    expect(Number(env.PORT)).toBeGreaterThanOrEqual(3000);
    expect(Number(env.PORT)).toBeLessThanOrEqual(3099);
    expect(env).toMatchObject({ STYXY_PORT: env.PORT, STYXY_SERVICE_TYPE: 'dev', STYXY_INSTANCE_ID: 'web', STYXY_EXISTING: '0' });
    expect(env.STYXY_LOCK_ID).toMatch(/^dev-web-/);
    expect(allocations()).toEqual([]);
    const audit = box.run(['audit', '--json']).json.events.map((e: { action: string; lockId: string }) => [e.action, e.lockId]);
    expect(audit).toEqual([
      ['allocate', env.STYXY_LOCK_ID],
      ['release', env.STYXY_LOCK_ID],
    ]);
  });

  test('while the command runs, run itself owns the allocation', async () => {
    const marker = path.join(box.dir, 'started');
    const hold = script('hold.js', `require("fs").writeFileSync(${JSON.stringify(marker)}, process.env.PORT); setTimeout(() => {}, 60000);`);
    const { proc, done } = startRun(['-s', 'dev', '--', NODE, hold]);
    const port = Number(await waitForFile(marker));
    const live = allocations();
    expect(live).toHaveLength(1);
    expect(live[0]).toMatchObject({ port, owner: { kind: 'process', pid: proc.pid } });
    proc.kill('SIGTERM');
    expect((await done).code).toBe(143);
    expect(allocations()).toEqual([]);
  });

  test('{port} in arguments is replaced, --port-flag appends the flag and the port, --env-name renames PORT', () => {
    const args = script('args.js', 'console.log(JSON.stringify({ argv: process.argv.slice(2), vite: process.env.VITE_PORT, port: process.env.PORT ?? null }))');
    const spaced = JSON.parse(
      box.run(['run', '-s', 'dev', '--env-name', 'VITE_PORT', '--port-flag', '--port', '--', NODE, args, 'http://127.0.0.1:{port}/', 'x{port}y{port}']).stdout,
    );
    const p = spaced.vite;
    expect(spaced).toEqual({ argv: [`http://127.0.0.1:${p}/`, `x${p}y${p}`, '--port', p], vite: p, port: null });
    const glued = JSON.parse(box.run(['run', '-s', 'dev', '--port-flag=--port=', '--', NODE, args]).stdout);
    expect(glued.argv).toEqual([`--port=${glued.port}`]);
  });

  test.each([
    ['exits 0', 'process.exit(0)', 0],
    ['exits 7', 'process.exit(7)', 7],
    ['throws (a crash)', 'throw new Error("boom")', 1],
    ['is killed by SIGSEGV', 'process.kill(process.pid, "SIGSEGV")', 139],
    ['is killed by SIGKILL', 'process.kill(process.pid, "SIGKILL")', 137],
  ])('a command that %s: run exits with its status and releases the port', (_what, body, status) => {
    const r = box.run(['run', '-s', 'dev', '--', NODE, '-e', body]);
    expect(r.code).toBe(status);
    expect(allocations()).toEqual([]);
    expect(box.readState().allocations).toEqual([]);
  });

  test.each(['SIGINT', 'SIGTERM', 'SIGHUP'] as const)('%s sent to run reaches the command; run exits with its status and releases', async (signal) => {
    const got = path.join(box.dir, 'got');
    const ready = path.join(box.dir, 'ready');
    const trap = script(
      'trap.js',
      `const fs = require("fs");
       for (const s of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(s, () => { fs.writeFileSync(${JSON.stringify(got)}, s); process.exit(42); });
       fs.writeFileSync(${JSON.stringify(ready)}, "1");
       setTimeout(() => {}, 60000);`,
    );
    const { proc, done } = startRun(['-s', 'dev', '--', NODE, trap]);
    await waitForFile(ready);
    proc.kill(signal);
    const r = await done;
    expect(fs.readFileSync(got, 'utf8')).toBe(signal);
    expect(r.code).toBe(42);
    expect(allocations()).toEqual([]);
  });

  test('a command that dies of the forwarded signal: run exits 128 + its number', async () => {
    const ready = path.join(box.dir, 'ready');
    const { proc, done } = startRun(['-s', 'dev', '--', 'sh', '-c', `echo $$ > ${ready}; exec sleep 60`]);
    const sh = Number(await waitForFile(ready));
    // The signal is for sleep, once sh has exec'd it.
    await until(() => fs.readlinkSync(`/proc/${sh}/exe`).endsWith('/sleep'), 'sh to exec sleep');
    proc.kill('SIGHUP');
    expect((await done).code).toBe(129);
    expect(allocations()).toEqual([]);
  });

  test('a command that cannot be found exits 127, says so, and releases', () => {
    const r = box.run(['run', '-s', 'dev', '--', 'styxy-no-such-command']);
    expect(r.code).toBe(127);
    expect(r.stderr).toContain('cannot start "styxy-no-such-command": command not found');
    expect(box.readState().allocations).toEqual([]);
  });

  test('a single-instance type that already serves: nothing is started, run says where it is and exits 0', async () => {
    const owner = sleeper();
    const first = box.run(['allocate', '-s', 'ai', '-n', 'rag', '--pid', String(owner.pid), '--json']).json;
    const server = await listen(first.port, '127.0.0.1');
    try {
      const marker = path.join(box.dir, 'started');
      const r = box.run(['run', '-s', 'ai', '-n', 'rag2', '--', 'touch', marker]);
      expect(r.code).toBe(0);
      expect(fs.existsSync(marker)).toBe(false);
      // The listener is this test process; the owner is the sleeper.
      expect(r.stderr).toContain(`'rag' is already running on port ${first.port} (PID ${process.pid})`);
      expect(allocations()).toHaveLength(1);
    } finally {
      await closeServer(server);
      owner.kill('SIGKILL');
    }
  });

  test('a single-instance type whose owner does not listen yet: the command runs on its port, the allocation stays as it was', () => {
    const owner = sleeper();
    try {
      const first = box.run(['allocate', '-s', 'ai', '-n', 'rag', '--pid', String(owner.pid), '--json']).json;
      const before = box.readState().allocations;
      const r = box.run(['run', '-s', 'ai', '-n', 'rag2', '--', 'sh', '-c', 'echo $PORT']);
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(`${first.port}\n`);
      expect(box.readState().allocations).toEqual(before);
      expect(box.run(['audit', '--json']).json.events.map((e: { action: string }) => e.action)).toEqual(['allocate']);
    } finally {
      owner.kill('SIGKILL');
    }
  });

  test('run SIGKILLed: its allocation is kept for the command it left running, and freed by the next call once that has ended', async () => {
    const marker = path.join(box.dir, 'started');
    const { proc, done } = startRun(['-s', 'dev', '--', 'sh', '-c', `echo $$ > ${marker}; exec sleep 60`]);
    const childPid = Number(await waitForFile(marker));
    expect(allocations()).toHaveLength(1);
    proc.kill('SIGKILL');
    await done;
    try {
      // Its command may be a server still starting: the port stays reserved for it.
      expect(box.run(['list', '--json']).json).toMatchObject({
        allocations: [expect.objectContaining({ owner: expect.objectContaining({ reservedUntil: expect.any(String) }) })],
      });
    } finally {
      process.kill(childPid, 'SIGKILL');
    }
    await waitFor('the command to end', () => !fs.existsSync(`/proc/${childPid}`) || /\) Z/.test(fs.readFileSync(`/proc/${childPid}/stat`, 'utf8')));
    expect(box.run(['list', '--json']).json).toMatchObject({ allocations: [], pruned: 1 });
  });

  test('bad input is refused before anything starts or is written: exit 125, the code in --json', () => {
    const marker = path.join(box.dir, 'started');
    for (const [argv, code] of [
      [['run', '-s', 'dev'], 'USAGE'],
      [['run', '-s', 'dev', '--'], 'USAGE'],
      [['run', '-s', 'dev', '--port-flag'], 'USAGE'],
      [['run', '-s', 'dev', '--port-flag', 'port', '--', 'touch', marker], 'INVALID_ARGUMENT'],
      [['run', '-s', 'dev', '--env-name', 'A-B', '--', 'touch', marker], 'INVALID_ARGUMENT'],
      [['run', '-s', '$(id)', '--', 'touch', marker], 'INVALID_ARGUMENT'],
      [['run', '-s', 'dev', '-p', '70000', '--', 'touch', marker], 'INVALID_ARGUMENT'],
    ] as const) {
      const r = box.run(['run', '--json', ...argv.slice(1)]);
      expect([argv, r.code, r.json?.error?.code]).toEqual([argv, 125, code]);
    }
    expect(fs.existsSync(marker)).toBe(false);
    expect(fs.existsSync(path.join(box.home, 'state.json'))).toBe(false);
  });

  test('the command keeps the terminal streams: stdin reaches it', () => {
    const r = box.run(['run', '-s', 'dev', '--', 'sh', '-c', 'read line; echo "got $line"'], { input: 'hello\n' });
    expect(r.stdout).toBe('got hello\n');
  });
});
