import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { sandbox, type Sandbox } from '../helpers/cli';

// A symbolic link planted in $STYXY_HOME must never make Styxy remove, rotate or read a file
// outside it.

let box: Sandbox;
beforeEach(() => {
  box = sandbox();
});
afterEach(() => box.cleanup());

describe('nothing is removed, rotated or read through a symlink', () => {
  const deadPid = () => spawnSync('true').pid as number;

  test('backups/ as a symlink to another directory: config changes refused with UNSAFE_HOME, that directory untouched', () => {
    const other = path.join(box.dir, 'other');
    fs.mkdirSync(other);
    for (let n = 10; n < 22; n++) fs.writeFileSync(path.join(other, `config.json.2020-01-${n}`), `keep ${n}`);
    box.writeConfig({ auto_allocation: { gap_size: 4 } });
    const config = fs.readFileSync(path.join(box.home, 'config.json'), 'utf8');
    fs.symlinkSync(other, path.join(box.home, 'backups'));
    const before = fs.readdirSync(other).sort();
    for (const args of [
      ['config', 'set', 'auto-allocation.gap-size', '5', '--json'],
      ['allocate', '-s', 'grafana', '--json'],
    ]) {
      const r = box.run(args);
      expect({ args, code: r.code, error: r.json.error?.code }).toEqual({ args, code: 11, error: 'UNSAFE_HOME' });
      expect(r.json.error.message).toContain(path.join(box.home, 'backups'));
    }
    expect(fs.readdirSync(other).sort()).toEqual(before);
    expect(fs.readFileSync(path.join(box.home, 'config.json'), 'utf8')).toBe(config);
  });

  test("a dead caller's lock leftover planted as a symlink to a directory: UNSAFE_HOME, nothing in it removed", () => {
    box.run(['list']);
    const other = path.join(box.dir, 'other');
    fs.mkdirSync(other);
    fs.writeFileSync(path.join(other, 'holder'), 'x');
    fs.writeFileSync(path.join(other, 'precious.txt'), 'x');
    const link = path.join(box.home, `state.json.lock.old-${deadPid()}-abcd`);
    fs.symlinkSync(other, link);
    const r = box.run(['allocate', '-s', 'dev', '--json']);
    expect(r.code).toBe(11);
    expect(r.json.error.code).toBe('UNSAFE_HOME');
    expect(r.json.error.message).toContain(link);
    expect(fs.readdirSync(other).sort()).toEqual(['holder', 'precious.txt']);
    // A real leftover directory is still swept.
    fs.unlinkSync(link);
    const real = path.join(box.home, `state.json.lock.new-${deadPid()}-abcd`);
    fs.mkdirSync(real);
    fs.writeFileSync(path.join(real, 'holder'), 'x');
    expect(box.run(['allocate', '-s', 'dev', '--json']).code).toBe(0);
    expect(fs.existsSync(real)).toBe(false);
  });

  test('a rotation of audit.log planted as a symlink: not rotated, not read; the change is made and the warning says what was not', () => {
    expect(box.run(['allocate', '-s', 'dev', '--persistent', '--json']).code).toBe(0);
    const audit = path.join(box.home, 'audit.log');
    fs.truncateSync(audit, 10 * 1024 * 1024);
    const secret = path.join(box.dir, 'secret.jsonl');
    fs.writeFileSync(secret, '{"action":"secret","timestamp":"2026-01-01T00:00:00.000Z"}\n');
    fs.symlinkSync(secret, `${audit}.2`);
    const r = box.run(['allocate', '-s', 'api', '--persistent', '--json']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/the change was made, but writing the audit log failed: .*audit\.log\.2 is a symbolic link/);
    expect(fs.lstatSync(`${audit}.2`).isSymbolicLink()).toBe(true);
    expect(fs.existsSync(`${audit}.1`)).toBe(false);
    expect(fs.existsSync(`${audit}.3`)).toBe(false);
    expect(box.readState().allocations).toHaveLength(2);
    const read = box.run(['audit', '--json']);
    expect(read.code).toBe(11);
    expect(read.json.error.code).toBe('UNSAFE_HOME');
    expect(read.stdout).not.toContain('secret');
  });
});
