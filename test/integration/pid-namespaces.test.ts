import { spawn, spawnSync, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import { BIN, killAndWait, sleeper, until, useSandbox, waitFor, type RunResult } from '../helpers/cli';
import { checkOutput } from '../helpers/output-schemas';

// A devcontainer (or `docker exec`) sharing STYXY_HOME with the host: owners live in PID
// namespaces that do not see each other. Each side judges only the owners it can see; an owner
// it cannot see is kept while its port is served (or for a bounded time), never dropped for its
// PID meaning another process here. The namespaces are real: `unshare -fp --mount-proc`, as root.

const canUnshare = process.getuid?.() === 0 && spawnSync('unshare', ['-fp', '--mount-proc', 'true']).status === 0;
if (!canUnshare) {
  console.warn('pid-namespaces.test.ts skipped: needs root and unshare -p (util-linux)');
}
const nsTest = canUnshare ? test : test.skip;

const box = useSandbox();
const HOST_NS = canUnshare ? /\[(\d+)\]/.exec(fs.readlinkSync('/proc/self/ns/pid'))![1]! : '';

function parse(stdout: string): any {
  try {
    return JSON.parse(stdout);
  } catch {
    return undefined;
  }
}

/** The CLI as PID 1 of a fresh PID namespace (its parent is PID 0 there), with the sandbox's home. */
function inNamespace(args: string[]): RunResult {
  const r = spawnSync('unshare', ['-fp', '--mount-proc', process.execPath, BIN, ...args], { cwd: box.cwd, env: box.env, encoding: 'utf8', timeout: 60_000 });
  checkOutput(args, r.stdout, r.status);
  return { code: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr, json: parse(r.stdout) };
}

/** A shell script as PID 1 of a namespace that stays up until killed: a container. */
function container(script: string): ChildProcess {
  return spawn('unshare', ['-fp', '--mount-proc', 'sh', '-c', script], {
    cwd: box.cwd,
    env: { ...box.env, STYXY: `${process.execPath} ${BIN}` },
    detached: true,
    stdio: 'ignore',
  });
}

/** Ends a container: every process of its group (unshare and the namespace's PID 1, which takes its whole namespace with it). */
async function stop(child: ChildProcess): Promise<void> {
  const exited = new Promise<void>((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve())));
  try {
    process.kill(-(child.pid as number), 'SIGKILL');
  } catch {
    /* gone */
  }
  await exited;
}

const listed = (): any[] => box.run(['list', '--json']).json.allocations;
const byLock = (list: any[], lockId: string) => list.find((a) => a.lockId === lockId);

nsTest('one allocate as PID 1 of a namespace: never PID 0, and the persistent allocation survives', () => {
  const mine = box.run(['allocate', '-s', 'api', '-n', 'mine', '--persistent', '--json']).json;
  const inside = inNamespace(['allocate', '-s', 'dev', '--json']);
  expect(inside.code).toBe(0);
  expect(inside.stderr).toContain('cannot be seen from here');
  const recorded = byLock(box.readState().allocations, inside.json.lockId);
  expect(recorded.owner.pid).toBeGreaterThanOrEqual(1);
  expect(recorded.owner).toMatchObject({ kind: 'process', detected: true, pidNs: expect.stringMatching(/^\d+$/) });
  expect(recorded.owner.pidNs).not.toBe(HOST_NS);
  const list = box.run(['list', '--json']);
  expect([list.code, list.stderr]).toEqual([0, '']);
  expect(list.json.allocations.map((a: { lockId: string }) => a.lockId).sort()).toEqual([inside.json.lockId, mine.lockId].sort());
  // That namespace is gone: the host sees it has ended, and holds the port for the grace.
  expect(byLock(list.json.allocations, inside.json.lockId).owner.reservedUntil).toEqual(expect.any(String));
  expect(fs.readdirSync(box.home).filter((n) => /corrupt|rejected/.test(n))).toEqual([]);
});

nsTest('without a /proc of its own (unshare -p, no --mount-proc), no PID of that /proc is taken for the caller: a lease of the grace', () => {
  box.run(['config', 'set', 'lifetime.reservation-grace-seconds', '300']);
  const r = spawnSync('unshare', ['-fp', process.execPath, BIN, 'allocate', '-s', 'dev', '--json'], { cwd: box.cwd, env: box.env, encoding: 'utf8' });
  expect(r.status).toBe(0);
  const owner = JSON.parse(r.stdout).owner;
  expect(owner).toEqual({ kind: 'lease', expiresAt: expect.any(String) });
  // As long as the configured grace (not a fixed minute), and the warning says it is a lease, not a port a server keeps.
  const length = Date.parse(owner.expiresAt) - Date.parse(JSON.parse(r.stdout).allocatedAt);
  expect(length).toBeGreaterThan(299_000);
  expect(length).toBeLessThanOrEqual(300_000);
  expect(r.stderr).toContain('reservation-grace-seconds');
  expect(r.stderr).not.toContain('kept by the server');
});

nsTest('a list inside a namespace keeps the host’s live owners: a --pid sleep and a real `styxy run` server', async () => {
  const owner = sleeper();
  const run = spawn(process.execPath, [BIN, 'run', '-s', 'dev', '-n', 'web', '--', 'sh', '-c', 'exec python3 -m http.server "$PORT" --bind 127.0.0.1'], {
    cwd: box.cwd,
    env: box.env,
    stdio: 'ignore',
  });
  try {
    const held = box.run(['allocate', '-s', 'api', '-n', 'held', '--pid', String(owner.pid), '--json']).json;
    const web = await waitFor('the run allocation', () => box.run(['list', '--json']).json.allocations.find((a: any) => a.instanceId === 'web'));
    await until(
      () => spawnSync('python3', ['-c', `import socket; socket.create_connection(('127.0.0.1', ${web.port}), 1)`]).status === 0,
      'the server to listen',
    );

    const inside = inNamespace(['list', '--json']);
    expect(inside.code).toBe(0);
    for (const lockId of [held.lockId, web.lockId]) {
      expect(byLock(inside.json.allocations, lockId)).toMatchObject({ ownerNote: `cannot judge: owner in PID namespace ${HOST_NS}` });
    }
    const verbose = inNamespace(['list', '-v']);
    expect(verbose.stdout).toContain(`cannot judge: owner in PID namespace ${HOST_NS}`);
    // Nothing of the host's was dropped, reserved or taken over; and the container is not handed their ports.
    const state = box.readState().allocations;
    expect(byLock(state, held.lockId).owner).toEqual(byLock(listed(), held.lockId).owner);
    expect(byLock(state, web.lockId).owner).toMatchObject({ via: 'run', pidNs: HOST_NS });
    expect(byLock(state, web.lockId).owner.reservedUntil).toBeUndefined();
    const taken = inNamespace(['allocate', '-s', 'dev', '-p', String(web.port), '--json']);
    expect(taken.json.port).not.toBe(web.port);
    const doctor = inNamespace(['doctor', '--json']);
    const unjudged = (doctor.json.checks ?? doctor.json.error.details.checks).find((c: { name: string }) => c.name === 'unjudged owners');
    expect(unjudged.message).toContain(`cannot judge: owner in PID namespace ${HOST_NS}`);
  } finally {
    await killAndWait(run, 'SIGTERM');
    await killAndWait(owner);
  }
});

nsTest('the host keeps a container’s live owner past the grace, sees when it ends, and never hands its port out meanwhile', async () => {
  box.run(['config', 'set', 'lifetime.reservation-grace-seconds', '1']);
  // The container's shell asks, then becomes its server-to-be: a live detected owner in there.
  const ctr = container('$STYXY allocate -s dev -n ctr --json >/dev/null; exec sleep 600');
  try {
    const recorded = () => (fs.existsSync(`${box.home}/state.json`) ? box.readState().allocations.find((x: any) => x.instanceId === 'ctr') : undefined);
    const a = await waitFor('the container allocation', recorded);
    expect(a.owner).toMatchObject({ pid: 1, detected: true });
    // Past the grace, as the data names it: a dead owner would be reserved or dropped by now.
    await until(() => Date.now() > Date.parse(a.allocatedAt) + 2000, 'the grace to pass');
    const list = box.run(['list', '-v', '--json']);
    expect(byLock(list.json.allocations, a.lockId).owner).toEqual(a.owner);
    expect(byLock(list.json.allocations, a.lockId).ownerNote).toBeUndefined();
    const other = box.run(['allocate', '-s', 'dev', '-p', String(a.port), '--json']);
    expect(other.json.port).not.toBe(a.port);
    // doctor on the host judges it too: alive.
    const doctor = box.run(['doctor', '--json']);
    const checks = doctor.json.checks ?? doctor.json.error.details.checks;
    expect(checks.find((c: { name: string }) => c.name === 'ended owners')).toBeUndefined();
  } finally {
    await stop(ctr);
  }
  // Its namespace has ended: the host sees it and holds the port for the grace only.
  const after = byLock(listed(), box.readState().allocations.find((x: any) => x.instanceId === 'ctr').lockId);
  expect(after.owner.reservedUntil).toEqual(expect.any(String));
});

nsTest('an owner the container cannot judge is freed by release from there', () => {
  const owner = sleeper();
  try {
    const held = box.run(['allocate', '-s', 'api', '--pid', String(owner.pid), '--json']).json;
    // Kept there (it cannot be judged), until released by name.
    expect(inNamespace(['list', '--json']).json.allocations.map((a: { lockId: string }) => a.lockId)).toContain(held.lockId);
    const released = inNamespace(['release', held.lockId, '--json']);
    expect([released.code, released.json.success]).toEqual([0, true]);
    expect(listed().map((a) => a.lockId)).not.toContain(held.lockId);
  } finally {
    owner.kill('SIGKILL');
  }
});
