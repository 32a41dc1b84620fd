import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { BIN, freePortBlock, useSandbox, waitFor } from '../helpers/cli';
import { Strays, makeUser, pythonServer, waitListening } from '../helpers/servers';

// `styxy why <port>`: each kind of holder, from real processes, with its exit status.

const box = useSandbox();
const strays = new Strays();
afterEach(() => strays.killAll());

test('nothing: free, exit 0; after a release, the cool-down and the home port are named', async () => {
  const port = await freePortBlock(1);
  const free = box.run(['why', String(port), '--json']);
  expect(free.code).toBe(0);
  expect(free.json).toMatchObject({ success: true, kind: 'free', port, listening: false });

  const a = box.run(['allocate', '-s', 'dev', '-n', 'web', '-p', String(port), '--persistent', '--json']);
  expect(a.json.port).toBe(port);
  box.run(['release', a.json.lockId]);
  const after = box.run(['why', String(port), '--json']);
  expect(after.code).toBe(0);
  expect(after.json).toMatchObject({ kind: 'free', coolingDown: { serviceType: 'dev', instanceId: 'web' }, homeOf: { instanceId: 'web' } });
  expect(box.run(['why', String(port)]).stdout).toMatch(/cooling down/);
});

test('a Styxy allocation served by a real python3 http.server: owner, server, listening; exit 40', async () => {
  const port = await freePortBlock(1);
  // The shell asks, then becomes the server: the owner is the server's own process.
  const sh = strays.add(
    spawn('sh', ['-c', `eval "$(node ${BIN} allocate -s dev -n web -p ${port} --env)" && exec /usr/bin/python3 -m http.server "$PORT" --bind 127.0.0.1`], {
      cwd: box.cwd,
      env: box.env,
      stdio: 'ignore',
    }),
  );
  await waitListening(port);
  const r = box.run(['why', String(port), '--json']);
  expect(r.code).toBe(40);
  expect(r.json).toMatchObject({
    success: true,
    kind: 'allocation',
    listening: true,
    reserved: false,
    allocation: { serviceType: 'dev', instanceId: 'web', port },
  });
  expect(r.json.server).toMatchObject({ pid: sh.pid, command: expect.stringContaining('http.server'), cwd: box.cwd });
  expect(r.json.owner).toMatchObject({ pid: sh.pid });
  expect(r.json.url).toBe(`http://localhost:${port}`);
  expect(
    box
      .run(['why', String(port)])
      .stdout.trim()
      .split('\n'),
  ).toHaveLength(1);
});

test('a run of a shell that starts a node server: the server named, not run; exit 40', async () => {
  const port = await freePortBlock(1);
  const server = path.join(box.dir, 'server.js');
  fs.writeFileSync(server, 'require("http").createServer((q, s) => s.end("ok")).listen(Number(process.env.PORT), "127.0.0.1");');
  const run = strays.add(
    spawn(process.execPath, [BIN, 'run', '-s', 'dev', '-p', String(port), '--', 'sh', '-c', `node ${server} & wait`], {
      cwd: box.cwd,
      env: box.env,
      stdio: 'ignore',
    }),
  );
  await waitListening(port);
  const r = box.run(['why', String(port), '--json']);
  expect(r.code).toBe(40);
  expect(r.json.allocation.owner).toMatchObject({ pid: run.pid, via: 'run' });
  expect(r.json.server.command).toBe(`node ${server}`);
  expect(r.json.server.pid).not.toBe(run.pid);
  expect(r.json.summary).toContain(`served by PID ${r.json.server.pid} (node ${server})`);
  run.kill('SIGTERM');
  await waitFor('run to end', () => run.exitCode !== null || run.signalCode !== null);
});

test('a process outside Styxy: PID, user, command, cwd; exit 41', async () => {
  const port = await freePortBlock(1);
  const py = strays.add(pythonServer(port, { cwd: box.dir }));
  await waitListening(port);
  const r = box.run(['why', String(port), '--json']);
  expect(r.code).toBe(41);
  expect(r.json).toMatchObject({ success: true, kind: 'process', server: { pid: py.pid, uid: 0, user: 'root', cwd: box.dir } });
  expect(r.json.server.command).toContain('http.server');
  expect(r.json.suggestions).toContain(`styxy stop ${port} --force`);
});

test("a container's port proxy is named as such; exit 42", async () => {
  const port = await freePortBlock(1);
  const proxy = path.join(box.dir, 'docker-proxy');
  fs.symlinkSync(process.execPath, proxy);
  const code = `require("net").createServer().listen(${port}, "127.0.0.1")`;
  const child = strays.add(spawn(proxy, ['-e', code, '--', '-container-ip', '172.17.0.2', '-container-port', '80'], { stdio: 'ignore' }));
  await waitListening(port);
  const r = box.run(['why', String(port), '--json']);
  expect(r.code).toBe(42);
  expect(r.json).toMatchObject({
    kind: 'container',
    container: { proxy: 'docker-proxy', containerIp: '172.17.0.2', containerPort: 80 },
    server: { pid: child.pid },
  });
  // Stopping it is not Styxy's to decide: the container engine's proxy needs --force like any outsider.
  expect(box.run(['stop', String(port), '--json']).json.error.code).toBe('FORCE_REQUIRED');
  expect(child.exitCode).toBeNull();
});

test("another user's process; exit 43", async () => {
  const port = await freePortBlock(1);
  const user = makeUser();
  try {
    strays.add(pythonServer(port, { cwd: '/' }, ['runuser', '-u', user.name, '--']));
    await waitListening(port);
    const r = box.run(['why', String(port), '--json']);
    expect(r.code).toBe(43);
    expect(r.json).toMatchObject({ kind: 'other-user', uid: user.uid, server: { user: user.name } });
  } finally {
    spawnSync('pkill', ['-KILL', '-u', user.name]);
    user.remove();
  }
});

test('a process in another PID namespace: the host sees it there; inside, a host server cannot be seen (exit 44)', async () => {
  const [inner, outer] = [await freePortBlock(1), await freePortBlock(1, 50001, 60000)];
  strays.add(pythonServer(inner, {}, ['unshare', '-fp', '--mount-proc', '--kill-child']));
  strays.add(pythonServer(outer));
  await waitListening(inner);
  await waitListening(outer);
  const host = box.run(['why', String(inner), '--json']);
  expect(host.code).toBe(41);
  expect(host.json).toMatchObject({ kind: 'process', otherPidNamespace: true });

  const inside = spawnSync('unshare', ['-fp', '--mount-proc', process.execPath, BIN, 'why', String(outer), '--json'], { env: box.env, encoding: 'utf8' });
  expect(inside.status).toBe(44);
  expect(JSON.parse(inside.stdout)).toMatchObject({ success: true, kind: 'unknown', uid: 0 });
});

test('a bad port is INVALID_ARGUMENT, as JSON', () => {
  const r = box.run(['why', '70000', '--json']);
  expect(r.code).toBe(3);
  expect(r.json).toMatchObject({ success: false, error: { code: 'INVALID_ARGUMENT' } });
});

test('run whose command fails because its port was taken meanwhile prints the why line', async () => {
  const portFile = path.join(box.dir, 'port');
  const go = path.join(box.dir, 'go');
  // The command says its port, waits until the test has taken that port, then tries to serve on it.
  const script = `echo "$PORT" > ${portFile}; while [ ! -e ${go} ]; do sleep 0.05; done; exec /usr/bin/python3 -m http.server "$PORT" --bind 127.0.0.1`;
  const run = box.start(['run', '-s', 'dev', '--', 'sh', '-c', script]);
  const port = await waitFor('the port', () => fs.existsSync(portFile) && Number(fs.readFileSync(portFile, 'utf8').trim()));
  const squatter = strays.add(pythonServer(port, { cwd: box.dir }));
  await waitListening(port);
  fs.writeFileSync(go, '');
  const r = await run;
  expect(r.code).not.toBe(0);
  expect(r.stderr).toContain(
    `port ${port} is held by another process, which is likely why the command failed: Port ${port} is held outside Styxy by PID ${squatter.pid}`,
  );
});

test("seen by another user, root's server is no more than the OS shows: its socket's uid; exit 43", async () => {
  const port = await freePortBlock(1);
  const user = makeUser();
  const home = path.join(box.dir, 'user-home');
  fs.mkdirSync(home);
  spawnSync('chown', [user.name, home]);
  fs.chmodSync(box.dir, 0o711); // the user reaches its home through the sandbox
  try {
    strays.add(pythonServer(port));
    await waitListening(port);
    const env = { ...box.env, STYXY_HOME: path.join(home, '.styxy'), XDG_CACHE_HOME: path.join(home, 'cache'), HOME: home };
    const r = spawnSync('runuser', ['-u', user.name, '--', process.execPath, BIN, 'why', String(port), '--json'], { cwd: '/', env, encoding: 'utf8' });
    expect(r.status).toBe(43);
    const json = JSON.parse(r.stdout);
    expect(json).toMatchObject({ success: true, kind: 'other-user', uid: 0, user: 'root' });
    expect(json.server).toBeUndefined(); // its process, behind another user's /proc/PID/fd, is not seen
  } finally {
    user.remove();
  }
});
