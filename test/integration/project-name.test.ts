import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { derivePort } from '../../lib/core/origin';
import { useSandbox } from '../helpers/cli';

// A project's `name` in its .styxy.json is its identity for derived home ports: clones anywhere,
// with any remote or none, agree; worktrees of one repository still differ. Real git
// repositories and worktrees, each "machine" a fresh STYXY_HOME.

const box = useSandbox();
const API: [number, number] = [8000, 8099];
const named = (worktree = '') => ({ repository: 'name:shop', worktree });

function git(cwd: string, ...args: string[]): void {
  execFileSync('git', ['-c', 'user.email=t@example.com', '-c', 'user.name=t', '-c', 'init.defaultBranch=main', ...args], { cwd, stdio: 'ignore' });
}

/** A repository at `rel` with a commit, the given remote (or none) and, unless told not to, a committed .styxy.json naming it `shop`. */
function repository(rel: string, remote: string | null, config: object | null = { name: 'shop' }): string {
  const dir = path.join(box.dir, rel);
  fs.mkdirSync(dir, { recursive: true });
  git(dir, 'init', '-q');
  if (remote) git(dir, 'remote', 'add', 'origin', remote);
  if (config) {
    fs.writeFileSync(path.join(dir, '.styxy.json'), JSON.stringify(config));
    git(dir, 'add', '.styxy.json');
  }
  git(dir, 'commit', '-q', '--allow-empty', '-m', 'init');
  return dir;
}

const home = (n: number) => ({ STYXY_HOME: path.join(box.dir, `home${n}`) });

function allocate(cwd: string, env: NodeJS.ProcessEnv = {}) {
  const r = box.run(['allocate', '-s', 'api', '-n', 'web', '--persistent', '--json'], { cwd, env });
  expect(r.json?.success).toBe(true);
  return r.json;
}

test('two clones with the same name, in different directories with different remotes, get the same port on two fresh homes', () => {
  const mine = repository('a/shop', 'git@github.com:me/shop-fork.git');
  const theirs = repository('b/checkout', null);
  const first = allocate(mine, home(1));
  expect(first).toMatchObject({ port: derivePort(named(), 'api', 'web', API), derivedPort: true });
  expect(allocate(theirs, home(2)).port).toBe(first.port);
  // Without the name, the two repositories are two projects: their ports come from their remotes.
  const unnamed = repository('c/shop', 'git@github.com:me/shop-fork.git', null);
  expect(allocate(unnamed, home(3)).port).toBe(derivePort({ repository: 'git:github.com/me/shop-fork', worktree: '' }, 'api', 'web', API));
});

test('two worktrees of one named repository still get different ports; a worktree of the same name in another clone gets the same', () => {
  const main = repository('a/shop', 'https://example.com/team/shop.git');
  git(main, 'worktree', 'add', '-q', '-b', 'feature', path.join(box.dir, 'a', 'feature'));
  const other = repository('b/elsewhere', null);
  git(other, 'worktree', 'add', '-q', '-b', 'feature', path.join(box.dir, 'b', 'feature'));

  const inMain = allocate(main, home(1));
  const inFeature = allocate(path.join(box.dir, 'a', 'feature'), home(1));
  expect(inMain.port).toBe(derivePort(named(), 'api', 'web', API));
  expect(inFeature.port).toBe(derivePort(named('feature'), 'api', 'web', API));
  expect(inFeature.port).not.toBe(inMain.port);
  expect(allocate(path.join(box.dir, 'b', 'feature'), home(2)).port).toBe(inFeature.port);
});

test('a named project outside git gets a derived port too; a name in a .styxy.json above the project does not count', () => {
  const plain = path.join(box.dir, 'plain');
  fs.mkdirSync(plain);
  fs.writeFileSync(path.join(plain, '.styxy.json'), JSON.stringify({ name: 'shop' }));
  expect(allocate(plain, home(1))).toMatchObject({ port: derivePort(named(), 'api', 'web', API), derivedPort: true });

  // A repository below a directory whose .styxy.json has a name: the repository's own identity.
  const inside = repository('plain/repo', 'https://example.com/team/repo.git', null);
  expect(allocate(inside, home(2)).port).toBe(derivePort({ repository: 'git:example.com/team/repo', worktree: '' }, 'api', 'web', API));
});

test('an invalid name is INVALID_CONFIG naming the file and /name, and allocates nothing', () => {
  const dir = repository('bad', null, { name: 'my shop' });
  const r = box.run(['allocate', '-s', 'api', '-n', 'web', '--persistent', '--json'], { cwd: dir });
  expect(r.code).toBe(9);
  expect(r.json.error.code).toBe('INVALID_CONFIG');
  expect(r.json.error.details.problems).toEqual([expect.objectContaining({ file: path.join(dir, '.styxy.json'), path: '/name' })]);
  expect(box.run(['list', '--json']).json.allocations).toEqual([]);
  // The same file with a valid name is accepted.
  fs.writeFileSync(path.join(dir, '.styxy.json'), JSON.stringify({ name: 'my-shop.v2' }));
  expect(allocate(dir).derivedPort).toBe(true);
});

test('a name in your own config.json is INVALID_CONFIG: it names one project', () => {
  const dir = repository('shop', null);
  expect(allocate(dir).derivedPort).toBe(true);
  box.run(['release', '-s', 'api', '-n', 'web'], { cwd: dir });
  box.writeConfig({ name: 'shop' });
  const r = box.run(['allocate', '-s', 'api', '-n', 'web', '--json'], { cwd: dir });
  expect(r.code).toBe(9);
  expect(r.json.error.code).toBe('INVALID_CONFIG');
  expect(r.json.error.details.problems).toEqual([expect.objectContaining({ path: '/name' })]);
  expect(box.run(['list', '--json']).json.allocations).toEqual([]);
});
