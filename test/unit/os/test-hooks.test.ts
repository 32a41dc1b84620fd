import * as fs from 'fs';
import * as path from 'path';
import { lockSilentMs, LOCK_SILENT_MS } from '../../../lib/store/lock-dir';
import { readTestHooks } from '../../../lib/os/test-hooks';

const LIB = path.resolve(__dirname, '..', '..', '..', 'lib');

function sources(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    return e.isDirectory() ? sources(full) : /\.ts$/.test(e.name) ? [full] : [];
  });
}

test('no file in lib/ but lib/os/test-hooks.ts names a STYXY_TEST_ variable', () => {
  const readers = sources(LIB)
    .filter((f) => fs.readFileSync(f, 'utf8').includes('STYXY_TEST_'))
    .map((f) => path.relative(LIB, f));
  expect(readers).toEqual([path.join('os', 'test-hooks.ts')]);
});

test('every hook the module reads is documented there by its variable', () => {
  const text = fs.readFileSync(path.join(LIB, 'os', 'test-hooks.ts'), 'utf8');
  const read = new Set(text.match(/env\.STYXY_TEST_[A-Z_]+/g)?.map((m) => m.slice(4)));
  const documented = new Set(text.match(/`STYXY_TEST_[A-Z_]+`/g)?.map((m) => m.slice(1, -1)));
  expect([...read].sort()).toEqual([...documented].sort());
  expect(read.size).toBe(7);
});

test('nothing set: no hook', () => {
  expect(Object.values(readTestHooks({})).every((v) => v === undefined)).toBe(true);
});

test('the fault points and the platform are taken as given; an empty platform is unset', () => {
  expect(
    readTestHooks({
      STYXY_TEST_PLATFORM: 'win32',
      STYXY_TEST_KILL_AT: 'after-lock',
      STYXY_TEST_STOP_AT: 'before-rename:state.json',
      STYXY_TEST_FAIL_AT: 'after-read',
      STYXY_TEST_FULL_AT: 'during-audit',
    }),
  ).toMatchObject({ platform: 'win32', killAt: 'after-lock', stopAt: 'before-rename:state.json', failAt: 'after-read', fullAt: 'during-audit' });
  expect(readTestHooks({ STYXY_TEST_PLATFORM: '' }).platform).toBeUndefined();
});

test.each([
  ['1000', 1000],
  ['0.5', 0.5],
  ['', undefined],
  ['0', undefined],
  ['-1', undefined],
  ['soon', undefined],
  ['Infinity', undefined],
])('a duration %j is %p; anything but a positive number leaves the default', (text, ms) => {
  expect(readTestHooks({ STYXY_TEST_LOCK_SILENT_MS: text }).lockSilentMs).toBe(ms);
  expect(readTestHooks({ STYXY_TEST_FORWARD_GRACE_MS: text }).forwardGraceMs).toBe(ms);
  expect(lockSilentMs(readTestHooks({ STYXY_TEST_LOCK_SILENT_MS: text }))).toBe(ms ?? LOCK_SILENT_MS);
});
