import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { acquireLock } from '../../../lib/store/lock';
import { resolvePaths } from '../../../lib/store/paths';

let home: string;
beforeEach(() => {
  home = fs.mkdtempSync(path.join(os.tmpdir(), 'styxy-lock-'));
});
afterEach(() => fs.rmSync(home, { recursive: true, force: true }));

const paths = () => resolvePaths({ STYXY_HOME: home });

test('the holder record names this process while the lock is held, and both go on release', async () => {
  const lock = await acquireLock(paths());
  const holder = JSON.parse(fs.readFileSync(paths().lockHolder, 'utf8'));
  expect(holder.pid).toBe(process.pid);
  expect(fs.statSync(paths().lock).isDirectory()).toBe(true);
  expect(() => lock.assertHeld()).not.toThrow();
  await lock.release();
  expect(fs.existsSync(paths().lock)).toBe(false);
  expect(fs.existsSync(paths().lockHolder)).toBe(false);
});

test('a second acquirer in the same process waits for the first to release', async () => {
  const first = await acquireLock(paths());
  let secondGot = false;
  const second = acquireLock(paths()).then((l) => {
    secondGot = true;
    return l;
  });
  await new Promise((r) => setTimeout(r, 150));
  expect(secondGot).toBe(false);
  await first.release();
  await (await second).release();
  expect(secondGot).toBe(true);
});

test('a lock taken over by another process (its holder record replaced) refuses to write', async () => {
  const lock = await acquireLock(paths());
  fs.writeFileSync(paths().lockHolder, JSON.stringify({ pid: 1, startTime: null, ns: null, host: 'x', nonce: 'someone-else', since: '', command: '' }));
  expect(() => lock.assertHeld()).toThrow(expect.objectContaining({ code: 'LOCK_COMPROMISED' }));
  await lock.release();
  // The other holder's record is not removed by us.
  expect(JSON.parse(fs.readFileSync(paths().lockHolder, 'utf8')).nonce).toBe('someone-else');
});

test('a lock directory removed under the holder marks the lock compromised without killing the process', async () => {
  const lock = await acquireLock(paths());
  fs.rmSync(paths().lock, { recursive: true });
  expect(() => lock.assertHeld()).toThrow(expect.objectContaining({ code: 'LOCK_COMPROMISED' }));
  await lock.release();
});

test('a live lock is never an empty directory, so a plain rmdir cannot remove it', async () => {
  const lock = await acquireLock(paths());
  expect(() => fs.rmdirSync(paths().lock)).toThrow(expect.objectContaining({ code: 'ENOTEMPTY' }));
  await lock.release();
  expect(fs.readdirSync(home)).toEqual([]);
});

test('a dead holder (its PID gone) is taken over at once; a live one (this process) is not', async () => {
  const first = await acquireLock(paths());
  const record = JSON.parse(fs.readFileSync(paths().lockHolder, 'utf8'));
  // The same namespace and host, a PID that does not exist: provably dead.
  fs.writeFileSync(paths().lockHolder, JSON.stringify({ ...record, pid: 4194303, nonce: 'dead0001' }));
  const started = Date.now();
  const second = await acquireLock(paths(), 5000);
  expect(Date.now() - started).toBeLessThan(500);
  expect(() => first.assertHeld()).toThrow(expect.objectContaining({ code: 'LOCK_COMPROMISED' }));
  expect(() => second.assertHeld()).not.toThrow();
  await first.release();
  expect(() => second.assertHeld()).not.toThrow();
  await second.release();
});

test('a holder whose liveness cannot be known (another host) is taken over only once its record is stale', async () => {
  const first = await acquireLock(paths());
  const record = JSON.parse(fs.readFileSync(paths().lockHolder, 'utf8'));
  fs.writeFileSync(paths().lockHolder, JSON.stringify({ ...record, host: 'elsewhere', nonce: 'far0001' }));
  await expect(acquireLock(paths(), 300)).rejects.toMatchObject({ code: 'LOCK_TIMEOUT' });
  const old = new Date(Date.now() - 5000);
  fs.utimesSync(paths().lockHolder, old, old);
  const second = await acquireLock(paths(), 1000);
  expect(() => second.assertHeld()).not.toThrow();
  await second.release();
  await first.release();
});

test('the deadline gives LOCK_TIMEOUT', async () => {
  const first = await acquireLock(paths());
  await expect(acquireLock(paths(), 300)).rejects.toMatchObject({ code: 'LOCK_TIMEOUT' });
  await first.release();
});
