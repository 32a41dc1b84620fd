import { spawn, spawnSync, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { BIN, ROOT, freePortBlock, rejection, sleeper, useSandbox, waitFor } from '../helpers/cli';
import { Strays, accepts, isRunning, makeUser, pythonServer, waitListening } from '../helpers/servers';

// `styxy stop`: whole trees, verified owners, never a process Styxy cannot attribute without --force.

const box = useSandbox();
const strays = new Strays();
afterEach(() => strays.killAll());

const exited = (child: ChildProcess) =>
  new Promise<void>((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve())));

/** A shell that asks Styxy for a port (it is the detected owner), then starts `server` on $PORT and waits for it. */
function askingShell(port: number, server: string, extra = ''): ChildProcess {
  const script = `eval "$(node ${BIN} allocate -s dev -n web -p ${port} ${extra} --env)" && ${server}`;
  return strays.add(spawn('sh', ['-c', script], { cwd: box.cwd, env: box.env, stdio: 'ignore' }));
}

async function listenerPid(port: number): Promise<number> {
  const r = box.run(['why', String(port), '--json']);
  return r.json.server.pid as number;
}

test('an allocation served by python3 http.server: the server the shell started is ended, then released', async () => {
  const port = await freePortBlock(1);
  const sh = askingShell(port, `/usr/bin/python3 -m http.server "$PORT" --bind 127.0.0.1`);
  await waitListening(port);
  const server = await listenerPid(port);
  expect(server).not.toBe(sh.pid);

  const dry = box.run(['stop', String(port), '--dry-run', '--json']);
  expect(dry.code).toBe(0);
  expect(dry.json).toMatchObject({ success: true, dryRun: true, stopped: [{ port, reason: 'started-by-owner', released: false }] });
  expect(dry.json.stopped[0].processes.map((p: { pid: number }) => p.pid)).toEqual([server]);
  expect(dry.json.stopped[0].processes[0].signals).toEqual([]);
  expect(await accepts(port)).toBe(true);
  expect(box.run(['list', '--json']).json.allocations).toHaveLength(1);

  const r = box.run(['stop', String(port), '--json']);
  expect(r.code).toBe(0);
  expect(r.json.stopped[0]).toMatchObject({ released: true, processes: [{ pid: server, signals: ['SIGTERM'] }] });
  expect(await accepts(port)).toBe(false);
  expect(isRunning(server)).toBe(false);
  await exited(sh); // the shell that asked ends on its own once its server has
  expect(box.run(['list', '--json']).json.allocations).toEqual([]);
});

test('a run of a shell that starts a node server that forks: run and its whole tree end, the allocation goes', async () => {
  const port = await freePortBlock(1);
  const file = path.join(box.dir, 'server.js');
  // The server forks a worker that outlives nothing: both must end.
  fs.writeFileSync(
    file,
    `const { fork } = require("child_process");
     if (process.argv[2] === "worker") setInterval(() => {}, 1000);
     else { fork(__filename, ["worker"]); require("http").createServer((q, s) => s.end("ok")).listen(Number(process.env.PORT), "127.0.0.1"); }`,
  );
  const run = strays.add(
    spawn(process.execPath, [BIN, 'run', '-s', 'dev', '-p', String(port), '--', 'sh', '-c', `node ${file} & wait`], {
      cwd: box.cwd,
      env: box.env,
      stdio: 'ignore',
    }),
  );
  await waitListening(port);
  const dry = box.run(['stop', String(port), '--dry-run', '--json']);
  const pids: number[] = dry.json.stopped[0].processes.map((p: { pid: number }) => p.pid);
  expect(dry.json.stopped[0].reason).toBe('run');
  expect(pids[0]).toBe(run.pid);
  expect(pids.length).toBeGreaterThanOrEqual(4); // run, sh, the server, its worker

  const r = box.run(['stop', String(port), '--json']);
  expect(r.code).toBe(0);
  expect(r.json.stopped[0].released).toBe(true);
  await exited(run);
  for (const pid of pids) expect(isRunning(pid)).toBe(false);
  expect(box.run(['list', '--json']).json.allocations).toEqual([]);
});

test('a process outside Styxy: FORCE_REQUIRED, nothing signalled; --force ends exactly that process', async () => {
  const port = await freePortBlock(1);
  const py = strays.add(pythonServer(port));
  await waitListening(port);
  const refused = box.run(['stop', String(port), '--json']);
  expect(refused.code).toBe(20);
  expect(refused.json).toMatchObject({ success: false, error: { code: 'FORCE_REQUIRED' } });
  expect(isRunning(py.pid!)).toBe(true);

  const forced = box.run(['stop', String(port), '--force', '--json']);
  expect(forced.code).toBe(0);
  expect(forced.json.stopped[0]).toMatchObject({ reason: 'forced', allocation: null, processes: [{ pid: py.pid }] });
  await exited(py);
});

test("another user's process needs --force too", async () => {
  const port = await freePortBlock(1);
  const user = makeUser('sxwf');
  let pid = 0;
  try {
    strays.add(pythonServer(port, { cwd: '/' }, ['runuser', '-u', user.name, '--']));
    await waitListening(port);
    pid = await listenerPid(port);
    expect(box.run(['stop', String(port), '--json']).json.error.code).toBe('FORCE_REQUIRED');
    expect(isRunning(pid)).toBe(true);
    expect(box.run(['stop', String(port), '--force', '--json']).code).toBe(0);
    await waitFor('the server to end', () => !isRunning(pid));
  } finally {
    // Only the process this test started: never every process of a user found by name.
    if (pid && isRunning(pid)) process.kill(pid, 'SIGKILL');
    user.remove();
  }
});

/** A python3 that listens on `port` and starts a `sleep`, then runs `then` (a Python statement). */
function listeningPython(port: number, then = 'signal.pause()'): string {
  return [
    'import socket, subprocess, signal, sys, json, os',
    's = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)',
    `s.bind(("127.0.0.1", ${port})); s.listen()`,
    'child = subprocess.Popen(["sleep", "300"])',
    then,
  ].join('\n');
}

test('the first process of a PID namespace: STOP_REFUSED even with --force, from the host and from inside; why does not advise --force', async () => {
  const port = await freePortBlock(1);
  const outer = strays.add(spawn('unshare', ['-fp', '--mount-proc', '--kill-child', '/usr/bin/python3', '-c', listeningPython(port)], { stdio: 'ignore' }));
  await waitListening(port);
  const pid = await listenerPid(port);
  expect(pid).not.toBe(outer.pid);
  const why = box.run(['why', String(port), '--json']).json;
  expect(JSON.stringify(why.suggestions)).not.toContain('--force');
  expect(why.summary).not.toContain('--force');

  expect(box.run(['stop', String(port), '--json']).json.error.code).toBe('FORCE_REQUIRED');
  const forced = box.run(['stop', String(port), '--force', '--grace', '1s', '--json']);
  expect(forced.code).toBe(26);
  expect(forced.json).toMatchObject({ success: false, error: { code: 'STOP_REFUSED', details: { port, reason: 'namespace-init' } } });
  // Inside the namespace it is PID 1 itself.
  const inside = spawnSync('nsenter', ['-t', String(pid), '-p', '-m', process.execPath, BIN, 'stop', String(port), '--force', '--json'], {
    cwd: box.cwd,
    env: box.env,
    encoding: 'utf8',
  });
  expect(JSON.parse(inside.stdout)).toMatchObject({ success: false, error: { code: 'STOP_REFUSED', details: { reason: 'init' } } });
  expect(isRunning(pid)).toBe(true);
  expect(isRunning(outer.pid!)).toBe(true);
  const inNamespace = spawnSync('ps', ['--ppid', String(pid), '-o', 'comm='], { encoding: 'utf8' }).stdout.trim();
  expect(inNamespace).toBe('sleep'); // every other process of the namespace still runs
});

test('a listener that is an ancestor of the caller: STOP_REFUSED with --force, its other children untouched', () => {
  // The port is the kernel's choice (bind to 0): the listener runs stop on it itself.
  const script = listeningPython(
    0,
    [
      'port = s.getsockname()[1]',
      `r = subprocess.run([${JSON.stringify(process.execPath)}, ${JSON.stringify(BIN)}, "stop", str(port), "--force", "--grace", "1s", "--json"], capture_output=True, text=True)`,
      'print(json.dumps({"code": r.returncode, "out": r.stdout, "sleepAlive": child.poll() is None}))',
      'child.kill()',
    ].join('\n'),
  );
  const r = spawnSync('/usr/bin/python3', ['-c', script], { cwd: box.cwd, env: box.env, encoding: 'utf8' });
  const seen = JSON.parse(r.stdout);
  expect(seen.code).toBe(26);
  expect(JSON.parse(seen.out)).toMatchObject({ success: false, error: { code: 'STOP_REFUSED', details: { reason: 'caller-in-tree' } } });
  expect(seen.sleepAlive).toBe(true);
});

test("a shell that named itself with --pid: stop leaves it and its jobs; --force is refused (it is the caller's own)", () => {
  const script = [
    'sleep 300 & J=$!',
    `P=$(node ${BIN} allocate -s dev -n b --pid $$ -q)`,
    `node ${BIN} stop $P --force --json`,
    `node ${BIN} stop $P --json`,
    'kill -0 $J && echo alive; kill $J',
  ].join('\n');
  const r = spawnSync('bash', ['-c', script], { cwd: box.cwd, env: box.env, encoding: 'utf8' });
  const [forced, plain, alive] = r.stdout.trim().split('\n').filter(Boolean);
  expect(JSON.parse(forced!)).toMatchObject({ success: false, error: { code: 'STOP_REFUSED', details: { reason: 'caller-in-tree' } } });
  expect(JSON.parse(plain!)).toMatchObject({ success: true, stopped: [{ reason: 'release-only', processes: [], released: true }] });
  expect(alive).toBe('alive');
});

test('a server that ignores SIGTERM gets SIGKILL after the grace', async () => {
  const port = await freePortBlock(1);
  const code = `process.on("SIGTERM", () => {}); require("http").createServer((q, s) => s.end()).listen(Number(process.env.PORT), "127.0.0.1")`;
  const sh = askingShell(port, `exec node -e '${code}'`);
  await waitListening(port);
  const r = box.run(['stop', String(port), '--grace', '1s', '--json']);
  expect(r.code).toBe(0);
  expect(r.json.stopped[0]).toMatchObject({ reason: 'owner', released: true, processes: [{ pid: sh.pid, signals: ['SIGTERM', 'SIGKILL'] }] });
  await exited(sh);
  expect(sh.signalCode).toBe('SIGKILL');
});

test('a reused PID is not signalled: an owner whose start time differs is not the owner', async () => {
  const port = await freePortBlock(1);
  const other = strays.add(sleeper());
  // An allocation of a process that has ended, whose PID now names another process.
  fs.mkdirSync(box.home, { recursive: true, mode: 0o700 });
  const allocation = {
    lockId: 'dev-web-000001',
    serviceType: 'dev',
    instanceId: 'web',
    port,
    project: box.cwd,
    owner: { kind: 'process', pid: other.pid, startTime: '1' },
    allocatedAt: new Date().toISOString(),
  };
  fs.writeFileSync(path.join(box.home, 'state.json'), JSON.stringify({ version: 1, allocations: [allocation] }), { mode: 0o600 });
  const r = box.run(['stop', 'dev-web-000001', '--json']);
  expect(r.json).toMatchObject({ success: false, error: { code: 'NOT_FOUND' } });
  expect(isRunning(other.pid)).toBe(true);
});

test('by -s/-n and by lock id; an owner named with --pid that does not listen is left running, and ended whole with --force', async () => {
  const port = await freePortBlock(2);
  const a = strays.add(sleeper());
  const b = strays.add(sleeper());
  const first = box.run(['allocate', '-s', 'dev', '-n', 'one', '-p', String(port), '--pid', String(a.pid), '--json']).json;
  box.run(['allocate', '-s', 'dev', '-n', 'two', '-p', String(port + 1), '--pid', String(b.pid), '--json']);
  const byName = box.run(['stop', '-s', 'dev', '-n', 'two', '--json']);
  expect(byName.code).toBe(0);
  expect(byName.json.stopped[0]).toMatchObject({ reason: 'release-only', processes: [], released: true });
  expect(isRunning(b.pid!)).toBe(true);
  const byId = box.run(['stop', first.lockId, '--force', '--json']);
  expect(byId.json.stopped[0]).toMatchObject({ reason: 'forced', processes: [{ pid: a.pid }], released: true });
  await exited(a);
  expect(box.run(['list', '--json']).json.allocations).toEqual([]);
});

/** Writes an allocation of `port` owned by `owner` straight into the state, as an older or adopting Styxy left it. */
function writeOwnedAllocation(lockId: string, port: number, owner: Record<string, unknown>): void {
  fs.mkdirSync(box.home, { recursive: true, mode: 0o700 });
  const allocation = {
    lockId,
    serviceType: 'dev',
    instanceId: 'web',
    port,
    project: box.cwd,
    owner: { kind: 'process', ...owner },
    allocatedAt: new Date().toISOString(),
  };
  fs.writeFileSync(path.join(box.home, 'state.json'), JSON.stringify({ version: 1, allocations: [allocation] }), { mode: 0o600 });
}

const startTimeOf = (pid: number) => fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[19];

test('an owner of another uid (one that took the port over) needs --force', async () => {
  const port = await freePortBlock(1);
  const user = makeUser('sxwf');
  let pid = 0;
  try {
    strays.add(pythonServer(port, { cwd: '/' }, ['runuser', '-u', user.name, '--']));
    await waitListening(port);
    pid = await listenerPid(port);
    writeOwnedAllocation('dev-web-000003', port, { pid, startTime: startTimeOf(pid), detected: true, adoptedAt: new Date().toISOString() });
    const r = box.run(['stop', String(port), '--json']);
    expect(r.json).toMatchObject({ success: false, error: { code: 'FORCE_REQUIRED' } });
    expect(isRunning(pid)).toBe(true);
    expect(box.run(['stop', String(port), '--force', '--json']).code).toBe(0);
    await waitFor('the server to end', () => !isRunning(pid));
  } finally {
    if (pid && isRunning(pid)) process.kill(pid, 'SIGKILL');
    user.remove();
  }
});

test('an owner recorded without a start time is unverified: FORCE_REQUIRED, nothing signalled', async () => {
  const port = await freePortBlock(1);
  const py = strays.add(pythonServer(port));
  await waitListening(port);
  writeOwnedAllocation('dev-web-000004', port, { pid: py.pid, startTime: null });
  const r = box.run(['stop', String(port), '--json']);
  expect(r.json).toMatchObject({ success: false, error: { code: 'FORCE_REQUIRED' } });
  expect(isRunning(py.pid!)).toBe(true);
});

test('bad input changes nothing: INVALID_ARGUMENT; nothing holding the port: NOT_FOUND', async () => {
  const port = await freePortBlock(1);
  expect(box.run(['stop', '--json']).json.error.code).toBe('INVALID_ARGUMENT');
  expect(box.run(['stop', '3000', '-s', 'dev', '--json']).json.error.code).toBe('INVALID_ARGUMENT');
  expect(box.run(['stop', '99999', '--json']).json.error.code).toBe('INVALID_ARGUMENT');
  expect(box.run(['stop', String(port), '--grace', 'soon', '--json']).json.error.code).toBe('INVALID_ARGUMENT');
  const none = box.run(['stop', String(port), '--json']);
  expect(none.code).toBe(8);
  expect(none.json.error.code).toBe('NOT_FOUND');
});

describe('the Node API: whoHolds and stop', () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const api = require(path.join(ROOT, 'dist', 'api.js')) as typeof import('../../types/styxy');

  test('whoHolds answers like why; stop ends and releases, or rejects with the CLI code', async () => {
    const [port, outside] = [await freePortBlock(1), await freePortBlock(1, 50001, 60000)];
    const at = { home: box.home, cwd: box.cwd };
    const owner = strays.add(sleeper());
    box.run(['allocate', '-s', 'dev', '-n', 'api', '-p', String(port), '--pid', String(owner.pid), '--label', 'agent 7']);
    expect(await api.whoHolds(port, at)).toMatchObject({ kind: 'allocation', reserved: true, allocation: { instanceId: 'api', label: 'agent 7' } });
    expect(await api.whoHolds(outside, at)).toMatchObject({ kind: 'free' });

    const dry = await api.stop(port, { ...at, dryRun: true, force: true });
    expect(dry.stopped[0]).toMatchObject({ processes: [{ pid: owner.pid, signals: [] }], released: false });
    expect(isRunning(owner.pid)).toBe(true);
    const done = await api.stop({ serviceType: 'dev', instanceId: 'api' }, { ...at, force: true });
    expect(done.stopped[0]).toMatchObject({ released: true, processes: [{ pid: owner.pid, signals: ['SIGTERM'] }] });
    await exited(owner);

    const py = strays.add(pythonServer(outside));
    await waitListening(outside);
    expect((await rejection(api.stop(outside, at))).code).toBe('FORCE_REQUIRED');
    expect(isRunning(py.pid!)).toBe(true);
    await expect(api.stop({ port: outside, lockId: 'x' } as never, at)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});

test('STOP_FAILED: a tree this user may not signal survives, and the allocation is kept', async () => {
  const user = makeUser('sxwf');
  const victim = strays.add(sleeper()); // root's
  const home = path.join(box.dir, 'user-home');
  fs.mkdirSync(home);
  spawnSync('chown', [user.name, home, box.dir, box.cwd]);
  try {
    const env = { ...box.env, STYXY_HOME: path.join(home, '.styxy'), XDG_CACHE_HOME: path.join(home, 'cache'), HOME: home };
    const as = (args: string[]) => spawnSync('runuser', ['-u', user.name, '--', process.execPath, BIN, ...args], { cwd: box.cwd, env, encoding: 'utf8' });
    const made = JSON.parse(as(['allocate', '-s', 'dev', '--pid', String(victim.pid), '--json']).stdout);
    // --force: the tree is not this caller's uid, and not the caller's to signal.
    const r = as(['stop', made.lockId, '--force', '--grace', '1s', '--json']);
    expect(r.status).toBe(21);
    expect(JSON.parse(r.stdout)).toMatchObject({ success: false, error: { code: 'STOP_FAILED' } });
    expect(isRunning(victim.pid)).toBe(true);
    expect(JSON.parse(as(['list', '--json']).stdout).allocations).toHaveLength(1);
  } finally {
    user.remove();
  }
});

test('release of a running run whose server listens warns, and says how to stop it', async () => {
  const port = await freePortBlock(1);
  const file = path.join(box.dir, 'server.js');
  fs.writeFileSync(file, 'require("http").createServer((q, s) => s.end("ok")).listen(Number(process.env.PORT), "127.0.0.1");');
  const run = strays.add(
    spawn(process.execPath, [BIN, 'run', '-s', 'dev', '-n', 'web', '-p', String(port), '--', 'node', file], { cwd: box.cwd, env: box.env, stdio: 'ignore' }),
  );
  await waitListening(port);
  const r = box.run(['release', '-s', 'dev', '-n', 'web', '--json']);
  expect(r.code).toBe(0);
  expect(r.json.released).toHaveLength(1);
  expect(r.json.warnings).toEqual([expect.stringContaining(`styxy stop ${port} --force`)]);
  expect(r.stderr).toContain(`styxy stop ${port}`);
  // What it says works: the server, then its run, end.
  expect(box.run(['stop', String(port), '--force', '--json']).code).toBe(0);
  await exited(run);

  // A run with nothing listening yet: released without a word.
  const idle = strays.add(
    spawn(process.execPath, [BIN, 'run', '-s', 'dev', '-n', 'idle', '--', 'sleep', '30'], { cwd: box.cwd, env: box.env, stdio: 'ignore' }),
  );
  await waitFor('the idle run to allocate', () => box.run(['list', '--json']).json.allocations.length === 1);
  const quiet = box.run(['release', '-s', 'dev', '-n', 'idle', '--json']);
  expect(quiet.json.warnings).toBeUndefined();
  expect(quiet.stderr).toBe('');
  idle.kill('SIGTERM');
  await exited(idle); // it releases as it ends: let it finish before the home is removed
});

test('an owner recorded in another PID namespace is not judged here: its PID is not signalled', async () => {
  const port = await freePortBlock(1);
  const local = strays.add(sleeper());
  const startTime = fs.readFileSync(`/proc/${local.pid}/stat`, 'utf8').split(') ')[1]!.split(' ')[19];
  fs.mkdirSync(box.home, { recursive: true, mode: 0o700 });
  // The same PID and start time here name another process than the owner in its own namespace.
  const allocation = {
    lockId: 'dev-web-000002',
    serviceType: 'dev',
    instanceId: 'web',
    port,
    project: box.cwd,
    owner: { kind: 'process', pid: local.pid, startTime, pidNs: '1' },
    allocatedAt: new Date().toISOString(),
  };
  fs.writeFileSync(path.join(box.home, 'state.json'), JSON.stringify({ version: 1, allocations: [allocation] }), { mode: 0o600 });
  const r = box.run(['stop', 'dev-web-000002', '--json']);
  // Judged from the host, that owner has ended (its namespace shows no such PID): the allocation is
  // dropped as such, or released with nothing signalled; either way the PID here is left alone.
  if (r.json.success) expect(r.json.stopped[0]).toMatchObject({ reason: 'release-only', processes: [] });
  else expect(r.json.error.code).toBe('NOT_FOUND');
  expect(isRunning(local.pid)).toBe(true);
});

test('-s T --all: what needs --force is listed in refused and kept; the rest is stopped', async () => {
  const [idlePort, busyPort] = [await freePortBlock(1), await freePortBlock(1, 50001, 60000)];
  const idle = box.run(['allocate', '-s', 'dev', '-n', 'idle', '-p', String(idlePort), '--persistent', '--json']).json;
  const busy = box.run(['allocate', '-s', 'dev', '-n', 'busy', '-p', String(busyPort), '--persistent', '--json']).json;
  const py = strays.add(pythonServer(busyPort)); // serves a persistent allocation: not Styxy's to attribute
  await waitListening(busyPort);
  const r = box.run(['stop', '-s', 'dev', '--all', '--json']);
  expect(r.code).toBe(0);
  expect(r.json.stopped).toEqual([expect.objectContaining({ port: idlePort, reason: 'release-only', released: true })]);
  expect(r.json.refused).toEqual([expect.objectContaining({ port: busyPort, lockId: busy.lockId, code: 'FORCE_REQUIRED' })]);
  expect(isRunning(py.pid!)).toBe(true);
  expect(box.run(['list', '--json']).json.allocations.map((a: { lockId: string }) => a.lockId)).toEqual([busy.lockId]);
  expect(idle.port).toBe(idlePort);
});

test("inside unshare -p without --mount-proc (the parent's /proc), stop signals nothing: STOP_FAILED", async () => {
  const port = await freePortBlock(1);
  const py = strays.add(pythonServer(port));
  await waitListening(port);
  const r = spawnSync('unshare', ['-fp', process.execPath, BIN, 'stop', String(port), '--force', '--json'], { cwd: box.cwd, env: box.env, encoding: 'utf8' });
  expect(r.status).toBe(21);
  expect(JSON.parse(r.stdout)).toMatchObject({ success: false, error: { code: 'STOP_FAILED', details: { signalled: [], procOfAnotherNamespace: true } } });
  expect(isRunning(py.pid!)).toBe(true);
});

test("a user stopping root's server, which /proc hides from them: FORCE_REQUIRED (exit 20), not NOT_FOUND", async () => {
  const port = await freePortBlock(1);
  const user = makeUser('sxwf');
  const py = strays.add(pythonServer(port)); // root's
  const home = path.join(box.dir, 'user-home');
  fs.mkdirSync(home);
  spawnSync('chown', [user.name, home, box.dir, box.cwd]);
  try {
    await waitListening(port);
    const env = { ...box.env, STYXY_HOME: path.join(home, '.styxy'), XDG_CACHE_HOME: path.join(home, 'cache'), HOME: home };
    const r = spawnSync('runuser', ['-u', user.name, '--', process.execPath, BIN, 'stop', String(port), '--json'], { cwd: box.cwd, env, encoding: 'utf8' });
    expect(r.status).toBe(20);
    expect(JSON.parse(r.stdout)).toMatchObject({ success: false, error: { code: 'FORCE_REQUIRED' } });
    expect(isRunning(py.pid!)).toBe(true);
  } finally {
    user.remove();
  }
});
