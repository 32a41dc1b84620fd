import { spawn, spawnSync, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import { BIN, sleeper, until, useSandbox, waitFor, type RunResult } from '../helpers/cli';
import { checkOutput } from '../helpers/output-schemas';

// Containers that stay up, entered with nsenter as `docker exec` does: sibling containers that
// cannot see each other, a container started inside a container, and records written before
// owners carried their PID namespace. Real namespaces: `unshare -fp --mount-proc`, as root.

const canEnter =
  process.getuid?.() === 0 && spawnSync('unshare', ['-fp', '--mount-proc', 'true']).status === 0 && spawnSync('nsenter', ['--version']).status === 0;
if (!canEnter) {
  console.warn('pid-namespaces-nsenter.test.ts skipped: needs root, unshare -p and nsenter (util-linux)');
}
const nsTest = canEnter ? test : test.skip;

const box = useSandbox();
const started: ChildProcess[] = [];

afterEach(async () => {
  await Promise.all(started.splice(0).map(stopGroup));
});

function parse(stdout: string): any {
  try {
    return JSON.parse(stdout);
  } catch {
    return undefined;
  }
}

function spawnGroup(command: string, args: string[]): ChildProcess {
  const child = spawn(command, args, { cwd: box.cwd, env: box.env, detached: true, stdio: 'ignore' });
  started.push(child);
  return child;
}

/** Ends a process group: a container's unshare with its PID 1 (which takes its namespace with it), or an nsenter with its child. */
async function stopGroup(child: ChildProcess): Promise<void> {
  const exited = new Promise<void>((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve())));
  try {
    process.kill(-(child.pid as number), 'SIGKILL');
  } catch {
    /* gone */
  }
  await exited;
}

const nsPids = (pid: number): number[] =>
  /^NSpid:\s*([\d\s]+)$/m
    .exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))![1]!
    .trim()
    .split(/\s+/)
    .map(Number);
const nsOf = (pid: number): string => /\[(\d+)\]/.exec(fs.readlinkSync(`/proc/${pid}/ns/pid`))![1]!;

/** A container that stays up: `unshare -fp --mount-proc sleep`; resolves with the host PID of its PID 1. */
async function container(): Promise<number> {
  const child = spawnGroup('unshare', ['-fp', '--mount-proc', 'sleep', '1000']);
  const pid = child.pid as number;
  return waitFor('the container’s PID 1', () => {
    try {
      const init = Number(fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(' ')[0]);
      return init > 0 && nsPids(init).at(-1) === 1 ? init : undefined;
    } catch {
      return undefined;
    }
  });
}

/** The CLI run in the container whose PID 1 is `init`, as `docker exec` does (its parent, nsenter, is outside: PID 0). */
function exec(init: number, args: string[]): RunResult {
  const r = spawnSync('nsenter', ['-t', String(init), '-p', '-m', `--wd=${box.cwd}`, '--', process.execPath, BIN, ...args], {
    env: box.env,
    encoding: 'utf8',
    timeout: 60_000,
  });
  checkOutput(args, r.stdout, r.status);
  return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr, json: parse(r.stdout) };
}

/** The processes of this machine whose argv is exactly `argv`. */
function findProcesses(argv: string[]): number[] {
  const wanted = argv.join('\0') + '\0';
  return fs
    .readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .filter((name) => {
      try {
        return fs.readFileSync(`/proc/${name}/cmdline`, 'utf8') === wanted;
      } catch {
        return false;
      }
    })
    .map(Number);
}

const serves = (port: number) => spawnSync('python3', ['-c', `import socket; socket.create_connection(('127.0.0.1', ${port}), 1)`]).status === 0;
const byLock = (list: any[], lockId: string) => list.find((a) => a.lockId === lockId);
const audit = (): any[] =>
  fs.existsSync(`${box.home}/audit.log`)
    ? fs
        .readFileSync(`${box.home}/audit.log`, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line))
    : [];

nsTest('a sibling container keeps a reservation whose server now listens, past the reservation’s end', async () => {
  box.run(['config', 'set', 'lifetime.reservation-grace-seconds', '1']);
  const [a, b] = await Promise.all([container(), container()]);
  const made = exec(a, ['allocate', '-s', 'dev', '--json']);
  expect(made.code).toBe(0);
  const { port, lockId } = made.json;
  // The host sees that the call which asked has ended, nothing listening yet: a reservation.
  const reserved = byLock(box.run(['list', '--json']).json.allocations, lockId);
  expect(reserved.owner.reservedUntil).toEqual(expect.any(String));
  // Its server starts in container A; the reservation's time then passes with no call in A or on the host.
  spawnGroup('nsenter', ['-t', String(a), '-p', '-m', `--wd=${box.cwd}`, '--', 'python3', '-m', 'http.server', String(port), '--bind', '127.0.0.1']);
  await until(() => serves(port), 'the server in A to listen');
  await until(() => Date.now() > Date.parse(reserved.owner.reservedUntil), 'the reservation to end');

  const fromB = exec(b, ['list', '-v', '--json']);
  expect(fromB.code).toBe(0);
  expect(byLock(fromB.json.allocations, lockId)).toMatchObject({ port, ownerNote: expect.stringContaining('cannot judge') });
  expect(byLock(box.readState().allocations, lockId)).toBeDefined();
  expect(audit().filter((e) => e.action === 'prune' && e.lockId === lockId)).toEqual([]);
  expect(serves(port)).toBe(true);
});

nsTest('the host judges a live owner of a container that runs in a container nested in it', async () => {
  const a = await container();
  const argv = ['sleep', '60123'];
  spawnGroup('nsenter', ['-t', String(a), '-p', '-m', `--wd=${box.cwd}`, '--', 'unshare', '-fp', '--mount-proc', ...argv]);
  // Its PID 1 is the nested container's; NSpid is `<host> <in A> 1`.
  const nested = await waitFor('the nested container’s PID 1', () => findProcesses(argv).find((pid) => nsPids(pid).length === 3 && nsPids(pid)[2] === 1));
  const inA = nsPids(nested)[1] as number;
  const made = exec(a, ['allocate', '-s', 'api', '-n', 'nested', '--pid', String(inA), '--json']);
  expect(made.code).toBe(0);
  expect(made.json.owner).toMatchObject({ pid: inA, pidNs: nsOf(a) });

  const fromHost = box.run(['list', '-v', '--json']);
  expect(fromHost.code).toBe(0);
  expect(byLock(fromHost.json.allocations, made.json.lockId)).toMatchObject({ owner: made.json.owner });
  expect(byLock(fromHost.json.allocations, made.json.lockId).ownerNote).toBeUndefined();
  // It is judged, not merely kept: once that process ends, the host sees it has.
  process.kill(nested, 'SIGKILL');
  await until(() => !findProcesses(argv).includes(nested), 'the nested container to end');
  expect(byLock(box.run(['list', '--json']).json.allocations, made.json.lockId)).toBeUndefined();
  expect(audit().find((e) => e.action === 'prune' && e.lockId === made.json.lockId)).toMatchObject({ reason: 'owner gone' });
});

nsTest('a record written before owners carried their namespace is not judged by its PID from a container', () => {
  const owner = sleeper();
  try {
    const held = box.run(['allocate', '-s', 'api', '--pid', String(owner.pid), '--json']).json;
    const raw = JSON.parse(fs.readFileSync(`${box.home}/state.json`, 'utf8'));
    for (const a of raw.allocations) delete a.owner.pidNs;
    fs.writeFileSync(`${box.home}/state.json`, JSON.stringify(raw, null, 2));

    const r = spawnSync('unshare', ['-fp', '--mount-proc', process.execPath, BIN, 'list', '--json'], { cwd: box.cwd, env: box.env, encoding: 'utf8' });
    expect(r.status).toBe(0);
    expect(byLock(JSON.parse(r.stdout).allocations, held.lockId)).toMatchObject({ ownerNote: expect.stringContaining('cannot judge') });
    expect(byLock(box.readState().allocations, held.lockId)).toBeDefined();
    // The host still judges it by its PID: alive, and gone once it ends.
    expect(byLock(box.run(['list', '--json']).json.allocations, held.lockId).ownerNote).toBeUndefined();
  } finally {
    owner.kill('SIGKILL');
  }
});

nsTest('the host shows a container owner’s host PID beside its PID in the container', async () => {
  const a = await container();
  const made = exec(a, ['allocate', '-s', 'dev', '--pid', '1', '--json']);
  expect(made.json.owner).toMatchObject({ pid: 1, pidNs: nsOf(a) });
  expect(byLock(box.run(['list', '--json']).json.allocations, made.json.lockId)).toMatchObject({ ownerHostPid: a });
  expect(box.run(['check', String(made.json.port), '--json']).json).toMatchObject({ ownerHostPid: a });
  // `kill 1` on the host would signal its init: the PID is said to be the container's, with the host's beside it.
  const where = `PID 1 in PID namespace ${nsOf(a)} (host PID ${a})`;
  expect(box.run(['list', '-v']).stdout).toContain(where);
  expect(box.run(['check', String(made.json.port)]).stdout).toContain(where);
  // Inside, the PID is its own: nothing more is said.
  expect(byLock(exec(a, ['list', '--json']).json.allocations, made.json.lockId).ownerHostPid).toBeUndefined();
});
