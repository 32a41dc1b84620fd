import { spawn, spawnSync, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as path from 'path';
import { BIN, freePortBlock, hasIPv6Loopback, killAndWait, sandbox, sleeper, type Sandbox, waitFor } from '../helpers/cli';

/**
 * Who owns a port, and for how long: real callers, real wrappers, real servers on 127.0.0.1.
 * Every test runs in a fresh STYXY_HOME with `styxy` on the PATH; the reservation grace is set
 * short through the config wherever a test waits for it to end.
 */

let box: Sandbox;
let env: NodeJS.ProcessEnv;
const children: ChildProcess[] = [];
/** PIDs of servers the tests did not start themselves (a script's background job). */
const strays: number[] = [];
beforeEach(() => {
  box = sandbox();
  const binDir = path.join(box.dir, 'bin');
  fs.mkdirSync(binDir);
  fs.symlinkSync(BIN, path.join(binDir, 'styxy'));
  env = { ...box.env, PATH: `${binDir}:${process.env.PATH}`, STYXY_BIN: path.join(binDir, 'styxy') };
});
afterEach(async () => {
  for (const child of children.splice(0)) await killAndWait(child);
  for (const pid of strays.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  box.cleanup();
});

const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const styxy = (args: string[]) => box.run(args, { env });
const allocations = () => styxy(['list', '--json']).json.allocations as Array<Record<string, any>>;
const audit = () => styxy(['audit', '--limit', '0', '--json']).json.events as Array<Record<string, any>>;

function track<T extends ChildProcess>(child: T): T {
  children.push(child);
  return child;
}

/** Starts a long-lived process and resolves with its first line of output. */
function startWithLine(file: string, args: string[], options: { cwd?: string } = {}): Promise<{ child: ChildProcess; line: string }> {
  const child = track(spawn(file, args, { cwd: options.cwd ?? box.cwd, env, stdio: ['pipe', 'pipe', 'inherit'] }));
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
      const nl = out.indexOf('\n');
      if (nl !== -1) resolve({ child, line: out.slice(0, nl) });
    });
    child.once('exit', (code) => reject(new Error(`${file} exited (${code}) before printing: ${out}`)));
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => resolve(!!socket.destroy()));
    socket.once('error', () => resolve(false));
  });
}

/** Python's http.server on 127.0.0.1:port, as users run it. */
function pythonServer(port: number): ChildProcess {
  return track(spawn('python3', ['-m', 'http.server', '--bind', '127.0.0.1', String(port)], { cwd: box.dir, stdio: 'ignore' }));
}

describe('the listener takes over', () => {
  test('kill -9 of styxy run: the orphaned server keeps its port and the type stays single; when it ends, the type is free', async () => {
    const base = await freePortBlock(3);
    box.writeConfig({ service_types: { ai: { port_range: [base, base + 2], instance_behavior: 'single' } } });
    const run = track(
      spawn(process.execPath, [BIN, 'run', '-s', 'ai', '-n', 'rag', '--', 'python3', '-m', 'http.server', '--bind', '127.0.0.1', '{port}'], {
        cwd: box.cwd,
        env,
        stdio: 'ignore',
      }),
    );
    await waitFor('the RAG server to listen', () => canConnect(base));
    const [held] = allocations();
    expect(held).toMatchObject({ port: base, owner: { pid: run.pid } });
    await killAndWait(run, 'SIGKILL');
    expect(await canConnect(base)).toBe(true); // the orphan serves on

    const next = styxy(['allocate', '-s', 'ai', '--json']).json;
    expect(next).toMatchObject({ success: true, existing: true, port: base, lockId: held!.lockId, pruned: 0 });
    const orphanPid = next.existingPid as number;
    strays.push(orphanPid);
    expect(orphanPid).not.toBe(run.pid);
    expect(fs.readFileSync(`/proc/${orphanPid}/cmdline`, 'utf8')).toContain('http.server');
    expect(next.owner).toMatchObject({ kind: 'process', pid: orphanPid, adoptedAt: expect.any(String) });
    // list -v and check show the new owner; the audit log says what happened.
    expect(styxy(['list', '-v']).stdout).toMatch(new RegExp(`PID ${orphanPid} .*took over`));
    expect(styxy(['check', String(base), '--json']).json.allocation.owner.pid).toBe(orphanPid);
    expect(styxy(['check', String(base)]).stdout).toContain(`Owner: PID ${orphanPid}`);
    expect(audit().filter((e) => e.action === 'adopt')).toEqual([
      expect.objectContaining({ lockId: held!.lockId, port: base, ownerPid: orphanPid, previousPid: run.pid }),
    ]);

    process.kill(orphanPid, 'SIGTERM');
    await waitFor('the orphan to end', async () => !(await canConnect(base)) && !fs.existsSync(`/proc/${orphanPid}/cmdline`));
    const fresh = styxy(['allocate', '-s', 'ai', '--json']).json;
    expect(fresh).toMatchObject({ success: true, existing: false, pruned: 1 });
    expect(fresh.lockId).not.toBe(held!.lockId);
  });

  test('a script that evals --env, starts its server with & and exits: the port is the server’s, no one else’s, until it ends', async () => {
    const base = await freePortBlock(2);
    box.writeConfig({ service_types: { web: { port_range: [base, base + 1] } } });
    const script = path.join(box.dir, 'start.sh');
    fs.writeFileSync(
      script,
      '#!/bin/sh\nset -e\neval "$(styxy allocate -s web -n site --env)"\npython3 -m http.server --bind 127.0.0.1 "$PORT" >/dev/null 2>&1 &\necho "$! $PORT"\n',
      { mode: 0o755 },
    );
    const r = spawnSync(script, [], { cwd: box.cwd, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    expect(r.status).toBe(0);
    const [serverPid, port] = r.stdout.trim().split(' ').map(Number) as [number, number];
    strays.push(serverPid);
    expect(port).toBe(base);

    // Another caller right away: the script's shell is gone, the server may not listen yet.
    expect(styxy(['allocate', '-s', 'web', '-q']).stdout.trim()).toBe(String(base + 1));
    await waitFor('the server to listen', () => canConnect(port));
    // The range is full: the script's port is never handed to anyone else.
    expect(styxy(['allocate', '-s', 'web', '--json']).json.error.code).toBe('RANGE_EXHAUSTED');
    const site = allocations().find((a) => a.instanceId === 'site');
    expect(site).toMatchObject({ port, owner: { pid: serverPid, adoptedAt: expect.any(String) } });

    process.kill(serverPid, 'SIGTERM');
    await waitFor('the server to end', async () => !(await canConnect(port)) && !fs.existsSync(`/proc/${serverPid}/cmdline`));
    expect(allocations().map((a) => a.port)).toEqual([base + 1]);
    expect(
      audit()
        .filter((e) => e.lockId === site!.lockId)
        .map((e) => e.action),
    ).toEqual(expect.arrayContaining(['allocate', 'adopt', 'prune']));
  });
});

test('a server on ::1 takes over too', async () => {
  if (!(await hasIPv6Loopback())) return console.warn('skipped: no IPv6 loopback here');
  const port = Number(spawnSync('sh', ['-c', 'styxy allocate -s dev -n six -q; true'], { cwd: box.cwd, env, encoding: 'utf8' }).stdout);
  const server = track(
    spawn(
      process.execPath,
      ['-e', `require('net').createServer((s) => s.end()).listen({ port: ${port}, host: '::1', ipv6Only: true }, () => console.log('up'))`],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    ),
  );
  await new Promise((r) => server.stdout!.once('data', r));
  expect(allocations().find((a) => a.port === port)?.owner).toMatchObject({ pid: server.pid, adoptedAt: expect.any(String) });
  await killAndWait(server);
  expect(allocations().some((a) => a.port === port)).toBe(false);
});

describe('wrappers that only run styxy are not owners', () => {
  const callers: [string, () => boolean, (styxyLine: string) => [string, string[]]][] = [
    [
      'Node execSync',
      () => true,
      (line) => [
        process.execPath,
        ['-e', `process.stdout.write(require('child_process').execSync(${JSON.stringify(line)}).toString().trim() + '\\n'); process.stdin.resume()`],
      ],
    ],
    [
      'Node execSync of cd DIR && styxy',
      () => true,
      (line) => [
        process.execPath,
        [
          '-e',
          `process.stdout.write(require('child_process').execSync(${JSON.stringify(`cd . && ${line}`)}).toString().trim() + '\\n'); process.stdin.resume()`,
        ],
      ],
    ],
    [
      'Python subprocess.run(shell=True)',
      () => has('python3'),
      (line) => [
        'python3',
        [
          '-c',
          `import subprocess,sys\nprint(subprocess.run(${JSON.stringify(line)}, shell=True, capture_output=True, text=True).stdout.strip(), flush=True)\nsys.stdin.read()`,
        ],
      ],
    ],
    [
      'timeout',
      () => has('timeout') && has('python3'),
      (line) => [
        'python3',
        [
          '-c',
          `import subprocess,sys\nprint(subprocess.run(['timeout', '30'] + ${JSON.stringify(line.split(' '))}, capture_output=True, text=True).stdout.strip(), flush=True)\nsys.stdin.read()`,
        ],
      ],
    ],
    // A login shell may reset PATH (/etc/profile), so the agent names styxy by its path.
    [
      'an agent’s bash -lc',
      () => true,
      (line) => [
        process.execPath,
        [
          '-e',
          `const r = require('child_process').spawnSync('bash', ['-lc', ${JSON.stringify(line)}.replace(/^styxy/, process.env.STYXY_BIN)], { encoding: 'utf8' }); console.log(r.stdout.trim()); process.stdin.resume()`,
        ],
      ],
    ],
    [
      'flock',
      () => has('flock') && has('python3'),
      (line) => [
        'python3',
        [
          '-c',
          `import subprocess,sys\nprint(subprocess.run(['flock', 'styxy.flock'] + ${JSON.stringify(line.split(' '))}, capture_output=True, text=True).stdout.strip(), flush=True)\nsys.stdin.read()`,
        ],
      ],
    ],
  ];

  test.each(callers)('%s: the long-lived caller owns it, other callers’ calls keep it, no port twice', async (name, available, command) => {
    if (!available()) return console.warn(`skipped: ${name} is not available here`);
    const held: { child: ChildProcess; port: number }[] = [];
    for (let i = 0; i < 3; i++) {
      const [file, args] = command('styxy allocate -s dev --json');
      const { child, line } = await startWithLine(file, args);
      const answer = JSON.parse(line);
      expect(answer.owner).toMatchObject({ kind: 'process', pid: child.pid, detected: true });
      held.push({ child, port: answer.port });
      // Other callers, in between: each call prunes what is dead, and must not touch these.
      styxy(['list', '--json']);
    }
    const others = [0, 1, 2].map(() => Number(styxy(['allocate', '-s', 'dev', '-q']).stdout));
    const ports = [...held.map((h) => h.port), ...others];
    expect(new Set(ports).size).toBe(ports.length);
    const live = allocations();
    for (const h of held) expect(live).toContainEqual(expect.objectContaining({ port: h.port, owner: expect.objectContaining({ pid: h.child.pid }) }));
    expect(live.every((a) => a.owner.reservedUntil === undefined)).toBe(true);
  });
});

test('a make recipe: make is the owner, whether it runs the line itself or through sh -c', () => {
  if (!has('make')) return console.warn('skipped: make is not installed');
  fs.writeFileSync(path.join(box.cwd, 'Makefile'), 'direct:\n\t@styxy allocate -s dev --json\nshell:\n\t@styxy allocate -s dev --json > port.json\n');
  const direct = spawnSync('make', ['-s', 'direct'], { cwd: box.cwd, env, encoding: 'utf8' });
  expect(JSON.parse(direct.stdout).owner.command).toBe('make -s direct');
  expect(spawnSync('make', ['-s', 'shell'], { cwd: box.cwd, env }).status).toBe(0);
  expect(JSON.parse(fs.readFileSync(path.join(box.cwd, 'port.json'), 'utf8')).owner.command).toBe('make -s shell');
});

describe('one shell per command', () => {
  test('the agent pattern: allocate in one shell, another caller, a server on the port, ask again', async () => {
    const first = spawnSync('bash', ['-c', 'p=$(styxy allocate -s dev -n web -q); echo $p'], { cwd: box.cwd, env, encoding: 'utf8' });
    const p = Number(first.stdout.trim());
    expect(p).toBeGreaterThanOrEqual(3000);
    // The shell has ended. Another caller gets another port.
    const other = Number(styxy(['allocate', '-s', 'dev', '-q']).stdout);
    expect(other).not.toBe(p);
    expect(allocations().find((a) => a.port === p)?.owner).toMatchObject({ reservedUntil: expect.any(String) });
    // The next command starts the server on $p (PORT=$p npm run dev &, here Python's).
    const server = pythonServer(p);
    await waitFor('the server to listen', () => canConnect(p));
    const again = styxy(['allocate', '-s', 'dev', '-n', 'web', '--json']).json;
    expect(again).toMatchObject({ port: p, reused: true, owner: { pid: server.pid } });
    await killAndWait(server, 'SIGTERM');
    expect(allocations().map((a) => a.port)).toEqual([other]);
  });

  test('a reservation ends after the grace; its own caller claims it in time', async () => {
    // A grace of 4 s: long enough for the three calls below on a loaded machine (at 1 s, one slow
    // call let the first reservation lapse before the second was made), short enough to wait out.
    styxy(['config', 'set', 'lifetime.reservation-grace-seconds', '4']);
    const once = (id: string) => Number(spawnSync('sh', ['-c', `styxy allocate -s dev -n ${id} -q; true`], { cwd: box.cwd, env, encoding: 'utf8' }).stdout);
    const lapsed = once('lapsed');
    const claimed = once('claimed');
    expect(allocations().map((a) => a.owner.reservedUntil)).toEqual([expect.any(String), expect.any(String)]);
    // The caller comes back within the grace: the allocation is handed to it.
    const back = styxy(['allocate', '-s', 'dev', '-n', 'claimed', '--json']).json;
    expect(back).toMatchObject({ port: claimed, reused: true, ownerChange: 'hand-over', owner: { pid: process.pid, detected: true } });
    expect(back.owner.reservedUntil).toBeUndefined();
    await waitFor('the reservation to end', () => !allocations().some((a) => a.port === lapsed), 20_000);
    expect(audit().find((e) => e.action === 'prune' && e.port === lapsed)).toMatchObject({ reason: 'reservation over' });
    expect(allocations().map((a) => a.port)).toEqual([claimed]);
  });

  test('a --pid owner that ends takes its allocation with it: no grace', async () => {
    const owner = sleeper();
    styxy(['allocate', '-s', 'dev', '--pid', String(owner.pid), '-q']);
    await killAndWait(owner);
    expect(styxy(['list', '--json']).json).toMatchObject({ allocations: [], pruned: 1 });
  });
});

describe('direnv', () => {
  test('an allocation made in .envrc belongs to the interactive shell that loaded it', async () => {
    if (!has('direnv')) return console.warn('skipped: direnv is not installed (apt-get install direnv)');
    const home = path.join(box.dir, 'user');
    const project = path.join(box.dir, 'app');
    fs.mkdirSync(home);
    fs.mkdirSync(project);
    const recipe = readmeRecipeFor('direnv');
    fs.writeFileSync(path.join(project, '.envrc'), recipe);
    const userEnv = {
      ...env,
      HOME: home,
      XDG_DATA_HOME: path.join(home, 'data'),
      XDG_CONFIG_HOME: path.join(home, 'config'),
      XDG_CACHE_HOME: path.join(home, 'cache'),
    };
    expect(spawnSync('direnv', ['allow', project], { env: userEnv }).status).toBe(0);
    // An interactive bash with direnv's hook, as ~/.bashrc sets it up; it cd's into the project.
    const shell = track(spawn('bash', ['--norc', '--noprofile', '-i'], { cwd: home, env: userEnv, stdio: ['pipe', 'pipe', 'pipe'] }));
    let out = '';
    shell.stdout!.on('data', (d) => (out += d));
    shell.stdin!.write(`eval "$(direnv hook bash)"\ncd ${JSON.stringify(project)}\necho "port=$PORT shell=$$"\n`);
    const match = await waitFor('the shell to load .envrc', () => /port=(\d+) shell=(\d+)/.exec(out));
    const [port, shellPid] = [Number(match![1]), Number(match![2])];
    expect(port).toBeGreaterThanOrEqual(3000);
    expect(shellPid).toBe(shell.pid);
    const owned = () => allocations().find((a) => a.port === port);
    expect(owned()).toMatchObject({ instanceId: 'web', project: fs.realpathSync(project), owner: { pid: shell.pid, detected: true } });
    // Other callers' calls leave it; another prompt re-evaluates nothing and keeps the port.
    expect(Number(styxy(['allocate', '-s', 'dev', '-q']).stdout)).not.toBe(port);
    expect(owned()?.owner.pid).toBe(shell.pid);
    shell.stdin!.end('exit\n');
    await new Promise((r) => shell.once('exit', r));
    expect(owned()?.owner).toMatchObject({ pid: shell.pid, reservedUntil: expect.any(String) });
  });
});

describe('hand-over and renewal on a sticky re-allocation', () => {
  test('--pid N hands it to N, and it ends with N', async () => {
    const first = styxy(['allocate', '-s', 'api', '-n', 'bg', '--json']).json;
    const bg = sleeper();
    const handed = styxy(['allocate', '-s', 'api', '-n', 'bg', '--pid', String(bg.pid), '--json']).json;
    expect(handed).toMatchObject({
      port: first.port,
      lockId: first.lockId,
      reused: true,
      ownerChange: 'hand-over',
      owner: { pid: bg.pid },
      previousOwner: { pid: process.pid },
    });
    expect(handed.owner.detected).toBeUndefined();
    expect(styxy(['allocate', '-s', 'api', '-n', 'bg', '--pid', String(bg.pid)]).stdout).toContain(`Reusing port ${first.port}`);
    expect(allocations()).toEqual([expect.objectContaining({ lockId: first.lockId, owner: expect.objectContaining({ pid: bg.pid }) })]);
    expect(audit().filter((e) => e.action === 'hand-over')).toEqual([
      expect.objectContaining({ lockId: first.lockId, from: expect.objectContaining({ pid: process.pid }), to: expect.objectContaining({ pid: bg.pid }) }),
    ]);
    await killAndWait(bg);
    expect(styxy(['list', '--json']).json).toMatchObject({ allocations: [], pruned: 1 });
  });

  test('--ttl renews the lease from now; --persistent makes it persistent; a plain re-ask keeps it', () => {
    const lease = styxy(['allocate', '-s', 'api', '-n', 'job', '--ttl', '1h', '--json']).json;
    const before = Date.now();
    const renewed = styxy(['allocate', '-s', 'api', '-n', 'job', '--ttl', '3h', '--json']).json;
    expect(renewed).toMatchObject({ port: lease.port, reused: true, ownerChange: 'renew', owner: { kind: 'lease' } });
    const expires = Date.parse(renewed.owner.expiresAt);
    expect(expires).toBeGreaterThanOrEqual(before + 3 * 3_600_000 - 1000);
    expect(expires).toBeLessThanOrEqual(Date.now() + 3 * 3_600_000);
    expect(styxy(['allocate', '-s', 'api', '-n', 'job', '--ttl', '2h']).stdout).toContain('lease renewed until');
    const persisted = styxy(['allocate', '-s', 'api', '-n', 'job', '--persistent', '--json']).json;
    expect(persisted).toMatchObject({ port: lease.port, ownerChange: 'persist', owner: { kind: 'persistent' } });
    const plain = styxy(['allocate', '-s', 'api', '-n', 'job', '--json']).json;
    expect(plain).toMatchObject({ reused: true, owner: { kind: 'persistent' } });
    expect(plain.ownerChange).toBeUndefined();
    expect(audit().map((e) => e.action)).toEqual(['allocate', 'renew', 'renew', 'persist']);
  });
});

describe('boot ids', () => {
  test('each owner records the boot; an owner from another boot is dead, one without a boot id is judged as before', () => {
    const bootId = fs.existsSync('/proc/sys/kernel/random/boot_id') ? fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim() : undefined;
    const a = styxy(['allocate', '-s', 'dev', '--json']).json;
    if (bootId) expect(a.owner.bootId).toBe(bootId);
    // The same live process, recorded in another boot, and recorded by an older Styxy.
    const live = { kind: 'process', pid: process.pid, startTime: a.owner.startTime };
    const entry = (port: number, owner: object) => ({
      lockId: `dev-b${port}-000000`,
      serviceType: 'dev',
      instanceId: `b${port}`,
      port,
      project: box.cwd,
      owner,
      allocatedAt: new Date().toISOString(),
    });
    fs.writeFileSync(
      path.join(box.home, 'state.json'),
      JSON.stringify({ version: 1, allocations: [entry(3050, { ...live, bootId: 'another-boot' }), entry(3051, live)] }),
    );
    const list = styxy(['list', '--json']).json;
    expect(list.allocations.map((x: { port: number }) => x.port)).toEqual(bootId ? [3051] : [3050, 3051]);
  });
});

function readmeRecipeFor(name: string): string {
  return (require('../helpers/readme') as typeof import('../helpers/readme')).readmeRecipe(name);
}

describe('the grace setting', () => {
  test('is set with config set and checked by the schema; bad values change nothing', () => {
    expect(styxy(['config', 'set', 'lifetime.reservation-grace-seconds', '5', '--json']).json).toMatchObject({ success: true });
    expect(styxy(['config', 'show', '--json']).json.config.lifetime).toEqual({ reservation_grace_seconds: 5 });
    const before = fs.readFileSync(path.join(box.home, 'config.json'), 'utf8');
    for (const bad of ['soon', '-1', '86401']) {
      const r = styxy(['config', 'set', 'lifetime.reservation-grace-seconds', bad, '--json']);
      expect(r.json.error.code).toBe('INVALID_ARGUMENT');
      expect(r.code).toBe(3);
    }
    expect(fs.readFileSync(path.join(box.home, 'config.json'), 'utf8')).toBe(before);
    box.writeConfig({ lifetime: { reservation_grace_seconds: -1 } });
    expect(styxy(['allocate', '-s', 'dev', '--json']).json.error.code).toBe('INVALID_CONFIG');
    box.writeConfig({ lifetime: { grace: 1 } });
    expect(styxy(['allocate', '-s', 'dev', '--json']).json.error.code).toBe('INVALID_CONFIG');
  });
});
