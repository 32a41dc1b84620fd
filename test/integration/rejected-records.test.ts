import * as fs from 'fs';
import * as path from 'path';
import { persistentAllocations, useSandbox } from '../helpers/cli';

// One record that fails its shape is set aside on its own, into a file beside the state named in
// a warning and by doctor; every other allocation stays. A state.json that does not parse at all
// is still moved aside whole (store.test.ts).

const box = useSandbox();

const REJECTED = /^state\.rejected-[0-9TZ-]+(-\d+)?\.json$/;
const SETTLED = /^state\.settled-[0-9a-f]{16}\.json$/;
const rejectedFiles = (): string[] => fs.readdirSync(box.home).filter((n) => REJECTED.test(n));
const settledFiles = (): string[] => fs.readdirSync(box.home).filter((n) => SETTLED.test(n));

/** The record an older Styxy wrote from PID 1 of a container: its parent is PID 0. */
const pidZero = (port: number) => ({
  lockId: `dev-zero${port}-000000`,
  serviceType: 'dev',
  instanceId: `zero${port}`,
  port,
  project: box.cwd,
  owner: { kind: 'process', pid: 0, startTime: null, detected: true },
  allocatedAt: '2026-01-01T00:00:00.000Z',
});

const doctorCheck = (name: string) => {
  const r = box.run(['doctor', '--json']);
  return (r.json.checks ?? r.json.error.details.checks).find((c: { name: string }) => c.name === name);
};

test('a bad record in state.json is set aside; the persistent allocations and the rest stay', () => {
  const kept = persistentAllocations(['api', 'dev'], box.cwd);
  fs.mkdirSync(box.home, { recursive: true, mode: 0o700 });
  fs.writeFileSync(path.join(box.home, 'state.json'), JSON.stringify({ version: 1, allocations: [kept[0], pidZero(3007), kept[1]] }), { mode: 0o600 });

  // doctor reads without changing anything, and says what the next call will do.
  expect(doctorCheck('rejected records')).toMatchObject({ status: 'warn', message: expect.stringContaining('1 record(s) in the state fail') });
  expect(rejectedFiles()).toEqual([]);

  const list = box.run(['list', '--json']);
  expect(list.code).toBe(0);
  expect(list.json.allocations.map((a: { lockId: string }) => a.lockId).sort()).toEqual(kept.map((a) => a.lockId).sort());
  const [file] = rejectedFiles();
  expect(rejectedFiles()).toHaveLength(1);
  expect(list.stderr).toContain(path.join(box.home, file!));
  expect(fs.statSync(path.join(box.home, file!)).mode & 0o777).toBe(0o600);
  const aside = JSON.parse(fs.readFileSync(path.join(box.home, file!), 'utf8'));
  expect(aside).toMatchObject({
    from: 'state.json',
    records: [{ list: 'allocations', reason: '/allocations/1/owner/pid: must be >= 1', record: pidZero(3007) }],
  });
  expect(box.readState().allocations).toHaveLength(2);
  expect(fs.readdirSync(box.home).filter((n) => n.includes('corrupt'))).toEqual([]);

  // Set aside once: the next call warns no more, and the file is kept and listed by doctor.
  const again = box.run(['allocate', '-s', 'dev', '--json']);
  expect([again.code, again.stderr]).toEqual([0, '']);
  expect(rejectedFiles()).toEqual([file]);
  expect(doctorCheck('rejected records')).toMatchObject({ status: 'warn', message: expect.stringContaining(path.join(box.home, file!)) });
});

test('a bad freed-port record goes aside the same way, the allocations untouched', () => {
  const kept = persistentAllocations(['api'], box.cwd);
  const freed = { port: 70000, serviceType: 'dev', instanceId: 'a', project: box.cwd, sticky: true, freedAt: '2026-01-01T00:00:00.000Z' };
  fs.mkdirSync(box.home, { recursive: true, mode: 0o700 });
  fs.writeFileSync(path.join(box.home, 'state.json'), JSON.stringify({ version: 1, allocations: kept, recentlyFreed: [freed] }), { mode: 0o600 });
  const list = box.run(['list', '--json']);
  expect(list.json.allocations.map((a: { lockId: string }) => a.lockId)).toEqual([kept[0]!.lockId]);
  expect(rejectedFiles()).toHaveLength(1);
  expect(box.readState().recentlyFreed).toEqual([]);
});

test('a bad record in a settled file is set aside; its thousands of neighbours stay settled', () => {
  const allocations = persistentAllocations(
    Array.from({ length: 2100 }, () => 'dev'),
    box.cwd,
  );
  fs.mkdirSync(box.home, { recursive: true, mode: 0o700 });
  fs.writeFileSync(path.join(box.home, 'state.json'), JSON.stringify({ version: 1, allocations }), { mode: 0o600 });
  // The next write settles them into a file of their own.
  expect(box.run(['allocate', '-s', 'api', '--persistent', '--json']).code).toBe(0);
  const [settled] = settledFiles();
  const file = path.join(box.home, settled!);
  const data = JSON.parse(fs.readFileSync(file, 'utf8'));
  data.allocations[5].owner = { kind: 'process', pid: 0, startTime: null };
  fs.writeFileSync(file, JSON.stringify(data), { mode: 0o600 });

  const list = box.run(['list', '--json']);
  expect(list.code).toBe(0);
  expect(list.json.allocations).toHaveLength(2100);
  expect(list.json.allocations.map((a: { lockId: string }) => a.lockId)).not.toContain(allocations[5]!.lockId);
  expect(list.stderr).toContain(settled);
  const [aside] = rejectedFiles();
  expect(JSON.parse(fs.readFileSync(path.join(box.home, aside!), 'utf8'))).toMatchObject({
    from: settled,
    records: [{ record: { lockId: allocations[5]!.lockId } }],
  });
  // Written anew without it, and state.json refers to the new file; nothing moved aside whole.
  expect(settledFiles()).toHaveLength(1);
  expect(settledFiles()[0]).not.toBe(settled);
  expect(box.readState().settled).toMatchObject({ file: settledFiles()[0], count: 2100 });
  expect(box.readState().allocations).toHaveLength(0);
  expect(fs.readdirSync(box.home).filter((n) => /corrupt|orphan/.test(n))).toEqual([]);

  const again = box.run(['list', '--json']);
  expect([again.stderr, again.json.allocations.length, rejectedFiles().length]).toEqual(['', 2100, 1]);
});
