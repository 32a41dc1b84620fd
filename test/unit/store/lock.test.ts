import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { writeFileAtomic } from '../../../lib/store/atomic-write';
import { acquireLock, inspectLock } from '../../../lib/store/lock';
import { resolvePaths } from '../../../lib/store/paths';
import { overrideFs } from '../../../lib/store/fs-seam';
import { until } from '../../helpers/cli';

let home: string;
beforeEach(() => {
  home = fs.mkdtempSync(path.join(os.tmpdir(), 'styxy-lock-'));
});
afterEach(() => fs.rmSync(home, { recursive: true, force: true }));

const paths = () => resolvePaths({ STYXY_HOME: home });
/** The one holding inside the lock, `state.json.lock/<nonce>/`. */
const holdingDir = () => path.join(paths().lock, fs.readdirSync(paths().lock)[0] as string);
const readRecord = () => JSON.parse(fs.readFileSync(path.join(holdingDir(), 'holder'), 'utf8'));
/** The waiters' tickets in line, `state.json.lock.queue/<time>-<nonce>-<pid>`. */
const tickets = (): string[] => (fs.existsSync(`${paths().lock}.queue`) ? fs.readdirSync(`${paths().lock}.queue`) : []);
/** Plants a holding with `record` in place of the current one (as another process would hold it). */
function replaceHolding(record: object & { nonce: string }): void {
  const old = holdingDir();
  fs.rmSync(old, { recursive: true });
  fs.mkdirSync(path.join(paths().lock, record.nonce));
  fs.writeFileSync(path.join(paths().lock, record.nonce, 'holder'), JSON.stringify(record));
}

test('the holder record names this process while the lock is held, and both go on release', async () => {
  const lock = await acquireLock(paths());
  expect(readRecord().pid).toBe(process.pid);
  expect(inspectLock(paths().lock)).toMatchObject({ kind: 'held', holding: { liveness: 'alive' } });
  expect(() => lock.assertHeld()).not.toThrow();
  await lock.release();
  expect(fs.readdirSync(home)).toEqual([]);
  expect(inspectLock(paths().lock)).toEqual({ kind: 'free' });
});

test('a second acquirer in the same process waits for the first to release', async () => {
  const first = await acquireLock(paths());
  let secondGot = false;
  const second = acquireLock(paths()).then((l) => {
    secondGot = true;
    return l;
  });
  // Once its ticket is in line the second has found the lock held and waits.
  await until(() => tickets().length === 1, 'the second acquirer to queue');
  expect(secondGot).toBe(false);
  await first.release();
  await (await second).release();
  expect(secondGot).toBe(true);
  expect(fs.readdirSync(home)).toEqual([]);
});

test('under the lock, writes are staged inside the holding; a holding taken away makes them fail with LOCK_COMPROMISED', async () => {
  const lock = await acquireLock(paths());
  writeFileAtomic(paths().state, 'one\n');
  expect(fs.readFileSync(paths().state, 'utf8')).toBe('one\n');
  // A takeover moves the holding out of the lock: this holder's next write must not land.
  fs.renameSync(holdingDir(), path.join(home, 'moved'));
  expect(() => writeFileAtomic(paths().state, 'two\n')).toThrow(expect.objectContaining({ code: 'LOCK_COMPROMISED' }));
  expect(() => writeFileAtomic(paths().config, '{}\n')).toThrow(expect.objectContaining({ code: 'LOCK_COMPROMISED' }));
  expect(fs.readFileSync(paths().state, 'utf8')).toBe('one\n');
  expect(fs.existsSync(paths().config)).toBe(false);
  expect(() => lock.assertHeld()).toThrow(expect.objectContaining({ code: 'LOCK_COMPROMISED' }));
  await lock.release();
  // Without the lock the writer writes beside the file, as before.
  writeFileAtomic(paths().state, 'three\n');
  expect(fs.readFileSync(paths().state, 'utf8')).toBe('three\n');
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

test('an empty lock directory is free', async () => {
  fs.mkdirSync(paths().lock);
  expect(inspectLock(paths().lock)).toEqual({ kind: 'free' });
  const lock = await acquireLock(paths(), 1000);
  lock.assertHeld();
  await lock.release();
});

test('a dead holder (its PID gone) is taken over at once, and its writes then fail', async () => {
  const first = await acquireLock(paths());
  // The same namespace and host, a PID that does not exist: provably dead.
  replaceHolding({ ...readRecord(), pid: 4194303, nonce: 'dead0001dead0001' });
  expect(inspectLock(paths().lock)).toMatchObject({ kind: 'reclaimable', holding: { liveness: 'dead', entry: 'dead0001dead0001' } });
  const started = Date.now();
  const second = await acquireLock(paths(), 5000);
  expect(Date.now() - started).toBeLessThan(500);
  expect(() => first.assertHeld()).toThrow(expect.objectContaining({ code: 'LOCK_COMPROMISED' }));
  expect(() => second.assertHeld()).not.toThrow();
  await first.release();
  expect(() => second.assertHeld()).not.toThrow();
  await second.release();
  expect(fs.readdirSync(home)).toEqual([]);
});

test('a holder of unknown liveness (another host) is held until silent for 30 s, then reclaimable', async () => {
  const first = await acquireLock(paths());
  replaceHolding({ ...readRecord(), host: 'elsewhere', nonce: 'fa0001fa0001ffee' });
  const record = path.join(paths().lock, 'fa0001fa0001ffee', 'holder');
  // Past the old 2 s staleness: still held.
  const old = new Date(Date.now() - 5000);
  fs.utimesSync(record, old, old);
  expect(inspectLock(paths().lock)).toMatchObject({ kind: 'held', holding: { liveness: 'unknown' } });
  await expect(acquireLock(paths(), 300)).rejects.toMatchObject({ code: 'LOCK_TIMEOUT' });
  const older = new Date(Date.now() - 31_000);
  fs.utimesSync(record, older, older);
  expect(inspectLock(paths().lock)).toMatchObject({ kind: 'reclaimable', holding: { liveness: 'unknown' } });
  const second = await acquireLock(paths(), 1000);
  expect(() => second.assertHeld()).not.toThrow();
  await second.release();
  await first.release();
});

test('a lock left by an older Styxy (state.json.lock/holder) with a dead holder is taken over', async () => {
  const first = await acquireLock(paths());
  const record = { ...readRecord(), pid: 4194303, nonce: 'legacy01' };
  await first.release();
  fs.mkdirSync(paths().lock);
  fs.writeFileSync(path.join(paths().lock, 'holder'), JSON.stringify(record));
  expect(inspectLock(paths().lock)).toMatchObject({ kind: 'reclaimable', holding: { entry: null } });
  const lock = await acquireLock(paths(), 2000);
  lock.assertHeld();
  await lock.release();
  expect(fs.readdirSync(home)).toEqual([]);
});

test('the deadline gives LOCK_TIMEOUT, and the waiter leaves no ticket behind', async () => {
  const first = await acquireLock(paths());
  await expect(acquireLock(paths(), 300)).rejects.toMatchObject({ code: 'LOCK_TIMEOUT' });
  await first.release();
  expect(fs.readdirSync(home)).toEqual([]);
});

test('waiters in one process are served in the order they came', async () => {
  const first = await acquireLock(paths());
  const order: number[] = [];
  const waiters = [];
  for (let i = 0; i < 5; i++) {
    waiters.push(
      acquireLock(paths()).then(async (l) => {
        order.push(i);
        await l.release();
      }),
    );
    // Tickets are ordered by the millisecond they were taken: the next comes in a later one.
    await until(() => tickets().length === i + 1, `waiter ${i} to queue`);
    const taken = Date.now();
    await until(() => Date.now() > taken, 'the next millisecond');
  }
  await first.release();
  await Promise.all(waiters);
  expect(order).toEqual([0, 1, 2, 3, 4]);
  expect(fs.readdirSync(home)).toEqual([]);
});

test('a holder whose section spans turns of the event loop keeps its record fresh; one released never touches it', async () => {
  const lock = await acquireLock(paths());
  const record = path.join(holdingDir(), 'holder');
  const hourAgo = new Date(Date.now() - 3_600_000);
  fs.utimesSync(record, hourAgo, hourAgo);
  // The section awaits real time, as a section waiting on I/O would: the touching starts.
  const deadline = Date.now() + 10_000;
  while (Date.now() - fs.statSync(record).mtimeMs > 60_000) {
    if (Date.now() > deadline) throw new Error('the holder record was not touched within 10 s');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await lock.release();

  // A section that ends within its turn leaves no timer or immediate behind.
  const timers = (): number =>
    (process as unknown as { getActiveResourcesInfo(): string[] }).getActiveResourcesInfo().filter((h) => h === 'Immediate' || h === 'Timeout').length;
  const before = timers();
  const quick = await acquireLock(paths());
  await quick.release();
  expect(timers()).toBe(before);
});

test('the holder record and its name are fsynced before the holding is renamed onto the lock', async () => {
  // What a power cut can undo: the record's bytes and its name are on the disk before the rename.
  const opened = new Map<number, string>();
  const events: string[] = [];
  const restore = overrideFs({
    openSync: ((file: fs.PathLike, flags: number, mode?: number) => {
      const fd = fs.openSync(file, flags, mode);
      opened.set(fd, String(file));
      return fd;
    }) as typeof fs.openSync,
    fsyncSync: (fd: number) => {
      events.push(`fsync ${path.relative(home, opened.get(fd) ?? '?')}`);
      fs.fsyncSync(fd);
    },
    renameSync: (from: fs.PathLike, to: fs.PathLike) => {
      events.push(`rename ${path.relative(home, String(from)).replace(/-\d+-[0-9a-f]+$/, '-*')} -> ${path.relative(home, String(to))}`);
      fs.renameSync(from, to);
    },
  });
  try {
    const lock = await acquireLock(paths());
    const take = events.indexOf('rename state.json.lock.new-* -> state.json.lock');
    const nonce = fs.readdirSync(paths().lock)[0] as string;
    expect(take).toBeGreaterThan(0);
    expect(events.slice(0, take)).toEqual([
      `fsync state.json.lock.new-${process.pid}-${nonce}/${nonce}/holder`,
      `fsync state.json.lock.new-${process.pid}-${nonce}/${nonce}`,
    ]);
    await lock.release();
  } finally {
    restore();
  }
});
