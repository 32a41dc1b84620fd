import { spawn, spawnSync, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as path from 'path';
import { BIN, markingFirstConnect, sleeper, useSandboxAndStrays, waitFor } from '../helpers/cli';

// What `styxy run` owns and what it ends: it never releases an
// allocation it did not create, and nothing the command started outlives it.

const { box, strays } = useSandboxAndStrays();

const NODE = process.execPath;
const env = () => ({ ...box.env, npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_loglevel: 'silent' });

/** A node server on 127.0.0.1:$PORT that writes its PID to `$READY` once it listens. */
function serverScript(): string {
  const file = path.join(box.dir, 'server.js');
  fs.writeFileSync(
    file,
    `const fs = require("fs");
     require("http").createServer((q, s) => s.end("ok")).listen(Number(process.env.PORT), "127.0.0.1", () => {
       fs.writeFileSync(process.env.READY, String(process.pid));
     });`,
  );
  return file;
}

interface Ended {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function startRun(args: string[], extraEnv: NodeJS.ProcessEnv = {}): { proc: ChildProcess; done: Promise<Ended> } {
  const proc = spawn(NODE, [BIN, 'run', ...args], { cwd: box.cwd, env: { ...env(), ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  proc.stdout!.on('data', (d) => (stdout += d));
  proc.stderr!.on('data', (d) => (stderr += d));
  const done = new Promise<Ended>((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal, stdout, stderr })));
  return { proc, done };
}

/**
 * Runs `argv` on a real terminal (Python's pty), reading what it shows; `steps` is Python run
 * once it has started, with `pid`, `fd` and `wait_for(path)` (until the file has content) at hand.
 * The result's stdout is `{"exit": status}` once the terminal has closed.
 */
function inTerminal(steps: string, argv: string[], environment: NodeJS.ProcessEnv, timeout: number) {
  const driver = `
import os, pty, sys, time, json, signal
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
def wait_for(path):
    deadline = time.time() + 20
    while not (os.path.exists(path) and os.path.getsize(path) > 0):
        if time.time() > deadline: raise SystemExit("timeout: " + path)
        try:
            os.read(fd, 4096)
        except OSError:
            pass
        time.sleep(0.02)
os.set_blocking(fd, False)
${steps}
os.set_blocking(fd, True)
while True:
    try:
        if not os.read(fd, 4096): break
    except OSError:
        break
_, status = os.waitpid(pid, 0)
print(json.dumps({"exit": os.waitstatus_to_exitcode(status)}))
`;
  return spawnSync('python3', ['-c', driver, ...argv], { cwd: box.cwd, env: environment, encoding: 'utf8', timeout });
}

/** The PID a server wrote to its ready file, once it listens. */
async function serverReady(file: string): Promise<number> {
  const pid = await waitFor(file, () => fs.existsSync(file) && Number(fs.readFileSync(file, 'utf8')));
  strays.push(pid);
  return pid;
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** True while `pid` runs and is not a zombie. */
function isRunning(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    return !/^[ZX]/.test(stat.slice(stat.lastIndexOf(')') + 2));
  } catch {
    return false;
  }
}

const allocations = () => box.run(['list', '--json']).json.allocations;
const auditActions = () => box.run(['audit', '--json']).json.events.map((e: { action: string; lockId: string }) => `${e.action} ${e.lockId}`);

describe('run never releases what it did not create', () => {
  test.each([
    ['persistent', ['--persistent']],
    ['lease', ['--ttl', '2h']],
  ])('a %s sticky allocation survives run with the same id, and run used its port', (_what, ownerFlags) => {
    const made = box.run(['allocate', '-s', 'dev', '-n', 'web', ...ownerFlags, '--json']).json;
    const before = JSON.stringify(box.readState().allocations);
    const r = box.run(['run', '-s', 'dev', '-n', 'web', '--', 'sh', '-c', 'echo "$PORT $STYXY_LOCK_ID"']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${made.port} ${made.lockId}\n`);
    expect(JSON.stringify(box.readState().allocations)).toBe(before);
    expect(auditActions()).toEqual([`allocate ${made.lockId}`]);
  });

  test('a sticky allocation held by a live owner that does not listen: run uses it and leaves it with that owner', () => {
    const owner = sleeper();
    try {
      const made = box.run(['allocate', '-s', 'dev', '-n', 'web', '--pid', String(owner.pid), '--json']).json;
      const before = JSON.stringify(box.readState().allocations);
      const r = box.run(['run', '-s', 'dev', '-n', 'web', '--', 'sh', '-c', 'echo $PORT; exit 3']);
      expect(r.code).toBe(3);
      expect(r.stdout).toBe(`${made.port}\n`);
      expect(JSON.stringify(box.readState().allocations)).toBe(before);
      expect(allocations()).toMatchObject([{ lockId: made.lockId, owner: { kind: 'process', pid: owner.pid } }]);
    } finally {
      owner.kill('SIGKILL');
    }
  });

  test('two runs with one id: the second starts nothing and exits 0; SIGTERM to the first leaves nothing listening or allocated', async () => {
    const ready = path.join(box.dir, 'ready');
    const first = startRun(['-s', 'dev', '-n', 'web', '--', NODE, serverScript()], { READY: ready });
    const serverPid = await serverReady(ready);
    const [held] = allocations();
    expect(held).toMatchObject({ instanceId: 'web', owner: { kind: 'process', pid: first.proc.pid } });
    expect(await accepts(held.port)).toBe(true);

    const marker = path.join(box.dir, 'second-started');
    const second = box.run(['run', '-s', 'dev', '-n', 'web', '--', 'touch', marker]);
    expect(second.code).toBe(0);
    expect(second.stdout).toBe('');
    expect(second.stderr).toContain(`'web' is already running on port ${held.port} (PID ${serverPid})`);
    expect(fs.existsSync(marker)).toBe(false);
    expect(allocations()).toEqual([held]);

    first.proc.kill('SIGTERM');
    expect((await first.done).code).toBe(143);
    expect(await accepts(held.port)).toBe(false);
    expect(isRunning(serverPid)).toBe(false);
    expect(allocations()).toEqual([]);
  });
});

describe('run ends the whole tree it started', () => {
  test("SIGTERM to a run whose server is a grandchild (sh -c 'server & wait'): nothing listens, nothing is allocated", async () => {
    const ready = path.join(box.dir, 'ready');
    const run = startRun(['-s', 'dev', '--', 'sh', '-c', `${NODE} ${serverScript()} & wait`], { READY: ready });
    const serverPid = await serverReady(ready);
    const [held] = allocations();
    run.proc.kill('SIGTERM');
    const ended = await run.done;
    expect(ended.code).toBe(143);
    expect(isRunning(serverPid)).toBe(false);
    expect(await accepts(held.port)).toBe(false);
    expect(allocations()).toEqual([]);
    expect(ended.stderr).toContain(`ended a process the command left running (PID ${serverPid})`);
  });

  test('SIGTERM to a run of `npm run` with a server script: nothing listens, nothing is allocated', async () => {
    const ready = path.join(box.dir, 'ready');
    fs.writeFileSync(path.join(box.cwd, 'package.json'), JSON.stringify({ name: 'app', private: true, scripts: { serve: `node ${serverScript()}` } }));
    const run = startRun(['-s', 'dev', '--', 'npm', 'run', 'serve'], { READY: ready });
    const serverPid = await serverReady(ready);
    const [held] = allocations();
    run.proc.kill('SIGTERM');
    await run.done;
    expect(isRunning(serverPid)).toBe(false);
    expect(await accepts(held.port)).toBe(false);
    expect(allocations()).toEqual([]);
  });

  test('a command that starts a server in the background and exits: the server is ended, then the port released', async () => {
    const ready = path.join(box.dir, 'ready');
    const pidFile = path.join(box.dir, 'bg-pid');
    // sh exits as soon as the server is forked: the server is reparented before run ever sees it
    // under sh, and is known as run's by the environment it inherited.
    const r = await new Promise<Ended>((resolve) => {
      const { done } = startRun(['-s', 'dev', '--', 'sh', '-c', `${NODE} ${serverScript()} > /dev/null 2>&1 & echo $! > ${pidFile}`], { READY: ready });
      void done.then(resolve);
    });
    const serverPid = Number(fs.readFileSync(pidFile, 'utf8'));
    strays.push(serverPid);
    expect(r.code).toBe(0);
    expect(isRunning(serverPid)).toBe(false);
    expect(allocations()).toEqual([]);
    expect(r.stderr).toContain(`(PID ${serverPid})`);
  });

  test('a server that waited until it listened, then its shell exited: ended too, nothing listens', async () => {
    const ready = path.join(box.dir, 'ready');
    const r = box.run(['run', '-s', 'dev', '--', 'sh', '-c', `${NODE} ${serverScript()} & while [ ! -s ${ready} ]; do sleep 0.05; done`], {
      env: { READY: ready },
    });
    const serverPid = Number(fs.readFileSync(ready, 'utf8'));
    strays.push(serverPid);
    expect(r.code).toBe(0);
    expect(isRunning(serverPid)).toBe(false);
    expect(allocations()).toEqual([]);
  });

  test('a server that drops the run marker from its environment is still found through its parent', async () => {
    const ready = path.join(box.dir, 'ready');
    const run = startRun(['-s', 'dev', '--', 'sh', '-c', `env -u STYXY_RUN_ID ${NODE} ${serverScript()} & wait`], { READY: ready });
    const serverPid = await serverReady(ready);
    run.proc.kill('SIGTERM');
    await run.done;
    expect(isRunning(serverPid)).toBe(false);
    expect(allocations()).toEqual([]);
  });

  test('a command that ignores the forwarded SIGTERM is ended after the grace, and the port released', async () => {
    const ready = path.join(box.dir, 'ready');
    const stubborn = path.join(box.dir, 'stubborn.js');
    fs.writeFileSync(
      stubborn,
      `process.on("SIGTERM", () => {}); require("fs").writeFileSync(process.env.READY, String(process.pid)); setInterval(() => {}, 1000);`,
    );
    // The grace shortened from 5 s to 0.5 s: what is shown is that it ends, not how long it is.
    const run = startRun(['-s', 'dev', '--', NODE, stubborn], { READY: ready, STYXY_TEST_FORWARD_GRACE_MS: '500' });
    await serverReady(ready);
    run.proc.kill('SIGTERM');
    const ended = await run.done;
    expect(ended.code).toBe(137); // SIGTERM ignored, then SIGKILL
    expect(allocations()).toEqual([]);
  }, 30_000);
});

describe('Ctrl-C in a terminal', () => {
  test('stops the command once (not twice), the command reads the keyboard, and run exits with its status', () => {
    const counts = path.join(box.dir, 'sigints');
    const typed = path.join(box.dir, 'typed');
    const ready = path.join(box.dir, 'ready');
    const command = path.join(box.dir, 'interactive.js');
    // Counts the SIGINTs it gets, waits long enough for a second one to show, then exits 42.
    fs.writeFileSync(
      command,
      `const fs = require("fs");
       let n = 0;
       process.on("SIGINT", () => { n++; fs.writeFileSync(${JSON.stringify(counts)}, String(n)); if (n === 1) setTimeout(() => process.exit(42), 700); });
       process.stdin.on("data", (d) => fs.appendFileSync(${JSON.stringify(typed)}, d));
       fs.writeFileSync(${JSON.stringify(ready)}, "1");`,
    );
    // A real terminal: run is the session's foreground job, as in a shell. The keys typed: a line, then Ctrl-C.
    const r = inTerminal(
      `wait_for(${JSON.stringify(ready)})\nos.write(fd, b"r\\n")\nwait_for(${JSON.stringify(typed)})\nos.write(fd, b"\\x03")`,
      [NODE, BIN, 'run', '-s', 'dev', '--', NODE, command],
      env(),
      60_000,
    );
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({ exit: 42 });
    expect(fs.readFileSync(counts, 'utf8')).toBe('1');
    expect(fs.readFileSync(typed, 'utf8')).toBe('r\n');
    expect(allocations()).toEqual([]);
  });
});

/** A command for `run` that writes $PORT to $READY, then waits until the file $GO exists. */
// Ends too once the sandbox is gone, so a failing test leaves nothing running.
const WAIT_FOR_GO = ['sh', '-c', 'echo "$PORT" > "$READY"; while [ -e "$READY" ] && [ ! -e "$GO" ]; do sleep 0.05; done'];

describe('what others make theirs while run runs', () => {
  test('run creates web; allocate --persistent makes it persistent meanwhile; run ends and leaves it', async () => {
    const ready = path.join(box.dir, 'ready');
    const go = path.join(box.dir, 'go');
    const run = startRun(['-s', 'dev', '-n', 'web', '--', ...WAIT_FOR_GO], { READY: ready, GO: go });
    const port = await waitFor('the command to start', () => fs.existsSync(ready) && Number(fs.readFileSync(ready, 'utf8')));
    const kept = box.run(['allocate', '-s', 'dev', '-n', 'web', '--persistent', '--json']).json;
    expect(kept).toMatchObject({ port, reused: true, ownerChange: 'persist' });
    fs.writeFileSync(go, '');
    expect((await run.done).code).toBe(0);
    expect(allocations()).toEqual([expect.objectContaining({ lockId: kept.lockId, port, owner: { kind: 'persistent' } })]);
    expect(auditActions()).toEqual([`allocate ${kept.lockId}`, `persist ${kept.lockId}`]);
  });

  test('a reserved sticky allocation (its owner ended) is taken over by run, kept past the grace, released at its end', async () => {
    box.run(['config', 'set', 'lifetime.reservation-grace-seconds', '2']);
    const once = spawnSync('sh', ['-c', `"${NODE}" "${BIN}" allocate -s dev -n web -q; true`], { cwd: box.cwd, env: env(), encoding: 'utf8' });
    const port = Number(once.stdout);
    expect(port).toBe(3000);
    const ready = path.join(box.dir, 'ready');
    const go = path.join(box.dir, 'go');
    const run = startRun(['-s', 'dev', '-n', 'web', '--', ...WAIT_FOR_GO], { READY: ready, GO: go });
    expect(await waitFor('the command to start', () => fs.existsSync(ready) && Number(fs.readFileSync(ready, 'utf8')))).toBe(port);
    const [held] = allocations();
    expect(held).toMatchObject({ port, instanceId: 'web', owner: { kind: 'process', pid: run.proc.pid } });
    expect(held.owner.reservedUntil).toBeUndefined();
    // Past the grace the bash owner had: the port is still the run's. That grace began when run
    // found the owner ended, before the allocation just read, so it is over 2 s from now.
    const graceOver = Date.now() + 2_000;
    await waitFor('the grace to pass', () => Date.now() > graceOver, 10_000);
    expect(box.run(['allocate', '-s', 'dev', '-q']).stdout.trim()).not.toBe(String(port));
    fs.writeFileSync(go, '');
    expect((await run.done).code).toBe(0);
    expect(allocations().map((a: { port: number }) => a.port)).not.toContain(port);
    expect(auditActions()).toContain(`release ${held.lockId}`);
  }, 30_000);

  test('a second run with the same id while the first is still starting: waits, starting nothing while the first runs', async () => {
    const ready = path.join(box.dir, 'ready');
    const go = path.join(box.dir, 'go');
    const first = startRun(['-s', 'dev', '-n', 'web', '--', ...WAIT_FOR_GO], { READY: ready, GO: go });
    const port = await waitFor('the command to start', () => fs.existsSync(ready) && Number(fs.readFileSync(ready, 'utf8')));
    const marker = path.join(box.dir, 'second-started');
    const probing = path.join(box.dir, 'probing');
    const second = startRun(['-s', 'dev', '-n', 'web', '--', 'touch', marker], markingFirstConnect(box, probing));
    await waitFor('the second run to wait on the port', () => fs.existsSync(probing));
    expect(fs.existsSync(marker)).toBe(false);
    expect(allocations()).toEqual([expect.objectContaining({ port, owner: expect.objectContaining({ pid: first.proc.pid, via: 'run' }) })]);
    // The first ends without ever listening: only now does the second run its command.
    fs.writeFileSync(go, '');
    expect((await first.done).code).toBe(0);
    expect((await second.done).code).toBe(0);
    expect(fs.existsSync(marker)).toBe(true);
    expect(allocations()).toEqual([]);
  });
});

describe('kill -INT to a run in the foreground of a terminal', () => {
  test('the command that goes on is ended after the grace, and the port released', () => {
    const ready = path.join(box.dir, 'ready');
    // run is the terminal's foreground job; a SIGINT sent to it alone (not the keyboard's).
    const r = inTerminal(
      `wait_for(${JSON.stringify(ready)})\nos.kill(pid, signal.SIGINT)`,
      [NODE, BIN, 'run', '-s', 'dev', '--', 'sh', '-c', `echo $$ > "${ready}"; exec sleep 60`],
      // The grace shortened from 5 s: what is shown is that the command is ended after it.
      { ...env(), STYXY_TEST_FORWARD_GRACE_MS: '500' },
      25_000,
    );
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({ exit: 143 });
    const sleepPid = Number(fs.readFileSync(ready, 'utf8'));
    strays.push(sleepPid);
    expect(isRunning(sleepPid)).toBe(false);
    expect(allocations()).toEqual([]);
  }, 30_000);
});
