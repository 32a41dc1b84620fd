import { execFileSync, spawn, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as path from 'path';
import { derivePort } from '../../lib/core/origin';
import { killAndWait, useSandbox, waitFor } from '../helpers/cli';

const box = useSandbox();
const servers: ChildProcess[] = [];
afterEach(async () => {
  for (const child of servers.splice(0)) await killAndWait(child);
});

const REMOTE = 'https://example.com/Team/shop.git';
const shop = { repository: 'git:example.com/team/shop', worktree: '' };
const API: [number, number] = [8000, 8099];

function git(cwd: string, ...args: string[]): void {
  execFileSync('git', ['-c', 'user.email=t@example.com', '-c', 'user.name=t', '-c', 'init.defaultBranch=main', ...args], { cwd, stdio: 'ignore' });
}

/** A repository with a commit (a worktree needs one) and, unless told otherwise, the shop remote. */
function repository(name: string, remote: string | null = REMOTE): string {
  const dir = path.join(box.dir, name);
  fs.mkdirSync(dir);
  git(dir, 'init', '-q');
  if (remote) git(dir, 'remote', 'add', 'origin', remote);
  git(dir, 'commit', '-q', '--allow-empty', '-m', 'init');
  return dir;
}

/** A second machine's Styxy: a fresh home of its own. */
const otherHome = () => ({ STYXY_HOME: path.join(box.dir, 'home2') });

function allocate(cwd: string, env: NodeJS.ProcessEnv = {}, ...extra: string[]) {
  const r = box.run(['allocate', '-s', 'api', '-n', 'web', '--persistent', '--json', ...extra], { cwd, env });
  expect(r.json?.success).toBe(true);
  return r.json;
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

test('two fresh homes give a service of the same repository the same derived port, wherever it is checked out', () => {
  const here = repository('shop');
  const first = allocate(here);
  expect(first).toMatchObject({ port: derivePort(shop, 'api', 'web', API), derivedPort: true });
  // Another checkout of the same remote (a teammate's machine: another path, another home).
  const there = repository('elsewhere', 'git@example.com:team/shop');
  expect(allocate(there, otherHome()).port).toBe(first.port);
  // From a directory inside the repository, too.
  fs.mkdirSync(path.join(here, 'src'));
  expect(allocate(path.join(here, 'src'), { STYXY_HOME: path.join(box.dir, 'home3') }).port).toBe(first.port);
});

test('a linked worktree gets a port of its own, the same in every home', () => {
  const main = repository('shop');
  git(main, 'worktree', 'add', '-q', '-b', 'feature', path.join(box.dir, 'feature'));
  const worktree = path.join(box.dir, 'feature');
  const inWorktree = allocate(worktree);
  expect(inWorktree.port).toBe(derivePort({ ...shop, worktree: 'feature' }, 'api', 'web', API));
  expect(inWorktree.port).not.toBe(allocate(main).port);
  expect(allocate(worktree, otherHome()).port).toBe(inWorktree.port);
});

test("a project's preferred ports and --port still come first", () => {
  const here = repository('shop');
  fs.writeFileSync(path.join(here, '.styxy.json'), JSON.stringify({ service_types: { api: { preferred_ports: [8090] } } }));
  expect(allocate(here).port).toBe(8090);
  const other = repository('other');
  expect(allocate(other, {}, '--port', '8077').port).toBe(8077);
});

test('a derived port something else listens on: both homes probe onward to the same next port', async () => {
  const here = repository('shop');
  const derived = derivePort(shop, 'api', 'web', API);
  servers.push(spawn('python3', ['-m', 'http.server', String(derived), '--bind', '127.0.0.1'], { stdio: 'ignore' }));
  await waitFor('python to listen', () => accepts(derived));
  const next = derived === API[1] ? API[0] : derived + 1;
  const a = allocate(here);
  expect(a.port).toBe(next);
  expect(a.derivedPort).toBeUndefined();
  expect(allocate(here, otherHome()).port).toBe(next);
});

test('a repository without a remote is named by its path: the same port from two homes on this machine', () => {
  const here = repository('local', null);
  const port = allocate(here).port;
  expect(port).toBe(derivePort({ repository: `path:${here}`, worktree: '' }, 'api', 'web', API));
  expect(allocate(here, otherHome()).port).toBe(port);
});

test('outside a repository nothing is derived: the range is searched as before', () => {
  expect(allocate(box.cwd)).toMatchObject({ port: 8000 });
});

test("a stack's services get their derived ports: another clone in a fresh home starts them on the same ports", () => {
  const services = {
    api: { type: 'api', command: 'exec python3 -m http.server "$PORT" --bind 127.0.0.1' },
    worker: { type: 'api', command: 'exec python3 -m http.server "$PORT" --bind 127.0.0.1' },
  };
  const up = (dir: string, env: NodeJS.ProcessEnv = {}) => {
    fs.writeFileSync(path.join(dir, '.styxy.json'), JSON.stringify({ services }));
    const r = box.run(['up', '--detach', '--json'], { cwd: dir, env });
    expect(r.json?.success).toBe(true);
    const ports = Object.fromEntries(r.json.services.map((s: { name: string; port: number }) => [s.name, s.port]));
    expect(box.run(['down', '--json'], { cwd: dir, env }).json?.success).toBe(true);
    return ports;
  };
  const here = up(repository('shop'));
  expect(here).toEqual({ api: derivePort(shop, 'api', 'api', API), worker: derivePort(shop, 'api', 'worker', API) });
  expect(up(repository('elsewhere', 'git@example.com:team/shop'), otherHome())).toEqual(here);
});
