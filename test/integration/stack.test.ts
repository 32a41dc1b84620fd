import { spawn, type ChildProcess } from 'child_process';
import { createHash } from 'crypto';
import * as fs from 'fs';
import * as net from 'net';
import * as path from 'path';
import { BIN, useSandbox, waitFor, type RunResult } from '../helpers/cli';
import { hasPty, runInPty } from '../helpers/pty';

// A stack in .styxy.json: styxy up / up --detach / status / down, with real node servers that
// find each other through the URLs up hands them.

const box = useSandbox();
const strays: number[] = [];
afterEach(() => {
  // A failing test must not leave servers behind for the next one.
  for (const pid of strays.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone, as it should be */
    }
  }
});

/**
 * A node server on $PORT that answers with its name, followed by the answer of the URL in the
 * variable named by its second argument: web → API_URL → api → WORKER_URL → worker.
 */
const SERVER = `
const http = require('http');
const [name, nextVar] = process.argv.slice(2);
const next = nextVar ? process.env[nextVar] : undefined;
http.createServer(async (req, res) => {
  const tail = next ? ' -> ' + (await (await fetch(next)).text()) : '';
  res.end(name + tail);
}).listen(Number(process.env.PORT), '127.0.0.1', () => console.log(name + ' listening on ' + process.env.PORT));
`;

const CHAIN = {
  web: { type: 'dev', command: 'exec node ../server.js web API_URL', depends_on: ['api'] },
  api: { type: 'api', command: 'exec node ../server.js api WORKER_URL', depends_on: ['worker'] },
  // The worker's server is a grandchild in a session of its own: ending the tree must still reach it.
  worker: { type: 'api', command: 'setsid node ../server.js worker & wait' },
};

/** A project directory under the sandbox with this stack in its .styxy.json. */
function project(name: string, services: unknown = CHAIN): string {
  const dir = path.join(box.dir, name);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(box.dir, 'server.js'), SERVER);
  fs.writeFileSync(path.join(dir, '.styxy.json'), JSON.stringify({ services }));
  return dir;
}

interface Up {
  proc: ChildProcess;
  out: () => string;
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
}

function startUp(cwd: string): Up {
  const proc = spawn(process.execPath, [BIN, 'up'], { cwd, env: box.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  proc.stdout!.on('data', (d) => (stdout += d));
  proc.stderr!.on('data', (d) => (stderr += d));
  const done = new Promise<Awaited<Up['done']>>((resolve) => proc.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
  return { proc, out: () => stdout, done };
}

/** True while something accepts connections on the port. */
function serving(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function get(port: number): Promise<string> {
  return (await fetch(`http://127.0.0.1:${port}/`)).text();
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

function status(cwd: string): RunResult {
  const r = box.run(['status', '--json'], { cwd });
  expect(r.json?.success).toBe(true);
  return r;
}

const port = (r: RunResult, name: string): number => r.json.services.find((s: { name: string }) => s.name === name).port;
const pids = (r: RunResult): number[] => r.json.services.map((s: { pid: number }) => s.pid);

test('up runs a three-service chain over real sockets; SIGINT ends every tree and releases every port', async () => {
  const dir = project('app');
  const up = startUp(dir);
  await waitFor('every service to listen', () => /web listening/.test(up.out()) && /api listening/.test(up.out()) && /worker listening/.test(up.out()));
  const st = status(dir);
  expect(st.json.state).toBe('foreground');
  expect(st.json.services.map((s: { name: string; listening: boolean }) => [s.name, s.listening])).toEqual([
    ['worker', true],
    ['api', true],
    ['web', true],
  ]);
  strays.push(...pids(st));
  // web reached api through API_URL, api reached worker through WORKER_URL.
  expect(await get(port(st, 'web'))).toBe('web -> api -> worker');
  // Every line is prefixed with its service's name, aligned to the longest.
  expect(up.out()).toMatch(/^web {4}\| web listening on \d+$/m);
  expect(up.out()).toMatch(/^worker \| worker listening on \d+$/m);
  expect(box.run(['list', '--json']).json.allocations).toHaveLength(3);

  up.proc.kill('SIGINT');
  const ended = await up.done;
  expect(ended.code).toBe(130);
  for (const pid of pids(st)) expect(alive(pid)).toBe(false);
  for (const s of st.json.services) expect(await serving(s.port)).toBe(false);
  expect(box.run(['list', '--json']).json.allocations).toEqual([]);
  expect(status(dir).json.state).toBe('stopped');
});

test('down from another terminal asks a foreground up to end its stack', async () => {
  const dir = project('fg');
  const up = startUp(dir);
  await waitFor('every service to listen', () => /web listening/.test(up.out()));
  const st = status(dir);
  strays.push(...pids(st));
  const down = box.run(['down', '--json'], { cwd: dir });
  expect(down.json).toMatchObject({ success: true, supervisorPid: up.proc.pid });
  const ended = await up.done;
  expect(ended.code).toBe(143);
  for (const pid of pids(st)) expect(alive(pid)).toBe(false);
  expect(box.run(['list', '--json']).json.allocations).toEqual([]);
});

test('one service exiting ends the others, and up exits with its status', async () => {
  const dir = project('crash', {
    server: { type: 'api', command: 'exec node ../server.js server' },
    crash: { type: 'dev', command: 'echo crashing; exit 3', depends_on: ['server'] },
  });
  const up = startUp(dir);
  const ended = await up.done;
  expect(ended.code).toBe(3);
  expect(ended.stdout).toMatch(/^crash {2}\| crashing$/m);
  const serverPid = Number(/started server \(PID (\d+)\)/.exec(ended.stderr)?.[1]);
  expect(serverPid).toBeGreaterThan(0);
  expect(alive(serverPid)).toBe(false);
  expect(box.run(['list', '--json']).json.allocations).toEqual([]);
});

test('up --detach, status and down; two worktrees run their stacks side by side on different ports', async () => {
  const one = project('one');
  const two = project('two');
  const first = box.run(['up', '--detach', '--json'], { cwd: one });
  expect(first.json?.success).toBe(true);
  strays.push(...first.json.services.map((s: { pid: number }) => s.pid));
  const second = box.run(['up', '--detach', '--json'], { cwd: two });
  expect(second.json?.success).toBe(true);
  strays.push(...second.json.services.map((s: { pid: number }) => s.pid));
  expect(first.code).toBe(0);

  const [s1, s2] = [status(one), status(two)];
  expect(s1.json.state).toBe('detached');
  const ports1 = s1.json.services.map((s: { port: number }) => s.port);
  const ports2 = s2.json.services.map((s: { port: number }) => s.port);
  expect(new Set([...ports1, ...ports2]).size).toBe(6);
  expect(s1.json.services.every((s: { listening: boolean }) => s.listening)).toBe(true);
  expect(await get(port(s1, 'web'))).toBe('web -> api -> worker');
  expect(await get(port(s2, 'web'))).toBe('web -> api -> worker');
  // The allocations belong to the services' processes, not to the up that has ended.
  const owners = box.run(['list', '--json']).json.allocations.map((a: { owner: { pid: number } }) => a.owner.pid);
  expect(owners.sort()).toEqual([...pids(s1), ...pids(s2)].sort());
  // Logs are under the home, not in the project.
  expect(fs.readFileSync(first.json.services[0].logPath, 'utf8')).toMatch(/worker listening/);

  // A second up of a running stack starts nothing.
  const again = box.run(['up', '--detach', '--json'], { cwd: one });
  expect(again.code).toBe(22);
  expect(again.json.error.code).toBe('STACK_RUNNING');
  expect(again.json.error.suggestions).toContain('Stop it first: styxy down');

  const down = box.run(['down', '--json'], { cwd: one });
  expect(down.json?.success).toBe(true);
  expect(down.json.stopped.map((s: { name: string }) => s.name)).toEqual(['web', 'api', 'worker']);
  // Every port of the stack is freed by down, also those freed as their owners ended.
  expect(down.json.released.sort()).toEqual(first.json.services.map((s: { lockId: string }) => s.lockId).sort());
  for (const pid of pids(s1)) expect(alive(pid)).toBe(false);
  for (const s of s1.json.services) expect(await serving(s.port)).toBe(false);
  // The other worktree's stack is untouched.
  expect(await get(port(s2, 'web'))).toBe('web -> api -> worker');
  expect(box.run(['list', '--json']).json.allocations.map((a: { project: string }) => a.project)).toEqual([two, two, two]);
  expect(status(one).json.state).toBe('stopped');

  expect(box.run(['down', '--json'], { cwd: two }).json.stopped).toHaveLength(3);
  for (const pid of pids(s2)) expect(alive(pid)).toBe(false);
  expect(box.run(['list', '--json']).json.allocations).toEqual([]);
  // Nothing left to stop is not an error.
  expect(box.run(['down', '--json'], { cwd: two }).json).toMatchObject({ success: true, stopped: [] });
});

test('up --detach: a service that exits before it listens is SERVER_EXITED, and nothing is left', async () => {
  const dir = project('broken', {
    server: { type: 'api', command: 'exec node ../server.js server' },
    broken: { type: 'dev', command: 'echo no config >&2; exit 2', depends_on: ['server'] },
  });
  const r = box.run(['up', '--detach', '--json'], { cwd: dir });
  expect(r.code).toBe(19);
  expect(r.json.error.code).toBe('SERVER_EXITED');
  expect(fs.readFileSync(r.json.error.details.logPath, 'utf8')).toMatch(/no config/);
  expect(box.run(['list', '--json']).json.allocations).toEqual([]);
  expect(status(dir).json.services.every((s: { listening: boolean; pid: number | null }) => !s.listening && s.pid === null)).toBe(true);
});

test('a service gets its siblings and its own variables, and its env on top; cwd is inside the project', async () => {
  const dir = project('vars', {
    'web-app': { type: 'dev', command: 'env > "$OUT"', env: { OUT: 'vars.txt', WEB_APP_URL: 'overridden' }, cwd: 'sub/dir' },
    db: { type: 'database', command: 'exec node ../server.js db' },
  });
  fs.mkdirSync(path.join(dir, 'sub', 'dir'), { recursive: true });
  const up = startUp(dir);
  const ended = await up.done;
  expect(ended.code).toBe(0);
  const env = Object.fromEntries(
    fs
      .readFileSync(path.join(dir, 'sub', 'dir', 'vars.txt'), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
  expect(env.PORT).toBe(env.WEB_APP_PORT);
  expect(env.STYXY_URL).toBe(`http://localhost:${env.PORT}`);
  expect(env.DB_URL).toBe(`http://localhost:${env.DB_PORT}`);
  expect(env.WEB_APP_URL).toBe('overridden');
  expect(env.STYXY_INSTANCE_ID).toBe('web-app');
  expect(env.STYXY_SERVICE_TYPE).toBe('dev');
});

test("a service is not handed the lists of lock ids and ports of the batch its caller's shell evaluated", () => {
  const dir = project('stale', { web: { type: 'dev', command: 'echo "[$STYXY_LOCK_IDS] [$STYXY_SERVICE_TYPES] [$STYXY_PORT_1]" > out.txt' } });
  const up = box.run(['up'], { cwd: dir, env: { STYXY_LOCK_IDS: 'dev-a-1 api-b-2', STYXY_SERVICE_TYPES: 'dev api', STYXY_PORT_1: '8001' } });
  expect(up.code).toBe(0);
  expect(fs.readFileSync(path.join(dir, 'out.txt'), 'utf8')).toBe('[] [] []\n');
});

test("a service's port held by a shell's allocate is STACK_RUNNING with advice that is not status or down, which would see nothing", () => {
  const dir = project('held', { web: { type: 'dev', command: 'exec node ../server.js web' } });
  // Owned by this test's process, which lives on: a shell that evaluated `allocate --env`.
  const held = box.run(['allocate', '-s', 'dev', '-n', 'web', '--json'], { cwd: dir }).json;
  const up = box.run(['up', '--detach', '--json'], { cwd: dir });
  expect(up.code).toBe(22);
  expect(up.json.error.code).toBe('STACK_RUNNING');
  expect(up.json.error.suggestions).toEqual([
    `See who holds it: styxy why ${held.port}`,
    `It is not this stack's: once its holder is done, free it with styxy release ${held.lockId}`,
  ]);
  expect(box.run(['down', '--json'], { cwd: dir }).json.stopped).toEqual([]);
});

describe('bad stacks are INVALID_CONFIG naming the path, and start nothing', () => {
  test.each([
    ['a cwd outside the project', { web: { command: 'true', cwd: '../elsewhere' } }, '/services/web/cwd'],
    ['an absolute cwd', { web: { command: 'true', cwd: '/tmp' } }, '/services/web/cwd'],
    ['an unknown dependency', { web: { command: 'true', depends_on: ['api'] } }, '/services/web/depends_on/0'],
    ['a cycle', { a: { type: 'dev', command: 'true', depends_on: ['b'] }, b: { type: 'api', command: 'true', depends_on: ['a'] } }, '/services/a/depends_on'],
    ['no command', { web: { type: 'dev' } }, '/services/web'],
    ['an unknown key', { web: { type: 'dev', command: 'true', port: 3000 } }, '/services/web/port'],
    ['two names with one variable', { 'a-b': { type: 'dev', command: 'true' }, 'a.b': { type: 'dev', command: 'true' } }, '/services/a.b'],
  ])('%s', (_what, services, at) => {
    const dir = project('bad', services);
    const r = box.run(['up', '--detach', '--json'], { cwd: dir });
    expect(r.code).toBe(9);
    expect(r.json.error.code).toBe('INVALID_CONFIG');
    expect(r.json.error.details.problems.map((p: { path: string }) => p.path)).toContain(at);
    expect(fs.existsSync(box.home) ? (box.run(['list', '--json']).json?.allocations ?? []) : []).toEqual([]);
  });

  test('a cwd that is a symbolic link out of the project', () => {
    const dir = project('linked', { web: { type: 'dev', command: 'touch escaped', cwd: 'out' } });
    fs.symlinkSync(box.dir, path.join(dir, 'out'));
    const r = box.run(['up', '--json', '--detach'], { cwd: dir });
    expect(r.json.error.code).toBe('INVALID_CONFIG');
    expect(r.json.error.details.problems.map((p: { path: string }) => p.path)).toEqual(['/services/web/cwd']);
    expect(fs.existsSync(path.join(box.dir, 'escaped'))).toBe(false);
  });

  test('services in the user config.json', () => {
    box.writeConfig({ services: { web: { type: 'dev', command: 'true' } } });
    const r = box.run(['status', '--json']);
    expect(r.json.error.code).toBe('INVALID_CONFIG');
    expect(r.json.error.details.problems.map((p: { path: string }) => p.path)).toEqual(['/services']);
  });

  test('no stack here is NOT_FOUND', () => {
    for (const command of ['up', 'down', 'status']) {
      const r = box.run([command, '--json', ...(command === 'up' ? ['--detach'] : [])]);
      expect(r.code).toBe(8);
      expect(r.json.error.code).toBe('NOT_FOUND');
    }
  });
});

test('the prefixes are coloured on a terminal, and not under NO_COLOR', () => {
  if (!hasPty()) return console.warn('skipped: no pseudo-terminal (python3 pty)');
  fs.writeFileSync(path.join(box.cwd, '.styxy.json'), JSON.stringify({ services: { hello: { type: 'dev', command: 'echo hi' } } }));
  const coloured = runInPty(box, ['up'], { env: { NO_COLOR: undefined } });
  expect(coloured.code).toBe(0);
  expect(coloured.output).toContain('\u001b[36mhello |\u001b[0m hi\n');
  const plain = runInPty(box, ['up'], { env: { NO_COLOR: '1' } });
  expect(plain.output).toContain('\nhello | hi\n');
  expect(plain.output).not.toContain('\u001b[');
});

/** A stack record for the service `web` of the project at `dir`, as `up --detach` writes it. */
function writeRecord(dir: string, web: { pid: number; startTime: string | null }): string {
  const project = status(dir).json.project as string;
  const stackId = createHash('sha256').update(project).digest('hex').slice(0, 12);
  fs.mkdirSync(path.join(box.home, 'stacks'), { recursive: true });
  fs.writeFileSync(
    path.join(box.home, 'stacks', `${stackId}.json`),
    JSON.stringify({ version: 1, project, services: [{ name: 'web', ...web, port: 3000, lockId: 'lock-web' }] }),
  );
  return `${stackId}.web`;
}

/** `setsid sh -c 'sleep 1000; echo parent-done'`: a process tree that is not the stack's. */
async function unrelatedTree(env: NodeJS.ProcessEnv = process.env): Promise<{ sh: number; sleep: number }> {
  const child = spawn('sh', ['-c', 'sleep 1000; echo parent-done'], { detached: true, stdio: 'ignore', env });
  child.unref();
  const sh = child.pid as number;
  strays.push(sh);
  let sleep = 0;
  await waitFor('the sleep under sh', () => {
    sleep = Number(fs.readFileSync(`/proc/${sh}/task/${sh}/children`, 'utf8').trim().split(' ')[0]);
    return sleep > 0;
  });
  strays.push(sleep);
  return { sh, sleep };
}

const startTimeOf = (pid: number): string => {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] as string;
};

test('down never walks from a recorded PID that now names another process; it finds survivors by their mark', async () => {
  const dir = project('reused', { web: { type: 'dev', command: 'exec node ../server.js web' } });
  const other = await unrelatedTree();
  // The recorded web started at tick 1: its PID now names the unrelated sh.
  const marker = writeRecord(dir, { pid: other.sh, startTime: '1' });
  // A process of the stack's web that outlived it, reparented: found by the mark it inherited.
  const survivor = await unrelatedTree({ ...process.env, STYXY_STACK_RUN: marker });
  expect(startTimeOf(other.sh)).not.toBe('1');

  const down = box.run(['down', '--json'], { cwd: dir });
  expect(down.json?.success).toBe(true);
  await waitFor('the survivors to end', () => !alive(survivor.sh) && !alive(survivor.sleep));
  expect(down.json.stopped).toEqual([{ name: 'web', pid: survivor.sh }]);
  expect(alive(other.sh)).toBe(true);
  expect(alive(other.sleep)).toBe(true);
});

test('down signals nothing for a service recorded without a start time, and warns', async () => {
  const dir = project('nostart', { web: { type: 'dev', command: 'exec node ../server.js web' } });
  const other = await unrelatedTree();
  writeRecord(dir, { pid: other.sh, startTime: null });
  const down = box.run(['down', '--json'], { cwd: dir });
  expect(down.json).toMatchObject({ success: true, stopped: [] });
  expect(down.stderr).toContain(String(other.sh));
  expect(alive(other.sh)).toBe(true);
  expect(alive(other.sleep)).toBe(true);
});
