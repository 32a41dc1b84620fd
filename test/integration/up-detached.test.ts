import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as path from 'path';
import { BIN, closeServer, listen, useSandbox, type RunResult } from '../helpers/cli';

// `styxy up --detach` starts each service as `styxy start` does: its own session and log, the
// port handed to the process of its tree that listens; `status` shows them, `down` ends each
// whole tree. Real node http servers that find each other through the exported URLs.

const box = useSandbox();
const strays: number[] = [];
afterEach(() => {
  for (const pid of strays.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone, as it should be */
    }
  }
});

/** A node server on $PORT (or the port given third) answering its name, then the answer of the URL in the variable named second. */
const SERVER = `
const http = require('http');
const [name, nextVar, fixed] = process.argv.slice(2);
const next = nextVar ? process.env[nextVar] : undefined;
http.createServer(async (req, res) => {
  const tail = next ? ' -> ' + (await (await fetch(next)).text()) : '';
  res.end(name + tail);
}).listen(Number(fixed || process.env.PORT), '127.0.0.1', () => console.log(name + ' listening on ' + (fixed || process.env.PORT)));
`;

function project(name: string, services: unknown): string {
  const dir = path.join(box.dir, name);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(box.dir, 'server.js'), SERVER);
  fs.writeFileSync(path.join(dir, '.styxy.json'), JSON.stringify({ services }));
  return dir;
}

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

function alive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

const comm = (pid: number): string => fs.readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
const byName = (r: RunResult, name: string) => r.json.services.find((s: { name: string }) => s.name === name);

test('three services start detached, each owned by its listening server, find each other, and down ends every tree', async () => {
  const dir = project('shop', {
    web: { type: 'dev', command: 'exec node ../server.js web API_URL', depends_on: ['api'] },
    // Its command ends at once, leaving the server in the background: still a start that worked.
    api: { type: 'api', command: 'node ../server.js api WORKER_URL > api.out 2>&1 &', depends_on: ['worker'] },
    // The server is a grandchild in a session of its own, under a shell that waits.
    worker: { type: 'api', command: 'setsid node ../server.js worker & wait' },
  });
  const up = box.run(['up', '--detach', '--json'], { cwd: dir });
  expect(up.json?.success).toBe(true);
  expect(up.code).toBe(0);
  strays.push(...up.json.services.map((s: { pid: number }) => s.pid));
  expect(up.json.services.map((s: { name: string }) => s.name)).toEqual(['worker', 'api', 'web']);

  // up returned once every one listened: web answers through api and worker at once.
  const web = byName(up, 'web');
  expect(await (await fetch(`http://127.0.0.1:${web.port}/`)).text()).toBe('web -> api -> worker');
  // Each port belongs to the process that listens on it (the node server, not the shell that started it).
  const allocations = box.run(['list', '--json']).json.allocations;
  for (const s of up.json.services) {
    expect(comm(s.pid)).toBe('node');
    expect(allocations.find((a: { lockId: string }) => a.lockId === s.lockId).owner.pid).toBe(s.pid);
    const why = box.run(['why', String(s.port), '--json']).json;
    expect(JSON.stringify(why)).toContain(String(s.pid));
  }
  expect(fs.readFileSync(byName(up, 'worker').logPath, 'utf8')).toMatch(/worker listening/);

  const status = box.run(['status', '--json'], { cwd: dir }).json;
  expect(status.state).toBe('detached');
  expect(status.services.map((s: { name: string; pid: number; listening: boolean }) => [s.name, s.pid, s.listening])).toEqual(
    up.json.services.map((s: { name: string; pid: number }) => [s.name, s.pid, true]),
  );

  const down = box.run(['down', '--json'], { cwd: dir });
  expect(down.json.stopped.map((s: { name: string }) => s.name)).toEqual(['web', 'api', 'worker']);
  expect(down.json.released.sort()).toEqual(up.json.services.map((s: { lockId: string }) => s.lockId).sort());
  for (const s of up.json.services) {
    expect(alive(s.pid)).toBe(false);
    expect(await serving(s.port)).toBe(false);
  }
  expect(box.run(['list', '--json']).json.allocations).toEqual([]);
});

test('a service that listens on another port than its own: WAIT_TIMEOUT names it and where it listened; nothing is left', async () => {
  const stray = await new Promise<number>((resolve) => {
    const probe = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (probe.address() as net.AddressInfo).port;
      probe.close(() => resolve(port));
    });
  });
  const dir = project('wrong', {
    worker: { type: 'api', command: 'exec node ../server.js worker' },
    api: { type: 'api', command: `exec node ../server.js api '' ${stray}`, depends_on: ['worker'] },
  });
  const r = box.run(['up', '--detach', '--wait', '2', '--json'], { cwd: dir });
  expect(r.code).toBe(14);
  expect(r.json.error.code).toBe('WAIT_TIMEOUT');
  expect(r.json.error.details).toMatchObject({ service: 'api', listeningOn: [stray] });
  expect(r.json.error.details.logTail).toMatch(/api listening/);
  // Its advice names up's own flag, not start's.
  expect(r.json.error.suggestions.join('\n')).toContain('--wait 120');
  expect(`${r.json.error.message}\n${r.json.error.suggestions.join('\n')}`).not.toMatch(/--ready-timeout|--port-flag/);
  // The worker that had started is ended, the api's tree too, and no port is held.
  expect(await serving(stray)).toBe(false);
  expect(box.run(['list', '--json']).json.allocations).toEqual([]);
  const status = box.run(['status', '--json'], { cwd: dir }).json;
  expect(status.state).toBe('stopped');
  expect(status.services.every((s: { listening: boolean }) => !s.listening)).toBe(true);
});

test('up --detach lines its services up as status does: every port in one column', () => {
  const dir = project('columns', {
    'a-long-name': { type: 'api', command: 'exec node ../server.js long' },
    web: { type: 'dev', command: 'exec node ../server.js web' },
  });
  const up = box.run(['up', '--detach'], { cwd: dir, env: { NO_COLOR: '1' } });
  expect(up.code).toBe(0);
  strays.push(...[...up.stdout.matchAll(/PID (\d+)/g)].map((m) => Number(m[1])));
  const lines = up.stdout.trim().split('\n');
  expect(lines).toHaveLength(2);
  expect(new Set(lines.map((l) => l.indexOf(' port ')))).toEqual(new Set(['a-long-name'.length + 1]));
  expect(box.run(['down', '--json'], { cwd: dir }).json.success).toBe(true);
});

test("a persistent port the service had before up --detach (a git hook's) is still persistent after down", async () => {
  const dir = project('hooked', { web: { type: 'dev', command: 'exec node ../server.js web' } });
  const held = box.run(['allocate', '-s', 'dev', '-n', 'web', '--persistent', '--json'], { cwd: dir }).json;
  const up = box.run(['up', '--detach', '--json'], { cwd: dir });
  expect(up.json?.success).toBe(true);
  strays.push(byName(up, 'web').pid);
  expect(byName(up, 'web').port).toBe(held.port);
  const during = box.run(['list', '--json']).json.allocations;
  expect(during.map((a: { lockId: string; owner: { kind: string } }) => [a.lockId, a.owner.kind])).toEqual([[held.lockId, 'persistent']]);
  const down = box.run(['down', '--json'], { cwd: dir });
  expect(down.json.stopped.map((s: { name: string }) => s.name)).toEqual(['web']);
  expect(down.json.released).toEqual([]);
  expect(await serving(held.port)).toBe(false);
  const after = box.run(['list', '--json']).json.allocations;
  expect(after.map((a: { lockId: string; owner: { kind: string } }) => [a.lockId, a.owner.kind])).toEqual([[held.lockId, 'persistent']]);
});

test("a reservation up --detach takes over (an agent's shell asked, then ended) is up's to hand on and down's to release", async () => {
  const dir = project('claimed', { web: { type: 'dev', command: 'exec node ../server.js web' } });
  const asked = spawnSync('sh', ['-c', `p=$("${process.execPath}" "${BIN}" allocate -s dev -n web -q); echo $p`], { cwd: dir, env: box.env, encoding: 'utf8' });
  const reserved = box.run(['list', '--json']).json.allocations;
  expect([reserved.length, reserved[0].port, reserved[0].owner.reservedUntil]).toEqual([1, Number(asked.stdout.trim()), expect.any(String)]);
  const up = box.run(['up', '--detach', '--json'], { cwd: dir });
  expect(up.json?.success).toBe(true);
  const web = byName(up, 'web');
  strays.push(web.pid);
  expect([web.port, web.lockId]).toEqual([reserved[0].port, reserved[0].lockId]);
  // Handed to the server by up itself, not left for a later call to find it listening.
  const during = box.run(['list', '--json']).json.allocations;
  expect([during[0].owner.pid, during[0].owner.adoptedAt]).toEqual([web.pid, undefined]);
  const down = box.run(['down', '--json'], { cwd: dir });
  expect(down.json.released).toEqual([reserved[0].lockId]);
  expect(box.run(['list', '--json']).json.allocations).toEqual([]);
});

test("a stranger listening on a service's kept port is STACK_RUNNING, with advice other than down, which would stop nothing", async () => {
  const dir = project('stranger', { web: { type: 'dev', command: 'exec node ../server.js web' } });
  const held = box.run(['allocate', '-s', 'dev', '-n', 'web', '--persistent', '--json'], { cwd: dir }).json;
  const stranger = await listen(held.port, '127.0.0.1');
  try {
    const up = box.run(['up', '--detach', '--json'], { cwd: dir });
    expect(up.code).toBe(22);
    expect(up.json.error.code).toBe('STACK_RUNNING');
    expect(up.json.error.suggestions.join('\n')).not.toContain('styxy down');
    expect(box.run(['down', '--json'], { cwd: dir }).json.stopped).toEqual([]);
  } finally {
    await closeServer(stranger);
  }
});
