import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { BIN, freePortBlock, killAndWait, sleep, until, useSandbox } from '../helpers/cli';
import { readmeRecipe } from '../helpers/readme';

/** The README's recipes, each run as printed (see test/helpers/readme.ts). */

const box = useSandbox();
let binDir: string;
let env: NodeJS.ProcessEnv;
beforeEach(() => {
  // `styxy` on the PATH, as an installed styxy is.
  binDir = path.join(box.dir, 'bin');
  fs.mkdirSync(binDir);
  fs.symlinkSync(BIN, path.join(binDir, 'styxy'));
  env = { ...box.env, PATH: `${binDir}:${process.env.PATH}`, npm_config_update_notifier: 'false', npm_config_loglevel: 'silent', npm_config_fund: 'false' };
});

const running = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const allocations = () => box.run(['list', '--json']).json.allocations as Array<Record<string, any>>;

function write(file: string, text: string, mode = 0o644): string {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text, { mode });
  return file;
}

/** A server stand-in: reports the port it was given (PORT or --port N), listens, and stops on SIGTERM. */
const SERVER = `
const fs = require('fs');
const flag = process.argv.indexOf('--port');
const port = Number(flag === -1 ? process.env.PORT : process.argv[flag + 1]);
require('net').createServer((s) => s.end()).listen(port, '127.0.0.1', () => {
  console.log('listening on ' + port);
  if (process.env.ONCE) process.exit(0);
});
process.on('SIGTERM', () => process.exit(0));
`;

test('an npm script: npm run dev gets a port in PORT and frees it when the server stops', () => {
  const scripts = JSON.parse(readmeRecipe('npm-scripts')).scripts;
  write(path.join(box.cwd, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true, scripts }));
  write(path.join(box.cwd, 'server.js'), SERVER);
  // vite stand-in in node_modules/.bin, where npm finds a locally installed vite.
  write(path.join(box.cwd, 'node_modules', '.bin', 'vite'), `#!/usr/bin/env node\n${SERVER}`, 0o755);

  const dev = spawnSync('npm', ['run', '--silent', 'dev'], { cwd: box.cwd, env: { ...env, ONCE: '1' }, encoding: 'utf8' });
  expect(dev.status).toBe(0);
  const port = Number(/listening on (\d+)/.exec(dev.stdout)?.[1]);
  expect(port).toBeGreaterThanOrEqual(3000);
  expect(port).toBeLessThanOrEqual(3099);
  expect(allocations()).toEqual([]);

  const vite = spawnSync('npm', ['run', '--silent', 'dev:vite'], { cwd: box.cwd, env: { ...env, ONCE: '1' }, encoding: 'utf8' });
  expect(vite.status).toBe(0);
  expect(vite.stdout).toMatch(/listening on 30\d\d/);
  expect(allocations()).toEqual([]);
  const audit = box.run(['audit', '--json']).json.events.map((e: { action: string; instanceId?: string }) => `${e.action}:${e.instanceId}`);
  expect(audit).toEqual(['allocate:web', 'release:web', 'allocate:vite', 'release:vite']);
});

test('a post-checkout hook: each worktree gets its own port, the same after every checkout', () => {
  const repo = path.join(box.dir, 'repo');
  fs.mkdirSync(repo);
  const git = (args: string[], cwd = repo) => {
    const r = spawnSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', '-c', 'init.defaultBranch=main', ...args], {
      cwd,
      env,
      encoding: 'utf8',
    });
    expect(r.status).toBe(0);
    return r;
  };
  git(['init', '-q']);
  write(path.join(repo, '.gitignore'), '.env.local\n');
  git(['add', '.gitignore']);
  git(['commit', '-q', '-m', 'init']);
  write(path.join(repo, '.git', 'hooks', 'post-checkout'), readmeRecipe('post-checkout'), 0o755);

  const portIn = (dir: string) => Number(/^PORT=(\d+)$/m.exec(fs.readFileSync(path.join(dir, '.env.local'), 'utf8'))?.[1]);
  git(['checkout', '-q', '-b', 'feature']);
  const mainPort = portIn(repo);
  const tree = path.join(box.dir, 'repo-wt');
  git(['worktree', 'add', '-q', tree, '-b', 'other']);
  const treePort = portIn(tree);
  expect(mainPort).toBeGreaterThanOrEqual(3000);
  expect(treePort).toBeGreaterThanOrEqual(3000);
  expect(treePort).not.toBe(mainPort);

  // Sticky: more checkouts, in both worktrees, keep each one's port.
  git(['checkout', '-q', 'main']);
  git(['checkout', '-q', 'feature'], repo);
  git(['checkout', '-q', '-b', 'third'], tree);
  expect(portIn(repo)).toBe(mainPort);
  expect(portIn(tree)).toBe(treePort);
  const held = allocations();
  expect(held.map((a) => [a.port, a.project, a.owner.kind]).sort()).toEqual(
    [
      [mainPort, fs.realpathSync(repo), 'persistent'],
      [treePort, fs.realpathSync(tree), 'persistent'],
    ].sort(),
  );
  // The hook's port is the service's: run -s dev -n web in the worktree gets the same one.
  const run = spawnSync('styxy', ['run', '-s', 'dev', '-n', 'web', '--', 'sh', '-c', 'echo "port $PORT"'], { cwd: tree, env, encoding: 'utf8' });
  expect([run.status, run.stdout.trim()]).toEqual([0, `port ${treePort}`]);
  // A removed worktree's port is freed by the hook's cleanup --gone at the next checkout; the
  // other worktree keeps its own.
  git(['worktree', 'remove', tree]);
  expect(allocations()).toHaveLength(2);
  git(['checkout', '-q', 'main']);
  expect(allocations().map((a) => [a.port, a.project])).toEqual([[mainPort, fs.realpathSync(repo)]]);
  expect(portIn(repo)).toBe(mainPort);
});

describe('a start script with set -e', () => {
  test('gets the port, says it, and execs the server, which then owns the allocation', async () => {
    const script = write(path.join(box.cwd, 'start-api.sh'), readmeRecipe('start-script'), 0o755);
    write(path.join(box.cwd, 'server.js'), SERVER);
    const child = spawn('sh', [script], { cwd: box.cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    for (let i = 0; i < 400 && !/listening on/.test(out); i++) await sleep(25);
    const port = Number(/api on port (\d+)/.exec(out)?.[1]);
    expect(out).toContain(`listening on ${port}`);
    expect(allocations()).toEqual([
      expect.objectContaining({ port, serviceType: 'api', instanceId: 'backend', owner: expect.objectContaining({ pid: child.pid }) }),
    ]);
    await killAndWait(child, 'SIGTERM');
    // Styxy cannot tell a server that has stopped from one about to start: the port stays
    // reserved for the grace (for this script's next run), then goes.
    expect(allocations()).toEqual([expect.objectContaining({ port, owner: expect.objectContaining({ pid: child.pid, reservedUntil: expect.any(String) }) })]);
  });

  test('stops with Styxy’s exit status, and starts nothing, when no port can be had', async () => {
    const base = await freePortBlock(1);
    box.writeConfig({ service_types: { api: { port_range: [base, base] } } });
    expect(box.run(['allocate', '-s', 'api', '-n', 'other', '--persistent', '-q']).code).toBe(0);
    const script = write(path.join(box.cwd, 'start-api.sh'), readmeRecipe('start-script'), 0o755);
    write(path.join(box.cwd, 'server.js'), "require('fs').writeFileSync('STARTED', '')");
    const r = spawnSync('sh', [script], { cwd: box.cwd, env, encoding: 'utf8' });
    expect(r.status).toBe(5);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('No free port');
    expect(fs.existsSync(path.join(box.cwd, 'STARTED'))).toBe(false);
  });
});

test('docker compose: the dotenv file gives compose the port', () => {
  if (!has('docker-compose')) return console.warn('skipped: docker-compose is not installed (apt-get install docker-compose)');
  write(path.join(box.cwd, 'docker-compose.yml'), readmeRecipe('compose-file'));
  // A `docker` stand-in: `docker compose ARGS up -d` becomes `docker-compose ARGS config`, so
  // the real compose parser reads the env file and resolves the file without a daemon.
  write(
    path.join(binDir, 'docker'),
    '#!/bin/sh\n[ "$1" = compose ] || exit 99\nshift\nargs=""\nfor a in "$@"; do [ "$a" = up ] && break; args="$args $a"; done\nexec docker-compose $args config > compose-resolved.yml\n',
    0o755,
  );
  const r = spawnSync('sh', ['-e', '-c', readmeRecipe('compose')], { cwd: box.cwd, env, encoding: 'utf8' });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  const [held] = allocations();
  expect(held).toMatchObject({ serviceType: 'api', instanceId: 'compose', owner: { kind: 'persistent' } });
  const resolved = fs.readFileSync(path.join(box.cwd, 'compose-resolved.yml'), 'utf8');
  expect(resolved).toMatch(new RegExp(`published: ${held!.port}\\b`));
  expect(resolved).toMatch(/target: 8080/);
});

test('single instance with run: the first agent starts the server, the second starts nothing and exits 0', async () => {
  const base = await freePortBlock(2);
  box.writeConfig({ service_types: { ai: { port_range: [base, base + 1], instance_behavior: 'single' } } });
  const line = readmeRecipe('single-instance-run').trim();
  expect(line).toContain('-- python -m rag_service');
  // python stand-in: a node server that takes --port N.
  const server = write(path.join(box.dir, 'rag_server.js'), SERVER);
  const command = line.replace('python -m rag_service', `node ${server}`);
  // `exec`, so that the signal below reaches styxy run itself, as it would in a terminal.
  const first = spawn('sh', ['-c', `exec ${command}`], { cwd: box.cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  first.stdout!.on('data', (d) => (out += d));
  for (let i = 0; i < 400 && !/listening on/.test(out); i++) await sleep(25);
  expect(out).toBe(`listening on ${base}\n`);
  const second = spawnSync('sh', ['-c', command], { cwd: box.cwd, env, encoding: 'utf8' });
  expect(second.status).toBe(0);
  expect(second.stdout).toBe('');
  expect(second.stderr).toContain(`is already running on port ${base}`);
  await killAndWait(first, 'SIGTERM');
  expect(allocations()).toEqual([]);
});

describe('coding agents: one shell per command', () => {
  /** The recipe's commands, each to run in a fresh shell as an agent does. */
  const commands = (name: string) =>
    readmeRecipe(name)
      .split('\n')
      .filter((line) => line.trim() !== '' && !line.startsWith('#'));
  const canConnect = (port: number) =>
    new Promise<boolean>((resolve) => {
      const socket = require('net').connect({ port, host: '127.0.0.1' });
      socket.once('connect', () => resolve(!!socket.destroy()));
      socket.once('error', () => resolve(false));
    });
  const inFreshShell = (line: string) => spawnSync('sh', ['-c', line], { cwd: box.cwd, env, encoding: 'utf8' });
  const ancestry = (pid: number): number[] => {
    const chain = [pid];
    while (chain.length < 64) {
      const ppid = Number(
        fs
          .readFileSync(`/proc/${chain[chain.length - 1]}/stat`, 'utf8')
          .split(') ')[1]!
          .split(' ')[1],
      );
      if (!(ppid > 1)) break;
      chain.push(ppid);
    }
    return chain;
  };
  const logSays = async (text: string) => {
    const log = path.join(box.cwd, 'dev.log');
    for (let i = 0; i < 800 && !(fs.existsSync(log) && fs.readFileSync(log, 'utf8').includes(text)); i++) await sleep(25);
    expect(fs.readFileSync(log, 'utf8')).toContain(text);
  };
  const serverPid = (port: number): number => box.run(['check', String(port), '--json']).json.listeners[0].pid;
  beforeEach(() => {
    write(path.join(box.cwd, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', private: true, scripts: { dev: 'node server.js' } }));
    write(path.join(box.cwd, 'server.js'), SERVER);
  });

  test('the two-call pattern: the port waits between the shells, the server takes it, asking again gets it', async () => {
    const [take, start, again] = commands('coding-agents') as [string, string, string];
    const first = inFreshShell(take);
    expect(first.status).toBe(0);
    const port = Number(first.stdout.trim());
    expect(port).toBeGreaterThanOrEqual(3000);
    // Someone else asks in between: another port.
    expect(Number(box.run(['allocate', '-s', 'dev', '-q']).stdout)).not.toBe(port);
    expect(inFreshShell(start).status).toBe(0);
    // The server says so once its listen callback runs, which may be after it accepts.
    await logSays(`listening on ${port}`);
    const pid = serverPid(port);
    try {
      expect(Number(inFreshShell(again).stdout)).toBe(port);
      // `sh -c` with one styxy command is passed over, so the agent (this test) owns the port;
      // were it gone, the server (or the npm that runs it) would have taken the port over.
      const owner = allocations().find((a) => a.port === port)!;
      expect(owner.instanceId).toBe('web');
      expect([process.pid, ...ancestry(pid)]).toContain(owner.owner.pid);
    } finally {
      process.kill(pid, 'SIGTERM');
    }
  });

  test('styxy run in the background owns the port while the server runs', async () => {
    const [line] = commands('coding-agents-run') as [string];
    expect(inFreshShell(line).status).toBe(0);
    let held: Record<string, any> | undefined;
    for (let i = 0; i < 400 && !(held && (await canConnect(held.port))); i++) {
      held = allocations()[0];
      await sleep(25);
    }
    const pid = serverPid(held!.port);
    try {
      expect(held).toMatchObject({ instanceId: 'web', owner: { command: expect.stringContaining('styxy') } });
      await logSays(`listening on ${held!.port}`);
    } finally {
      process.kill(held!.owner.pid, 'SIGTERM');
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        /* run's own stop ended it */
      }
      // run releases as it ends: the home must not be removed under it.
      await until(() => !running(held!.owner.pid), 'styxy run to end');
    }
  });
});

test("the README's everyday use runs as printed: each line succeeds and the named port is freed", () => {
  write(path.join(box.cwd, 'server.js'), SERVER);
  // Each line as printed, in one shell that stops at the first failure.
  const r = spawnSync('sh', ['-e', '-c', readmeRecipe('everyday')], { cwd: box.cwd, env: { ...env, ONCE: '1' }, encoding: 'utf8' });
  expect(r.stderr).not.toMatch(/error/i);
  expect(r.status).toBe(0);
  const lines = r.stdout.split('\n');
  expect(lines[0]).toMatch(/Allocated port 30\d\d for dev/);
  expect(lines[1]).toMatch(/^80\d\d$/);
  expect(r.stdout).toMatch(/listening on 30\d\d/);
  // The allocate -s dev belonged to that shell, which has ended; backend was released by name.
  expect(allocations().filter((a) => a.instanceId === 'backend')).toEqual([]);
});
