import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { ROOT, sandbox, type Sandbox } from '../helpers/cli';

// A native Windows run (process.platform forced to win32 through the test seam) fails with a
// clear message and a stable code, and touches nothing: the state another run left is intact.

let box: Sandbox;
beforeEach(() => {
  box = sandbox();
});
afterEach(() => box.cleanup());

const WINDOWS = { STYXY_TEST_PLATFORM: 'win32' };

function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of fs.readdirSync(dir)) {
    const file = path.join(dir, name);
    out[name] = fs.statSync(file).isDirectory() ? `dir:${fs.readdirSync(file).join(',')}` : fs.readFileSync(file, 'utf8');
  }
  return out;
}

test('every command refuses with UNSUPPORTED_PLATFORM (exit 18), pointing at WSL, and changes nothing', () => {
  const held = box.run(['allocate', '-s', 'dev', '--persistent', '--json']).json;
  expect(held.port).toBe(3000);
  const before = snapshot(box.home);
  for (const args of [
    ['allocate', '-s', 'dev'],
    ['release', held.lockId],
    ['cleanup', '--force', '--yes'],
    ['list'],
    ['config', 'set', 'auto_allocation.enabled', 'false'],
  ]) {
    const json = box.run([...args, '--json'], { env: WINDOWS });
    expect({ args, code: json.code, error: json.json?.error?.code }).toEqual({ args, code: 18, error: 'UNSUPPORTED_PLATFORM' });
  }
  // run's own refusal exits 125 (the code is in its --json), and the command never starts.
  const run = box.run(['run', '-s', 'dev', '--', 'sh', '-c', 'echo started'], { env: WINDOWS });
  expect([run.code, run.stdout, run.stderr]).toEqual([125, '', expect.stringContaining('does not run natively on Windows')]);
  expect(box.run(['run', '-s', 'dev', '--json', '--', 'sh', '-c', 'echo started'], { env: WINDOWS }).json.error.code).toBe('UNSUPPORTED_PLATFORM');
  const human = box.run(['allocate', '-s', 'dev'], { env: WINDOWS });
  expect(human.code).toBe(18);
  expect(human.stdout).toBe('');
  expect(human.stderr).toMatch(/does not run natively on Windows/);
  expect(human.stderr).toMatch(/hint: .*WSL/);
  expect(snapshot(box.home)).toEqual(before);
  // Elsewhere, the same home goes on as before.
  expect(box.run(['list', '--json']).json.allocations.map((a: { lockId: string }) => a.lockId)).toEqual([held.lockId]);
});

test('the API rejects alike, before reading or writing anything', () => {
  const script = `require(${JSON.stringify(path.join(ROOT, 'dist', 'api.js'))}).allocate({ serviceType: 'dev' }).then(() => console.log('allocated'), (e) => console.log(e.code))`;
  const r = spawnSync(process.execPath, ['-e', script], { env: { ...box.env, ...WINDOWS }, cwd: box.cwd, encoding: 'utf8' });
  expect([r.stdout.trim(), r.stderr]).toEqual(['UNSUPPORTED_PLATFORM', '']);
  expect(fs.existsSync(box.home)).toBe(false);
});
