import { spawn, spawnSync, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { BIN, closeServer, listen, markingFirstConnect, useSandboxAndStrays, waitFor } from '../helpers/cli';

// A `styxy run` killed before its server listens, and single-instance answers that stay true
// when a holder crashes: nothing is started twice, no one waits for a
// server that is not coming, and no answer names a dead PID or the caller as the holder.

const { box, strays } = useSandboxAndStrays();

const NODE = process.execPath;

interface Ended {
  code: number | null;
  stdout: string;
  stderr: string;
}

function start(args: string[], extraEnv: NodeJS.ProcessEnv = {}): { proc: ChildProcess; done: Promise<Ended> } {
  const proc = spawn(NODE, [BIN, ...args], { cwd: box.cwd, env: { ...box.env, ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
  strays.push(proc.pid as number);
  let stdout = '';
  let stderr = '';
  proc.stdout!.on('data', (d) => (stdout += d));
  proc.stderr!.on('data', (d) => (stderr += d));
  const done = new Promise<Ended>((resolve) => proc.on('exit', (code) => resolve({ code, stdout, stderr })));
  return { proc, done };
}

/** A shell command that waits for `gate` to exist, notes its start in `started`, then runs `then`. */
function gated(gate: string, started: string, then: string): string[] {
  return ['sh', '-c', `echo $$ >> ${started}; while [ ! -e ${gate} ]; do sleep 0.05; done; ${then}`];
}

const PYTHON_SERVER = 'exec python3 -m http.server "$PORT" --bind 127.0.0.1';
const allocations = () => box.run(['list', '--json']).json.allocations;

/** The PIDs of the processes listening on `port` (Linux, from /proc). */
function listeners(port: number): number[] {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  const inodes = new Set<string>();
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of fs.readFileSync(file, 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f[1]?.endsWith(`:${hex}`) && f[3] === '0A') inodes.add(f[9] as string);
    }
  }
  const pids: number[] = [];
  for (const name of fs.readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      for (const fd of fs.readdirSync(`/proc/${name}/fd`)) {
        const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${name}/fd/${fd}`));
        if (m && inodes.has(m[1] as string)) {
          pids.push(Number(name));
          break;
        }
      }
    } catch {
      /* ended meanwhile */
    }
  }
  return pids;
}

describe('a run killed (SIGKILL) before its server listens', () => {
  test('a second run of the single-instance service waits for the orphan, which takes the allocation over: one server', async () => {
    const gate = path.join(box.dir, 'gate');
    const firstStarted = path.join(box.dir, 'first-started');
    const secondStarted = path.join(box.dir, 'second-started');
    const first = start(['run', '-s', 'ai', '-n', 'rag', '--', ...gated(gate, firstStarted, PYTHON_SERVER)]);
    const shell = await waitFor('the first command to start', () => fs.existsSync(firstStarted) && Number(fs.readFileSync(firstStarted, 'utf8')));
    strays.push(shell);
    const port = allocations()[0].port as number;
    first.proc.kill('SIGKILL');
    await first.done;

    const probing = path.join(box.dir, 'probing');
    const second = start(['run', '-s', 'ai', '-n', 'rag', '--', ...gated(gate, secondStarted, PYTHON_SERVER)], markingFirstConnect(box, probing));
    // The second run is waiting on the port; now the orphan goes on and listens.
    await waitFor('the second run to wait on the port', () => fs.existsSync(probing));
    fs.writeFileSync(gate, '');
    const ended = await second.done;
    expect(ended.code).toBe(0);
    expect(fs.existsSync(secondStarted)).toBe(false);
    expect(listeners(port)).toEqual([shell]);
    expect(allocations()).toEqual([expect.objectContaining({ port, serviceType: 'ai', instanceId: 'rag', owner: expect.objectContaining({ pid: shell }) })]);
    // Nothing else of the type was handed out meanwhile.
    expect(box.run(['allocate', '-s', 'ai', '-n', 'other', '--json']).json).toMatchObject({ existing: true, port, existingPid: shell });
  }, 60_000);

  test('killed together with its command: nothing is starting, so the next run starts at once', async () => {
    const gate = path.join(box.dir, 'gate');
    const firstStarted = path.join(box.dir, 'first-started');
    const secondStarted = path.join(box.dir, 'second-started');
    const first = start(['run', '-s', 'ai', '-n', 'rag', '--', ...gated(gate, firstStarted, PYTHON_SERVER)]);
    const shell = await waitFor('the first command to start', () => fs.existsSync(firstStarted) && Number(fs.readFileSync(firstStarted, 'utf8')));
    process.kill(shell, 'SIGKILL');
    first.proc.kill('SIGKILL');
    await first.done;
    fs.writeFileSync(gate, '');
    const second = start(['run', '-s', 'ai', '-n', 'rag', '--', ...gated(gate, secondStarted, PYTHON_SERVER)]);
    const server = await waitFor('the second server to start', () => fs.existsSync(secondStarted) && Number(fs.readFileSync(secondStarted, 'utf8')));
    strays.push(server);
    second.proc.kill('SIGTERM');
    expect((await second.done).code).not.toBeNull();
  }, 60_000);
});

describe('a command that fails because its port was taken', () => {
  test('run says the port is held by another process (the hook for naming who)', async () => {
    const gate = path.join(box.dir, 'gate');
    const started = path.join(box.dir, 'started');
    const run = start(['run', '-s', 'dev', '--', ...gated(gate, started, 'exit 1')]);
    await waitFor('the command to start', () => fs.existsSync(started));
    const port = allocations()[0].port as number;
    const squatter = await listen(port, '127.0.0.1');
    try {
      fs.writeFileSync(gate, '');
      const ended = await run.done;
      expect(ended.code).toBe(1);
      expect(ended.stderr).toContain(`port ${port} is held by another process`);
    } finally {
      await closeServer(squatter);
    }
  });
});

describe('a detached start whose port was taken', () => {
  test('start says the port is held by another process', async () => {
    const gate = path.join(box.dir, 'gate');
    const started = path.join(box.dir, 'started');
    const run = start(['start', '-s', 'dev', '--json', '--', ...gated(gate, started, 'exit 1')]);
    strays.push(await waitFor('the command to start', () => fs.existsSync(started) && Number(fs.readFileSync(started, 'utf8'))));
    const port = allocations()[0].port as number;
    const squatter = await listen(port, '127.0.0.1');
    try {
      fs.writeFileSync(gate, '');
      const ended = await run.done;
      expect([ended.code, JSON.parse(ended.stdout).error.code]).toEqual([125, 'SERVER_EXITED']);
      expect(ended.stderr).toContain(`port ${port} is held by another process`);
    } finally {
      await closeServer(squatter);
    }
  });
});

describe('single-instance answers are true', () => {
  test('a run of a single-instance type whose live run is still starting waits for it to listen, and starts nothing', async () => {
    const gate = path.join(box.dir, 'gate');
    const firstStarted = path.join(box.dir, 'first-started');
    const secondStarted = path.join(box.dir, 'second-started');
    const first = start(['run', '-s', 'ai', '-n', 'rag', '--', ...gated(gate, firstStarted, PYTHON_SERVER)]);
    const server = await waitFor('the first command to start', () => fs.existsSync(firstStarted) && Number(fs.readFileSync(firstStarted, 'utf8')));
    const port = allocations()[0].port as number;
    const probing = path.join(box.dir, 'probing');
    const second = start(['run', '-s', 'ai', '-n', 'rag', '--', ...gated(gate, secondStarted, PYTHON_SERVER)], markingFirstConnect(box, probing));
    await waitFor('the second run to wait on the port', () => fs.existsSync(probing));
    fs.writeFileSync(gate, '');
    expect((await second.done).code).toBe(0);
    // It returned because the service listens now, not before.
    expect(listeners(port)).toEqual([server]);
    expect(fs.existsSync(secondStarted)).toBe(false);
    first.proc.kill('SIGTERM');
    expect((await first.done).code).not.toBeNull();
  }, 60_000);

  test('--wait-ready notices that the holder crashed and takes over at once, instead of waiting out its timeout', async () => {
    const gate = path.join(box.dir, 'gate');
    const started = path.join(box.dir, 'started');
    // The RAG server crashes while starting: its run ends with its status and releases the port.
    const first = start(['run', '-s', 'ai', '-n', 'rag', '--', ...gated(gate, started, 'exec python3 -c "raise SystemExit(3)"')]);
    await waitFor('the server to start', () => fs.existsSync(started));
    const port = allocations()[0].port as number;
    const probing = path.join(box.dir, 'probing');
    const waiter = start(['allocate', '-s', 'ai', '-n', 'rag2', '--wait-ready', '60', '--json'], markingFirstConnect(box, probing));
    await waitFor('the waiter to wait on the port', () => fs.existsSync(probing));
    fs.writeFileSync(gate, '');
    expect((await first.done).code).toBe(3);
    const answer = await waiter.done;
    expect(answer.code).toBe(0);
    expect(JSON.parse(answer.stdout)).toMatchObject({ success: true, existing: false, instanceId: 'rag2', port });
  }, 60_000);

  test('during a reservation: no dead PID and not the caller named as the running holder; the same id takes it over', () => {
    // The owner (a shell that asked and ended) is gone before anything listens: the port is reserved.
    const reservedBy = shellAllocate();
    const other = box.run(['allocate', '-s', 'ai', '-n', 'other', '--json']).json;
    expect(other).toMatchObject({ success: true, existing: true, starting: true, existingPid: null, lockId: reservedBy.lockId });
    const same = box.run(['allocate', '-s', 'ai', '-n', 'rag', '--json']).json;
    expect(same).toMatchObject({ success: true, existing: false, reused: true, ownerChange: 'hand-over', lockId: reservedBy.lockId });
    expect(same.existingPid).toBeUndefined();
  });
});

/** An allocation of `ai`/`rag` made by a shell that then ends, nothing listening: reserved at the next call. */
function shellAllocate(): { lockId: string } {
  const r = spawnSync('sh', ['-c', `${NODE} ${BIN} allocate -s ai -n rag --json; true`], { cwd: box.cwd, env: box.env, encoding: 'utf8' });
  return JSON.parse(r.stdout);
}

describe('a second start or run of a sticky name whose start is still starting (any type)', () => {
  /** Starts `start -s dev -n web2` gated on `gate`, then `then`; resolves once its command runs. */
  async function firstStart(gate: string, then: string) {
    const started = path.join(box.dir, 'first-started');
    const first = start(['start', '-s', 'dev', '-n', 'web2', '--json', '--', ...gated(gate, started, then)]);
    strays.push(await waitFor('the first command to start', () => fs.existsSync(started) && Number(fs.readFileSync(started, 'utf8'))));
    return first;
  }

  /** Starts a second styxy, and resolves once it probes a port (waits) or has ended already (did not wait). */
  async function second(args: string[]) {
    const probing = path.join(box.dir, 'probing');
    const proc = start(args, markingFirstConnect(box, probing));
    let ended = false;
    void proc.done.then(() => (ended = true));
    await waitFor('the second to wait on the port, or end', () => fs.existsSync(probing) || ended);
    return proc;
  }

  test('start waits: when the first fails, it does not claim success, and starts (and fails) on its own', async () => {
    const gate = path.join(box.dir, 'gate');
    const first = await firstStart(gate, 'exit 4');
    const again = await second(['start', '-s', 'dev', '-n', 'web2', '--json', '--', ...gated(gate, path.join(box.dir, 'second-started'), 'exit 4')]);
    fs.writeFileSync(gate, '');
    expect(JSON.parse((await first.done).stdout).error.code).toBe('SERVER_EXITED');
    const answer = await again.done;
    expect([answer.code, JSON.parse(answer.stdout).error?.code]).toEqual([125, 'SERVER_EXITED']);
    expect(allocations()).toEqual([]);
  }, 60_000);

  test('start waits: when the first listens, it answers existing, naming the server, not the first start', async () => {
    const gate = path.join(box.dir, 'gate');
    const first = await firstStart(gate, PYTHON_SERVER);
    const secondStarted = path.join(box.dir, 'second-started');
    const again = await second(['start', '-s', 'dev', '-n', 'web2', '--json', '--', ...gated(gate, secondStarted, PYTHON_SERVER)]);
    fs.writeFileSync(gate, '');
    const server = JSON.parse((await first.done).stdout);
    strays.push(server.pid);
    const answer = await again.done;
    expect(answer.code).toBe(0);
    expect(JSON.parse(answer.stdout)).toMatchObject({ success: true, started: false, existing: true, port: server.port, pid: server.pid });
    expect(server.pid).not.toBe(first.proc.pid);
    expect(fs.existsSync(secondStarted)).toBe(false);
  }, 60_000);

  test('start waits no longer than --ready-timeout: still starting then is WAIT_TIMEOUT (exit 125), the first start untouched', async () => {
    const gate = path.join(box.dir, 'gate');
    const first = await firstStart(gate, 'exit 4');
    const again = await second(['start', '-s', 'dev', '-n', 'web2', '--ready-timeout', '1s', '--json', '--', 'true']);
    const answer = await again.done;
    expect([answer.code, JSON.parse(answer.stdout).error?.code]).toEqual([125, 'WAIT_TIMEOUT']);
    expect(allocations()).toEqual([expect.objectContaining({ instanceId: 'web2', owner: expect.objectContaining({ pid: first.proc.pid }) })]);
    fs.writeFileSync(gate, '');
    expect((await first.done).code).toBe(125);
  }, 60_000);

  test('run waits: when the first fails, the run starts its own command', async () => {
    const gate = path.join(box.dir, 'gate');
    const first = await firstStart(gate, 'exit 4');
    const ran = path.join(box.dir, 'ran');
    const again = await second(['run', '-s', 'dev', '-n', 'web2', '--', 'touch', ran]);
    fs.writeFileSync(gate, '');
    expect((await first.done).code).toBe(125);
    expect((await again.done).code).toBe(0);
    expect(fs.existsSync(ran)).toBe(true);
  }, 60_000);
});
