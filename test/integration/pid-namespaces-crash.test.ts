import { spawn, spawnSync, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as path from 'path';
import { BIN, freePortBlock, markingFirstConnect, useSandboxAndStrays, waitFor } from '../helpers/cli';
import { checkOutput } from '../helpers/output-schemas';

// Two containers (PID namespaces) share one STYXY_HOME, and a `styxy run` in the first is killed
// (SIGKILL) before its server listens. The second cannot see the first's processes: it must not
// take the reservation over and start a second copy of the service, nor drop the reservation
// because the run's marked processes are not in its /proc. Real `unshare -fp --mount-proc`, as root.

const canUnshare = process.getuid?.() === 0 && spawnSync('unshare', ['-fp', '--mount-proc', 'true']).status === 0;
if (!canUnshare) console.warn('pid-namespaces-crash.test.ts skipped: needs root and unshare -p (util-linux)');
const nsTest = canUnshare ? test : test.skip;

const { box, strays } = useSandboxAndStrays();
const NODE = process.execPath;

function parse(stdout: string): any {
  try {
    return JSON.parse(stdout);
  } catch {
    return undefined;
  }
}

/** A shell script as PID 1 of a namespace of its own that stays up until its group is killed: a container. */
function container(script: string): ChildProcess {
  const file = path.join(box.dir, `container-${Math.random().toString(16).slice(2)}.sh`);
  fs.writeFileSync(file, script);
  const child = spawn('unshare', ['-fp', '--mount-proc', 'sh', file], {
    cwd: box.cwd,
    env: { ...box.env, STYXY: `${NODE} ${BIN}` },
    detached: true,
    stdio: 'ignore',
  });
  strays.push(child.pid as number);
  return child;
}

/**
 * Container A: a `styxy run` of ai/rag whose command waits for `gate`, then serves; the run is
 * killed with SIGKILL as soon as its command has started. Its server is then starting in there.
 */
async function killedRunInContainer(): Promise<{ gate: string; lockId: string; port: number }> {
  const gate = path.join(box.dir, 'gate');
  const started = path.join(box.dir, 'first-started');
  const killed = path.join(box.dir, 'killed');
  const command = `while [ ! -e ${gate} ]; do sleep 0.05; done; exec python3 -m http.server "$PORT" --bind 127.0.0.1`;
  container(
    [
      `$STYXY run -s ai -n rag -- sh -c 'echo $$ > ${started}; ${command}' >/dev/null 2>&1 &`,
      'R=$!',
      `while [ ! -s ${started} ]; do sleep 0.05; done`,
      'kill -9 $R',
      'wait $R',
      // The next call in there finds the run ended and its command still starting: a reservation.
      '$STYXY list >/dev/null',
      `touch ${killed}`,
      'exec sleep 600',
      '',
    ].join('\n'),
  );
  await waitFor('the run in container A to be killed', () => fs.existsSync(killed), 30_000);
  const a = box.readState().allocations.find((x: any) => x.instanceId === 'rag');
  expect(a.owner).toMatchObject({ via: 'run', reservedUntil: expect.any(String) });
  return { gate, lockId: a.lockId, port: a.port };
}

beforeEach(() => {
  // Long enough that no reservation ends while a test runs.
  expect(box.run(['config', 'set', 'lifetime.reservation-grace-seconds', '600']).code).toBe(0);
});

nsTest(
  'another container asking for the killed run’s service is told it is starting; nothing is handed over',
  async () => {
    const { lockId, port } = await killedRunInContainer();
    const ask = (args: string[]) => {
      const r = spawnSync('unshare', ['-fp', '--mount-proc', NODE, BIN, ...args], { cwd: box.cwd, env: box.env, encoding: 'utf8', timeout: 60_000 });
      checkOutput(args, r.stdout, r.status);
      expect(r.status).toBe(0);
      return parse(r.stdout);
    };
    // The same instance (as the run's own two-call pattern asks) is left to the server starting over there.
    const same = ask(['allocate', '-s', 'ai', '-n', 'rag', '--json']);
    expect(same).toMatchObject({ lockId, port, reused: true, starting: true, existingPid: null });
    expect(same.ownerChange).toBeUndefined();
    // Any other caller is told the single instance is starting, with no PID of another namespace.
    const other = ask(['allocate', '-s', 'ai', '-n', 'other', '--json']);
    expect(other).toMatchObject({ lockId, port, existing: true, starting: true, existingPid: null });
    expect(other.ownerChange).toBeUndefined();
    expect(box.readState().allocations.find((x: any) => x.lockId === lockId).owner).toMatchObject({ via: 'run', reservedUntil: expect.any(String) });
  },
  60_000,
);

nsTest(
  'a run in another container waits for the orphan server and starts no second copy',
  async () => {
    const { gate, lockId, port } = await killedRunInContainer();
    const secondStarted = path.join(box.dir, 'second-started');
    const probing = path.join(box.dir, 'probing');
    const second = spawn(
      'unshare',
      [
        '-fp',
        '--mount-proc',
        NODE,
        BIN,
        'run',
        '-s',
        'ai',
        '-n',
        'rag',
        '--',
        'sh',
        '-c',
        `echo $$ > ${secondStarted}; exec python3 -m http.server "$PORT" --bind 127.0.0.1`,
      ],
      { cwd: box.cwd, env: { ...box.env, ...markingFirstConnect(box, probing) }, stdio: ['ignore', 'pipe', 'pipe'], detached: true },
    );
    strays.push(second.pid as number);
    let stderr = '';
    second.stderr!.on('data', (d) => (stderr += d));
    const done = new Promise<number | null>((resolve) => second.on('exit', (code) => resolve(code)));
    // The second run waits on the port (or has already started its own copy: then the test fails below).
    await waitFor('the second run to wait on the port, or start', () => fs.existsSync(probing) || fs.existsSync(secondStarted), 30_000);
    fs.writeFileSync(gate, '');
    expect(await done).toBe(0);
    expect(fs.existsSync(secondStarted)).toBe(false);
    expect(stderr).toContain(`is already running on port ${port}`);
    const a = box.readState().allocations.find((x: any) => x.lockId === lockId);
    expect(a.owner.pidNs).toBeDefined();
    expect(a.owner.via).toBe('run');
  },
  60_000,
);

nsTest(
  'a call in another container that prunes its own ended owner keeps the killed run’s reservation',
  async () => {
    const { lockId } = await killedRunInContainer();
    const before = box.readState().allocations.find((x: any) => x.lockId === lockId);
    const out = path.join(box.dir, 'b-list.json');
    // Container B: an owner of its own that ends, then a call there that judges (and drops) it.
    const script = `sleep 600 & P=$!; $STYXY allocate -s dev -n gone --pid $P -q >/dev/null; kill $P; wait $P; $STYXY list --json > ${out}`;
    const r = spawnSync('unshare', ['-fp', '--mount-proc', 'sh', '-c', script], {
      cwd: box.cwd,
      env: { ...box.env, STYXY: `${NODE} ${BIN}` },
      encoding: 'utf8',
    });
    expect(r.status).toBe(0);
    const listed = JSON.parse(fs.readFileSync(out, 'utf8'));
    expect(listed.allocations.map((x: any) => x.instanceId)).toEqual(['rag']);
    expect(box.readState().allocations.find((x: any) => x.lockId === lockId)).toEqual(before);
  },
  60_000,
);

/** Whether something accepts a connection on 127.0.0.1:port. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

nsTest(
  'a container’s served run: another container’s stop refuses and keeps it; the host’s why, stop and allocate say where its owner is',
  async () => {
    container(`$STYXY run -s ai -n ctr -- sh -c 'exec python3 -m http.server "$PORT" --bind 127.0.0.1' >/dev/null 2>&1 &\nexec sleep 600\n`);
    const a = await waitFor('the container’s run to serve', async () => {
      const found = fs.existsSync(`${box.home}/state.json`) ? box.readState().allocations.find((x: any) => x.instanceId === 'ctr') : undefined;
      return found && (await accepts(found.port)) && found;
    });
    const port = String(a.port);
    const inB = (args: string[]) => {
      const r = spawnSync('unshare', ['-fp', '--mount-proc', NODE, BIN, ...args], { cwd: box.cwd, env: box.env, encoding: 'utf8', timeout: 60_000 });
      checkOutput(args, r.stdout, r.status);
      return { code: r.status, json: parse(r.stdout) };
    };
    for (const flags of [[], ['--force'], ['--dry-run']]) {
      const r = inB(['stop', port, '--json', ...flags]);
      expect([r.code, r.json.error?.code, r.json.error?.details?.reason]).toEqual([26, 'STOP_REFUSED', 'unseen']);
    }
    const why = inB(['why', port, '--json']);
    expect([why.code, why.json.kind]).toEqual([40, 'allocation']);
    expect(why.json.summary).toContain('cannot be seen from here');
    expect(why.json.summary).not.toContain(`Stop it: styxy stop ${port}`);
    expect(box.readState().allocations.find((x: any) => x.lockId === a.lockId)).toEqual(a);
    expect(await accepts(a.port)).toBe(true);
    // check there names the owner's PID as the other namespace's, not as one of its own.
    const check = spawnSync('unshare', ['-fp', '--mount-proc', NODE, BIN, 'check', port], { cwd: box.cwd, env: box.env, encoding: 'utf8' });
    expect(check.stdout).toContain(`Owner: PID ${a.owner.pid} in PID namespace ${a.owner.pidNs} (`);

    // The host sees the container's processes: its PID there is not the host's.
    const hostWhy = box.run(['why', port, '--json']);
    expect(hostWhy.json.summary).toMatch(new RegExp(`styxy run PID ${a.owner.pid} in PID namespace ${a.owner.pidNs} \\(host PID \\d+\\)`));
    expect(hostWhy.json.summary).toContain(`Stop it: styxy stop ${port} --force`);
    const hostStop = box.run(['stop', port, '--json']);
    expect(hostStop.json.error.code).toBe('FORCE_REQUIRED');
    expect(hostStop.json.error.message).toContain('in another PID namespace');
    expect(hostStop.json.error.message).not.toContain('ended');

    // The single instance's PID, as each caller numbers it: the host's (the run there), or none.
    const hostAsk = box.run(['allocate', '-s', 'ai', '-n', 'other', '--json']).json;
    expect(hostAsk).toMatchObject({ existing: true, lockId: a.lockId });
    expect(hostAsk.existingPid).not.toBe(a.owner.pid);
    expect(fs.readFileSync(`/proc/${hostAsk.existingPid}/cmdline`, 'utf8').split('\0')).toEqual(expect.arrayContaining(['run', 'ctr']));
    const nsAsk = inB(['allocate', '-s', 'ai', '-n', 'other', '--json']).json;
    expect(nsAsk).toMatchObject({ existing: true, lockId: a.lockId, existingPid: null });

    // Released from the other container: the warning names the run by its namespace, not as a PID of there.
    const released = inB(['release', a.lockId, '--json']).json;
    expect(released.warnings).toEqual([expect.stringContaining(`styxy run (PID ${a.owner.pid} in PID namespace ${a.owner.pidNs})`)]);
  },
  60_000,
);

nsTest(
  'a container’s orphan server that took its killed run’s port over: another container’s run names no PID of there',
  async () => {
    const port = await freePortBlock(1);
    const done = path.join(box.dir, 'adopted');
    const connect = `python3 -c "import socket; socket.create_connection(('127.0.0.1', ${port}), 1)" 2>/dev/null`;
    container(
      [
        `$STYXY run -s dev -n adopt -p ${port} -- sh -c 'exec python3 -m http.server "$PORT" --bind 127.0.0.1' >/dev/null 2>&1 &`,
        'R=$!',
        `until ${connect}; do sleep 0.05; done`,
        'kill -9 $R',
        'wait $R',
        // The next call in there lets the server take the allocation over (its PID there).
        `$STYXY list >/dev/null; touch ${done}`,
        'exec sleep 600',
        '',
      ].join('\n'),
    );
    await waitFor('the orphan to take the port over', () => fs.existsSync(done), 30_000);
    const a = box.readState().allocations.find((x: any) => x.instanceId === 'adopt');
    expect(a.owner).toMatchObject({ adoptedAt: expect.any(String) });
    const marker = path.join(box.dir, 'second');
    const r = spawnSync('unshare', ['-fp', '--mount-proc', NODE, BIN, 'run', '-s', 'dev', '-n', 'adopt', '--', 'touch', marker], {
      cwd: box.cwd,
      env: box.env,
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.status).toBe(0);
    expect(fs.existsSync(marker)).toBe(false);
    expect(r.stderr).toContain(`'adopt' is already running on port ${port}; not starting touch`);
  },
  60_000,
);
