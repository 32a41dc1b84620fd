import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { BIN, persistentAllocations, useSandbox } from '../helpers/cli';

// Many persistent allocations are kept in a file of their own (lib/core/settled.ts): an everyday
// allocate then reads and writes only state.json and the summary of them, and every other
// command sees all of them as before ("Big states" in docs/configuration.md).

const box = useSandbox();

const SETTLED = /^state\.settled-[0-9a-f]{16}\.json$/;

/** A state of persistent allocations in this project: `types` names the type of each, ports from 10000 up. */
function seed(types: string[]): void {
  const allocations = persistentAllocations(types, box.cwd).map((a) => (a.serviceType === 'ai' ? { ...a, port: 11400 } : a));
  fs.mkdirSync(box.home, { recursive: true, mode: 0o700 });
  fs.writeFileSync(path.join(box.home, 'state.json'), JSON.stringify({ version: 1, allocations }), { mode: 0o600 });
}

const settledFiles = (): string[] => fs.readdirSync(box.home).filter((n) => SETTLED.test(n));
const stateFile = (): any => box.readState();
const settledOf = (name: string): any => JSON.parse(fs.readFileSync(path.join(box.home, name), 'utf8'));
const fileFacts = (name: string) => {
  const stat = fs.statSync(path.join(box.home, name));
  return { ino: stat.ino, mtimeMs: stat.mtimeMs, text: fs.readFileSync(path.join(box.home, name), 'utf8') };
};
const listed = (): any[] => box.run(['list', '--json']).json.allocations;

test('2500 persistent allocations are settled by the next call; later allocates touch neither them nor their file', () => {
  seed(Array.from({ length: 2500 }, () => 'dev'));
  const first = box.run(['allocate', '-s', 'api', '--json']);
  expect([first.code, first.stderr, first.json.port]).toEqual([0, '', 8000]);
  const [file] = settledFiles();
  expect(settledFiles()).toHaveLength(1);
  expect(stateFile()).toMatchObject({ version: 2, settled: { file, count: 2500, ports: [[10000, 12499]], types: ['dev'] } });
  expect(stateFile().allocations.map((a: any) => a.lockId)).toEqual([first.json.lockId]);
  expect(settledOf(file!)).toMatchObject({ version: 1 });
  expect(settledOf(file!).allocations).toHaveLength(2500);
  const before = fileFacts(file!);

  for (const args of [
    ['allocate', '-s', 'api', '--json'],
    ['allocate', '-s', 'dev', '--json', '--persistent'],
    ['allocate', '-s', 'api', '--json', '--dry-run'],
  ]) {
    const r = box.run(args);
    expect([r.code, r.stderr]).toEqual([0, '']);
  }
  expect(fileFacts(file!)).toEqual(before);
  expect(fs.statSync(path.join(box.home, 'state.json')).size).toBeLessThan(4096);
  expect(stateFile().allocations).toHaveLength(3);
  // Every other command sees them all.
  expect(listed()).toHaveLength(2503);
  const doctor = box.run(['doctor', '--json']);
  const state = (doctor.json.checks ?? doctor.json.error.details.checks).find((c: { name: string }) => c.name === 'state');
  expect(state).toMatchObject({ status: 'ok', message: `valid, 2503 allocations recorded (2500 of them settled in ${file})` });
});

test('the ports they hold are never handed out, to a type whose range overlaps them either', () => {
  seed(Array.from({ length: 2500 }, () => 'dev'));
  box.writeConfig({ service_types: { over: { port_range: [12497, 12502] } } });
  box.run(['allocate', '-s', 'api', '-q']);
  expect(stateFile().settled.count).toBe(2500);
  const ports = [1, 2, 3].map(() => box.run(['allocate', '-s', 'over', '--json']).json.port);
  expect(ports).toEqual([12500, 12501, 12502]);
  const full = box.run(['allocate', '-s', 'over', '--json']);
  expect(full.json.error.code).toBe('RANGE_EXHAUSTED');
});

test('a single-instance type, a named instance and a port asked for are answered from the settled allocations themselves', () => {
  seed([...Array.from({ length: 2499 }, () => 'dev'), 'ai']);
  box.run(['allocate', '-s', 'api', '-q']);
  expect(stateFile().settled).toMatchObject({ count: 2500, types: ['ai', 'dev'] });
  expect(box.run(['allocate', '-s', 'ai', '--json']).json).toMatchObject({ existing: true, port: 11400, lockId: 'ai-a2499-000000' });
  expect(box.run(['allocate', '-s', 'dev', '-n', 'a5', '--json']).json).toMatchObject({ reused: true, port: 10005, lockId: 'dev-a5-000000' });
  const asked = box.run(['allocate', '-s', 'api', '--port', '10007', '--json']).json;
  expect(asked.port).not.toBe(10007);
  expect(asked.requestedPortNote).toContain('dev-a7-000000');
});

test('releasing settled allocations settles the rest anew, and below 1000 they come back into state.json', () => {
  seed([...Array.from({ length: 1200 }, () => 'dev'), ...Array.from({ length: 1300 }, () => 'docs')]);
  box.run(['allocate', '-s', 'api', '-q']);
  const [first] = settledFiles();
  expect(box.run(['release', 'dev-a3-000000', '--json']).code).toBe(0);
  const [second] = settledFiles();
  expect(settledFiles()).toHaveLength(1);
  expect(second).not.toBe(first);
  expect(stateFile().settled).toMatchObject({ file: second, count: 2499 });
  expect(listed().some((a) => a.lockId === 'dev-a3-000000')).toBe(false);

  expect(box.run(['release', '-s', 'docs', '--all', '--json']).code).toBe(0);
  expect(stateFile().settled).toMatchObject({ count: 1199, types: ['dev'] });
  expect(box.run(['release', '-s', 'dev', '--all', '--json']).code).toBe(0);
  expect(settledFiles()).toEqual([]);
  expect(stateFile().version).toBe(1);
  expect(stateFile().settled).toBeUndefined();
  expect(listed().map((a) => a.serviceType)).toEqual(['api']);
});

test('a settled file that is corrupt is reported by doctor, then moved aside with a warning; the call goes on', () => {
  seed(Array.from({ length: 2500 }, () => 'dev'));
  box.run(['allocate', '-s', 'api', '-q']);
  const [file] = settledFiles();
  fs.writeFileSync(path.join(box.home, file!), '{"version": 1, "allocations": [');
  const doctor = box.run(['doctor', '--json']);
  const state = doctor.json.error.details.checks.find((c: { name: string }) => c.name === 'state');
  expect(state).toMatchObject({ status: 'fail' });
  expect(state.message).toContain('2500 settled allocations cannot be used');
  expect(fs.readFileSync(path.join(box.home, file!), 'utf8')).toBe('{"version": 1, "allocations": [');

  const list = box.run(['list', '--json']);
  expect(list.code).toBe(0);
  expect(list.stderr).toContain('the settled allocations could not be used');
  expect(list.json.allocations).toHaveLength(1);
  const aside = fs.readdirSync(box.home).filter((n) => n.startsWith(`${file}.corrupt-`));
  expect(aside).toHaveLength(1);
  expect(fs.readFileSync(path.join(box.home, aside[0]!), 'utf8')).toBe('{"version": 1, "allocations": [');
  expect(stateFile()).toMatchObject({ version: 1 });
  expect(stateFile().settled).toBeUndefined();
  const again = box.run(['list', '--json']);
  expect([again.code, again.stderr, again.json.allocations.length]).toEqual([0, '', 1]);
});

test('a call killed after writing a settled file but before state.json leaves the state as it was; the next call sets the file aside', () => {
  seed(Array.from({ length: 2500 }, () => 'dev'));
  const text = fs.readFileSync(path.join(box.home, 'state.json'), 'utf8');
  const killed = spawnSync(process.execPath, [BIN, 'allocate', '-s', 'api', '-q'], {
    env: { ...box.env, STYXY_TEST_KILL_AT: 'after-settled-write' },
    cwd: box.cwd,
    encoding: 'utf8',
  });
  expect(killed.signal).toBe('SIGKILL');
  expect(fs.readFileSync(path.join(box.home, 'state.json'), 'utf8')).toBe(text);
  expect(settledFiles()).toHaveLength(1);
  const orphan = settledFiles()[0];

  const next = box.run(['allocate', '-s', 'api', '-q']);
  expect(next.code).toBe(0);
  expect(next.stderr).toContain(`set aside ${orphan}.orphan-`);
  expect(settledFiles()).toHaveLength(1);
  expect(settledFiles()[0]).not.toBe(orphan);
  expect(fs.readdirSync(box.home).filter((n) => n.startsWith(`${orphan}.orphan-`))).toHaveLength(1);
  expect(listed()).toHaveLength(2501);
});

test('a settled file that state.json does not refer to is set aside, never deleted, and doctor lists it', () => {
  seed(Array.from({ length: 2500 }, () => 'dev'));
  box.run(['allocate', '-s', 'api', '-q']);
  const [file] = settledFiles();
  const settledText = fs.readFileSync(path.join(box.home, file!), 'utf8');
  fs.renameSync(path.join(box.home, 'state.json'), path.join(box.dir, 'state.json.kept'));
  const list = box.run(['list', '--json']);
  expect(list.code).toBe(0);
  expect(list.json.allocations).toEqual([]);
  expect(list.stderr).toContain('set aside');
  const [aside] = fs.readdirSync(box.home).filter((n) => n.startsWith(`${file}.orphan-`));
  expect(fs.readFileSync(path.join(box.home, aside!), 'utf8')).toBe(settledText);
  const doctor = box.run(['doctor', '--json']);
  const leftovers = (doctor.json.checks ?? doctor.json.error.details.checks).find((c: { name: string }) => c.name === 'leftovers');
  expect(leftovers.message).toContain(aside);
  expect(leftovers.remedy).not.toContain('rm ');
  // state.json put back: doctor says the copy set aside goes back, and the next call puts it back.
  fs.renameSync(path.join(box.dir, 'state.json.kept'), path.join(box.home, 'state.json'));
  const told = box.run(['doctor', '--json']);
  const state = (told.json.checks ?? told.json.error.details.checks).find((c: { name: string }) => c.name === 'state');
  expect(state).toMatchObject({ status: 'warn' });
  expect(state.message).toContain(`its copy set aside as ${aside} is put back by the next call`);
  const back = box.run(['list', '--json']);
  expect([back.code, back.stderr, back.json.allocations.length]).toEqual([0, '', 2501]);
  expect(settledFiles()).toEqual([file]);
  expect(fs.readFileSync(path.join(box.home, file!), 'utf8')).toBe(settledText);
});

test('a summary that does not match its file is made anew from the file: nothing dropped, no port handed out twice', () => {
  seed(Array.from({ length: 2500 }, () => 'dev'));
  box.writeConfig({ service_types: { over: { port_range: [10000, 10005] } } });
  box.run(['allocate', '-s', 'api', '-q']);
  const state = stateFile();
  const truth = state.settled;
  // A hand edit: runs that cannot be, and a count one short.
  fs.writeFileSync(path.join(box.home, 'state.json'), JSON.stringify({ ...state, settled: { ...truth, ports: [[12499, 10000]] } }));
  const over = box.run(['allocate', '-s', 'over', '--json']);
  expect(over.json.error.code).toBe('RANGE_EXHAUSTED');
  expect(over.stderr).toContain('did not match');
  expect(stateFile().settled).toEqual(truth);
  fs.writeFileSync(path.join(box.home, 'state.json'), JSON.stringify({ ...stateFile(), settled: { ...truth, count: 2499 } }));
  const list = box.run(['list', '--json']);
  expect(list.json.allocations).toHaveLength(2501);
  expect(list.stderr).toContain('did not match');
  expect(list.stderr).toContain('no allocation was dropped');
  expect(stateFile().settled).toEqual(truth);
  // Runs moved by hand, the count kept: the summary's check tells, and no held port goes out.
  fs.writeFileSync(path.join(box.home, 'state.json'), JSON.stringify({ ...stateFile(), settled: { ...truth, ports: [[20000, 22499]] } }));
  expect(box.run(['allocate', '-s', 'over', '--json']).json.error.code).toBe('RANGE_EXHAUSTED');
  expect(stateFile().settled).toEqual(truth);
});

test('an I/O error reading the settled file fails the call and changes nothing', () => {
  seed(Array.from({ length: 2500 }, () => 'dev'));
  box.run(['allocate', '-s', 'api', '-q']);
  const [file] = settledFiles();
  const before = [fileFacts('state.json'), fileFacts(file!)];
  const r = box.run(['list', '--json'], { env: { STYXY_TEST_FAIL_AT: 'after-settled-read' } });
  expect(r.code).not.toBe(0);
  expect(r.json.error.message).toContain('injected I/O error');
  expect([fileFacts('state.json'), fileFacts(file!)]).toEqual(before);
  expect(settledFiles()).toEqual([file]);
  expect(listed()).toHaveLength(2501);
});

test('the persistent allocations made since are settled with the rest once there are 500 of them', () => {
  seed(Array.from({ length: 2500 }, () => 'dev'));
  box.run(['allocate', '-s', 'api', '-q']);
  const [first] = settledFiles();
  // 499 more persistent allocations as an everyday allocate leaves them: in state.json.
  const state = stateFile();
  state.allocations.push(
    ...persistentAllocations(
      Array.from({ length: 499 }, () => 'docs'),
      box.cwd,
      { prefix: 'b', firstPort: 20000 },
    ),
  );
  fs.writeFileSync(path.join(box.home, 'state.json'), JSON.stringify(state));
  const made = box.run(['allocate', '-s', 'api', '--persistent', '--json']);
  expect(made.code).toBe(0);
  const [second] = settledFiles();
  expect(settledFiles()).toHaveLength(1);
  expect(second).not.toBe(first);
  expect(stateFile().settled).toMatchObject({ file: second, count: 3000, types: ['api', 'dev', 'docs'] });
  expect(stateFile().allocations.map((a: any) => a.owner.kind)).toEqual(['process']);
  expect(listed()).toHaveLength(3001);
});

test('a corrupt state.json takes its settled file aside with it, under the same suffix; nothing is deleted', () => {
  seed(Array.from({ length: 2500 }, () => 'dev'));
  box.run(['allocate', '-s', 'api', '-q']);
  const [file] = settledFiles();
  const settledText = fs.readFileSync(path.join(box.home, file!), 'utf8');
  fs.writeFileSync(path.join(box.home, 'state.json'), '{"version": 2, "allocations": [');
  const r = box.run(['list', '--json']);
  expect([r.code, r.json.allocations]).toEqual([0, []]);
  expect(r.stderr).toContain('state.json was unusable');
  const corrupt = fs.readdirSync(box.home).filter((n) => n.startsWith('state.json.corrupt-'));
  expect(corrupt).toHaveLength(1);
  const suffix = corrupt[0]!.slice('state.json'.length);
  expect(fs.readFileSync(path.join(box.home, `${file}${suffix}`), 'utf8')).toBe(settledText);
  expect(settledFiles()).toEqual([]);
  expect(fs.readdirSync(box.home).filter((n) => n.includes('.orphan-'))).toEqual([]);
});
