import * as fs from 'fs';
import * as path from 'path';
import { spawn } from 'child_process';
import { runDetached } from '../../lib/app/detach';
import { callContext } from '../../lib/app/call-context';
import { envFor } from '../../lib/core/env-contract';
import { BIN, useSandboxAndStrays, waitFor } from '../helpers/cli';

// The detached start: `styxy start` / `styxy run --detach` start a server in a
// session of its own, wait until it listens, say where, and return while it keeps running.

const { box, strays: servers } = useSandboxAndStrays();

const PYTHON = ['python3', '-m', 'http.server', '--bind', '127.0.0.1'];

/** The session id of a live process, from /proc (field 6 of stat). */
function sessionOf(pid: number): number | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    const after = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return after[0] === 'Z' ? null : Number(after[3]);
  } catch {
    return null;
  }
}

const allocations = () => box.run(['list', '--json']).json.allocations;

describe('styxy start', () => {
  test('returns once the server listens, with EOF on its output pipe, the server running in its own session and owning the allocation', async () => {
    // box.start resolves on 'close': only once every holder of the stdout and stderr pipes has let go.
    const r = await box.start(['start', '-s', 'dev', '-n', 'web', '--json', '--', ...PYTHON]);
    expect(r.code).toBe(0);
    const answer = r.json;
    servers.push(answer.pid);
    expect(answer).toEqual({
      success: true,
      started: true,
      existing: false,
      port: expect.any(Number),
      url: `http://localhost:${answer.port}`,
      pid: expect.any(Number),
      logPath: expect.stringMatching(new RegExp(`^${path.join(box.home, 'logs')}/dev-web-[0-9a-f]{8}\\.log$`)),
      lockId: expect.any(String),
      serviceType: 'dev',
      instanceId: 'web',
    });
    expect(sessionOf(answer.pid)).toBe(answer.pid);
    expect(fs.statSync(path.join(box.home, 'logs')).mode & 0o777).toBe(0o700);
    expect(fs.statSync(answer.logPath).mode & 0o777).toBe(0o600);
    const res = await fetch(`http://127.0.0.1:${answer.port}/`);
    expect(res.status).toBe(200);
    expect(allocations()).toEqual([expect.objectContaining({ lockId: answer.lockId, port: answer.port, owner: expect.objectContaining({ pid: answer.pid }) })]);
    // The server's own log has its requests.
    await waitFor('the request in the log', () => fs.readFileSync(answer.logPath, 'utf8').includes('GET / '));

    // When the server ends, so does its allocation.
    process.kill(answer.pid, 'SIGTERM');
    await waitFor('the server to end', () => sessionOf(answer.pid) === null);
    expect(allocations()).toEqual([]);
  }, 30_000);

  test("the server holds none of the caller's inherited descriptors: a pipe the caller passed on sees its end while the server runs", async () => {
    // A caller (a make jobserver, a CI runner) hands styxy an extra pipe, fd 3 without close-on-exec.
    const child = spawn(process.execPath, [BIN, 'start', '-s', 'dev', '-n', 'web', '--json', '--', ...PYTHON], {
      cwd: box.cwd,
      env: box.env,
      stdio: ['ignore', 'pipe', 'inherit', 'pipe'],
    });
    let stdout = '';
    child.stdout?.on('data', (d) => (stdout += d));
    const stdoutDone = new Promise((resolve) => child.stdout?.once('end', resolve));
    const extra = child.stdio[3] as NodeJS.ReadableStream;
    extra.resume();
    const ended = new Promise<boolean>((resolve) => {
      extra.once('end', () => resolve(true));
      setTimeout(() => resolve(false), 15_000).unref();
    });
    const code = await new Promise((resolve) => child.once('exit', resolve));
    expect(code).toBe(0);
    await stdoutDone;
    const answer = JSON.parse(stdout);
    servers.push(answer.pid);
    expect(await ended).toBe(true);
    expect(sessionOf(answer.pid)).toBe(answer.pid);
    // The server's descriptors past its output: none is a pipe or socket it inherited.
    const targets = fs.readdirSync(`/proc/${answer.pid}/fd`).map((fd) => [Number(fd), fs.readlinkSync(`/proc/${answer.pid}/fd/${fd}`)] as const);
    expect(targets.filter(([fd, target]) => fd >= 3 && target.startsWith('pipe:'))).toEqual([]);
  }, 30_000);

  test('the same -s/-n in two projects: a log each, never rotated by the other; a restart in one project rotates its own', async () => {
    const other = path.join(box.dir, 'other-project');
    fs.mkdirSync(other);
    const say = (word: string) => ['sh', '-c', `echo ${word}; exec ${PYTHON.join(' ')} "$PORT"`];
    const a = await box.start(['start', '-s', 'dev', '-n', 'web', '--json', '--', ...say('from-a')]);
    servers.push(a.json.pid);
    const b = await box.start(['start', '-s', 'dev', '-n', 'web', '--json', '--', ...say('from-b')], { cwd: other });
    servers.push(b.json.pid);
    expect([a.code, b.code]).toEqual([0, 0]);
    expect(b.json.logPath).not.toBe(a.json.logPath);
    expect(fs.existsSync(`${a.json.logPath}.1`)).toBe(false);
    expect(fs.readFileSync(a.json.logPath, 'utf8')).toContain('from-a');
    expect(fs.readFileSync(b.json.logPath, 'utf8')).toContain('from-b');

    // Project a's server ends; its next start writes to the same name and keeps the last log as .1.
    process.kill(a.json.pid, 'SIGTERM');
    await waitFor('the server to end', () => sessionOf(a.json.pid) === null);
    const again = await box.start(['start', '-s', 'dev', '-n', 'web', '--json', '--', ...say('from-a-again')]);
    servers.push(again.json.pid);
    expect(again.json.logPath).toBe(a.json.logPath);
    expect(fs.readFileSync(`${a.json.logPath}.1`, 'utf8')).toContain('from-a');
    expect(fs.readFileSync(b.json.logPath, 'utf8')).toContain('from-b');
    expect(fs.existsSync(`${b.json.logPath}.1`)).toBe(false);
  }, 60_000);

  test('run --detach is the same; a single-instance service already running is not started again (exit 0, started: false)', async () => {
    const first = await box.start(['run', '--detach', '-s', 'ai', '-n', 'rag', '--json', '--', ...PYTHON]);
    expect(first.code).toBe(0);
    servers.push(first.json.pid);
    const marker = path.join(box.dir, 'second-started');
    const second = await box.start(['start', '-s', 'ai', '-n', 'other', '--json', '--', 'sh', '-c', `touch ${marker}; exec ${PYTHON.join(' ')} "$PORT"`]);
    expect(second.code).toBe(0);
    expect(second.json).toMatchObject({
      success: true,
      started: false,
      existing: true,
      port: first.json.port,
      pid: first.json.pid,
      logPath: null,
      instanceId: 'rag',
    });
    expect(fs.existsSync(marker)).toBe(false);
    const human = box.run(['start', '-s', 'ai', '--', ...PYTHON]);
    expect(human.code).toBe(0);
    expect(human.stdout).toBe(`port: ${first.json.port}\nurl: http://localhost:${first.json.port}\npid: ${first.json.pid}\nlog: -\n`);
  }, 30_000);

  test('a command that starts its server in the background and exits: the server is found by its mark, and owns the allocation', async () => {
    const r = await box.start(['start', '-s', 'dev', '--json', '--', 'sh', '-c', `${PYTHON.join(' ')} "$PORT" & exit 0`]);
    expect(r.code).toBe(0);
    servers.push(r.json.pid);
    expect(fs.readFileSync(`/proc/${r.json.pid}/cmdline`, 'latin1')).toContain('http.server');
    expect(allocations()).toEqual([expect.objectContaining({ port: r.json.port, owner: expect.objectContaining({ pid: r.json.pid }) })]);
  }, 30_000);

  test('a server that exits before it listens: exit 125, SERVER_EXITED with its status and log tail, nothing allocated', async () => {
    const r = await box.start(['start', '-s', 'api', '--json', '--', 'sh', '-c', 'echo "cannot load model" >&2; exit 3']);
    expect(r.code).toBe(125);
    expect(r.json.error).toMatchObject({ code: 'SERVER_EXITED', details: { status: 3, logTail: 'cannot load model\n' } });
    expect(allocations()).toEqual([]);
  });

  test('a failure says what to read: the end of the log in the message, the log not named when it is empty, nor for a command not found', () => {
    const r = box.run(['start', '-s', 'api', '--', 'sh', '-c', 'for i in $(seq 1 30); do echo "line $i"; done; exit 3']);
    expect(r.code).toBe(125);
    expect(r.stderr).toContain('line 30\n');
    expect(r.stderr).toContain('line 21\n');
    expect(r.stderr).not.toContain('line 20\n');

    const silent = box.run(['start', '-s', 'api', '--json', '--', 'sh', '-c', 'exit 2']);
    expect(silent.json.error).toMatchObject({ code: 'SERVER_EXITED', details: { status: 2, logTail: '' } });
    expect(silent.json.error.suggestions).toEqual([`Its log is empty: ${silent.json.error.details.logPath}`]);

    const missing = box.run(['start', '-s', 'api', '--json', '--', 'sxrf-no-such-command']);
    expect(missing.code).toBe(125);
    expect(missing.json.error).toMatchObject({ code: 'SERVER_EXITED', details: { status: 127 } });
    expect(missing.json.error.suggestions.join('\n')).not.toContain(missing.json.error.details.logPath);
  });

  test('a server that listens on another port than its own: WAIT_TIMEOUT names the port it listened on', async () => {
    const r = await box.start(['start', '-s', 'api', '--no-port-flag', '--ready-timeout', '2s', '--json', '--', ...PYTHON, '0']);
    expect(r.code).toBe(125);
    expect(r.json.error).toMatchObject({ code: 'WAIT_TIMEOUT', details: { listeningOn: [expect.any(Number)] } });
    const [other] = r.json.error.details.listeningOn;
    expect(other).not.toBe(r.json.error.details.port);
    expect(r.json.error.message).toContain(`port ${other}`);
    expect(allocations()).toEqual([]);
  }, 30_000);

  test('a server that never listens: ended after --ready-timeout, exit 125, WAIT_TIMEOUT, nothing allocated', async () => {
    const pidFile = path.join(box.dir, 'pid');
    const r = await box.start(['start', '-s', 'api', '--ready-timeout', '1s', '--json', '--', 'sh', '-c', `echo $$ > ${pidFile}; exec sleep 60`]);
    const pid = Number(fs.readFileSync(pidFile, 'utf8'));
    servers.push(pid);
    expect(r.code).toBe(125);
    expect(r.json.error.code).toBe('WAIT_TIMEOUT');
    expect(sessionOf(pid)).toBeNull();
    expect(allocations()).toEqual([]);
  });

  test("run's and start's own failures before the command starts exit 125, the code in --json", () => {
    const marker = path.join(box.dir, 'started');
    for (const argv of [
      ['run', '-s', 'dev', '-p', '70000', '--json', '--', 'touch', marker],
      ['start', '-s', 'dev', '-p', '70000', '--json', '--', 'touch', marker],
      ['start', '-s', 'dev', '--ready-timeout', 'soon', '--json', '--', 'touch', marker],
      ['run', '-s', '$(id)', '--json', '--', 'touch', marker],
    ]) {
      const r = box.run(argv);
      expect([argv, r.code, r.json?.error?.code]).toEqual([argv, 125, 'INVALID_ARGUMENT']);
    }
    expect(fs.existsSync(marker)).toBe(false);
  });
});

describe('runDetached in one long-lived process (as the MCP server calls it)', () => {
  test("two starts at once: one's timeout ends its own command only, never the other's server", async () => {
    const ctx = callContext({ home: box.home, cwd: box.cwd });
    const start = (instanceId: string, command: string[], readyTimeoutMs: number) =>
      runDetached(ctx, { request: { serviceType: 'dev', instanceId }, command, variables: (a) => envFor(a), readyTimeoutMs });
    const pidFile = path.join(box.dir, 'stuck-pid');
    const [served, stuck] = await Promise.allSettled([
      start('web', ['sh', '-c', `sleep 0.5; exec ${PYTHON.join(' ')} "$PORT"`], 30_000),
      start('stuck', ['sh', '-c', `echo $$ > ${pidFile}; exec sleep 60`], 1_500),
    ]);
    if (served.status === 'fulfilled') servers.push(served.value.pid as number);
    if (fs.existsSync(pidFile)) servers.push(Number(fs.readFileSync(pidFile, 'utf8')));
    expect(served).toMatchObject({ status: 'fulfilled', value: { started: true, instanceId: 'web' } });
    expect(stuck).toMatchObject({ status: 'rejected', reason: { code: 'WAIT_TIMEOUT' } });
    const web = (served as PromiseFulfilledResult<Awaited<ReturnType<typeof runDetached>>>).value;
    expect(sessionOf(web.pid as number)).toBe(web.pid);
    expect(allocations()).toEqual([expect.objectContaining({ instanceId: 'web', owner: expect.objectContaining({ pid: web.pid }) })]);
  }, 30_000);
});
