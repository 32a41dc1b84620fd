import { execFileSync, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { BIN, useSandbox } from '../helpers/cli';

// The files behind a derived port (.git, commondir, config) are in the checked-out tree, which
// anyone may have shaped. Whatever they are, allocate answers, without a derived port.
const box = useSandbox();

const REMOTE_CONFIG = '[remote "origin"]\n\turl = https://example.com/team/shop.git\n';

function git(cwd: string, ...args: string[]): void {
  execFileSync('git', ['-c', 'user.email=t@example.com', '-c', 'user.name=t', '-c', 'init.defaultBranch=main', ...args], { cwd, stdio: 'ignore' });
}

function project(name: string): string {
  const dir = path.join(box.dir, name);
  fs.mkdirSync(dir);
  return dir;
}

/** A sticky allocation there, in a child with its own deadline: a read that blocks fails the test rather than hanging it. */
function allocate(cwd: string) {
  const r = spawnSync(process.execPath, [BIN, 'allocate', '-s', 'api', '-n', 'web', '--persistent', '--json'], {
    cwd,
    env: box.env,
    encoding: 'utf8',
    timeout: 20_000,
    maxBuffer: 1024 * 1024,
  });
  expect(r.signal).toBeNull();
  const json = JSON.parse(r.stdout);
  expect(json.success).toBe(true);
  return json;
}

test('a real repository still gets its derived port (the control)', () => {
  const dir = project('shop');
  git(dir, 'init', '-q');
  git(dir, 'remote', 'add', 'origin', 'https://example.com/team/shop.git');
  expect(allocate(dir).derivedPort).toBe(true);
});

test('.git leading to /dev/zero: no identity, and no endless read', () => {
  const dir = project('zero');
  fs.symlinkSync('/dev/zero', path.join(dir, '.git'));
  expect(allocate(dir).derivedPort).toBeFalsy();
});

test('.git a FIFO: no identity, and no wait for a writer', () => {
  const dir = project('fifo');
  execFileSync('mkfifo', [path.join(dir, '.git')]);
  expect(allocate(dir).derivedPort).toBeFalsy();
});

test("a worktree's commondir a FIFO: no identity", () => {
  const dir = project('wt');
  const gitDir = path.join(box.dir, 'gitdir');
  fs.mkdirSync(gitDir);
  fs.writeFileSync(path.join(gitDir, 'HEAD'), 'ref: refs/heads/main\n');
  execFileSync('mkfifo', [path.join(gitDir, 'commondir')]);
  fs.writeFileSync(path.join(dir, '.git'), `gitdir: ${gitDir}\n`);
  expect(allocate(dir).derivedPort).toBeFalsy();
});

test('the config a FIFO: no identity', () => {
  const dir = project('cfg-fifo');
  git(dir, 'init', '-q');
  fs.rmSync(path.join(dir, '.git', 'config'));
  execFileSync('mkfifo', [path.join(dir, '.git', 'config')]);
  expect(allocate(dir).derivedPort).toBeFalsy();
});

test('a config over 1 MB (the remote at its start): not read, no identity', () => {
  const dir = project('big');
  git(dir, 'init', '-q');
  const config = path.join(dir, '.git', 'config');
  fs.writeFileSync(config, REMOTE_CONFIG);
  fs.truncateSync(config, 2 * 1024 * 1024);
  expect(allocate(dir).derivedPort).toBeFalsy();
});

test('.git over 4 kB: not read, no identity', () => {
  const dir = project('big-pointer');
  const gitDir = path.join(box.dir, 'real');
  git(box.dir, 'init', '-q', 'real');
  git(gitDir, 'remote', 'add', 'origin', 'https://example.com/team/shop.git');
  fs.writeFileSync(path.join(dir, '.git'), `gitdir: ${path.join(gitDir, '.git')}\n${'#'.repeat(8192)}\n`);
  expect(allocate(dir).derivedPort).toBeFalsy();
});

test('gitdir: pointing at a directory that is no git directory (it has a config with a remote): no identity', () => {
  const dir = project('pointer');
  const elsewhere = path.join(box.dir, 'etc');
  fs.mkdirSync(elsewhere);
  fs.writeFileSync(path.join(elsewhere, 'config'), REMOTE_CONFIG);
  fs.writeFileSync(path.join(dir, '.git'), `gitdir: ${elsewhere}\n`);
  expect(allocate(dir).derivedPort).toBeFalsy();
});
