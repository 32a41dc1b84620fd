import { spawn, spawnSync, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as http from 'http';
import * as path from 'path';
import { BIN, ROOT, freePortBlock, sandbox, type Sandbox, waitFor } from '../helpers/cli';

// `run` knows the common dev servers: it gives a tool that ignores PORT its
// port flag, and says so when the command ends up listening on another port.

let box: Sandbox;
let runs: ChildProcess[] = [];
beforeEach(() => {
  box = sandbox();
  runs = [];
});
afterEach(async () => {
  for (const proc of runs) if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
  box.cleanup();
});

const NODE = process.execPath;
const VITE_BIN = path.join(ROOT, 'node_modules', '.bin', 'vite');

interface Running {
  proc: ChildProcess;
  stderr: () => string;
  done: Promise<number | null>;
}

function startRun(args: string[]): Running {
  const proc = spawn(NODE, [BIN, 'run', ...args], {
    cwd: box.cwd,
    env: { ...box.env, npm_config_update_notifier: 'false', npm_config_fund: 'false', BROWSER: 'none' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  runs.push(proc);
  let stderr = '';
  proc.stdout!.resume();
  proc.stderr!.on('data', (d) => (stderr += d));
  return { proc, stderr: () => stderr, done: new Promise((resolve) => proc.on('exit', (code) => resolve(code))) };
}

function get(port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/' }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve(body));
    });
    req.on('error', () => resolve(undefined));
    req.setTimeout(2000, () => req.destroy());
  });
}

const heldPort = async (): Promise<number> =>
  waitFor('the allocation', () => box.run(['list', '--json']).json.allocations[0]?.port as number | undefined, 30_000);

/** A Vite project: an index.html, a config keeping Vite's cache inside it, Vite itself linked in. */
function viteProject(scripts?: Record<string, string>): void {
  fs.writeFileSync(path.join(box.cwd, 'index.html'), '<!doctype html><title>styxy</title><p>served by vite</p>\n');
  fs.writeFileSync(path.join(box.cwd, 'vite.config.mjs'), "export default { cacheDir: '.vite-cache', clearScreen: false };\n");
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(box.cwd, 'node_modules'), 'dir');
  if (scripts) fs.writeFileSync(path.join(box.cwd, 'package.json'), JSON.stringify({ name: 'app', private: true, scripts }));
}

async function expectServedOnItsPort(run: Running, marker: string, tool: string): Promise<void> {
  const port = await heldPort();
  const body = await waitFor(`${tool} on ${port}`, () => get(port), 30_000);
  expect(body).toContain(marker);
  expect(run.stderr()).toContain(`styxy: ${tool} does not read PORT: adding`);
  expect(run.stderr()).not.toContain('listens on port');
  run.proc.kill('SIGTERM');
  await run.done;
  expect(await get(port)).toBeUndefined();
  expect(box.run(['list', '--json']).json.allocations).toEqual([]);
}

describe('a known dev server gets its port without a flag', () => {
  const hasVite = fs.existsSync(VITE_BIN);

  (hasVite ? test : test.skip)(
    'real Vite through npx serves on the allocated port',
    async () => {
      viteProject();
      const run = startRun(['-s', 'dev', '--', 'npx', 'vite', '--host', '127.0.0.1']);
      await expectServedOnItsPort(run, 'served by vite', 'Vite');
    },
    60_000,
  );

  (hasVite ? test : test.skip)(
    'real Vite through an npm script serves on the allocated port',
    async () => {
      viteProject({ dev: 'vite --host 127.0.0.1' });
      const run = startRun(['-s', 'dev', '--', 'npm', 'run', 'dev']);
      await expectServedOnItsPort(run, 'served by vite', 'Vite');
    },
    60_000,
  );

  (hasVite ? test : test.skip)(
    'real Vite whose port is taken after allocation fails loudly (--strictPort) instead of moving to a neighbour',
    async () => {
      // The script's first step takes the allocated port (a server left in the background, as a
      // crashed run's orphan would hold it), then Vite starts on it: without --strictPort it
      // moves to the next port and serves there, on a port Styxy may hand to someone else.
      const squat = path.join(box.dir, 'squat.js');
      fs.writeFileSync(
        squat,
        `const { spawn } = require("child_process");
         const code = 'require("net").createServer().listen(Number(process.env.PORT), "127.0.0.1", () => process.send("up"))';
         const child = spawn(process.execPath, ["-e", code], { detached: true, stdio: ["ignore", "ignore", "ignore", "ipc"] });
         child.on("message", () => { child.disconnect(); child.unref(); process.exit(0); });`,
      );
      viteProject({ dev: `node ${squat} && vite --host 127.0.0.1` });
      const run = startRun(['-s', 'dev', '--', 'npm', 'run', 'dev']);
      const port = await heldPort();
      expect(await run.done).not.toBe(0);
      expect(run.stderr()).toContain(`adding --port ${port} --strictPort`);
      expect(await get(port + 1)).toBeUndefined();
      expect(box.run(['list', '--json']).json.allocations).toEqual([]);
    },
    60_000,
  );

  (hasVite ? test : test.skip)(
    "in a terminal, Vite's own keyboard shortcut (q + enter) reaches it through run",
    () => {
      viteProject();
      // A real terminal (python's pty): type q + enter once Vite offers its shortcuts, then read to the end.
      const driver = `
import os, pty, sys, time, json
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
out = b""
deadline = time.time() + 40
while b"press" not in out and time.time() < deadline:
    try:
        out += os.read(fd, 4096)
    except OSError:
        break
os.write(fd, b"q\\n")
while True:
    try:
        data = os.read(fd, 4096)
    except OSError:
        break
    if not data:
        break
    out += data
_, status = os.waitpid(pid, 0)
print(json.dumps({"exit": os.waitstatus_to_exitcode(status), "offered": b"press" in out}))
`;
      // A person at a terminal: Vite offers no keyboard shortcuts when CI is set, as it is in CI.
      const env: NodeJS.ProcessEnv = { ...box.env, npm_config_update_notifier: 'false' };
      delete env.CI;
      const r = spawnSync('python3', ['-c', driver, NODE, BIN, 'run', '-s', 'dev', '--', 'npx', 'vite', '--host', '127.0.0.1'], {
        cwd: box.cwd,
        env,
        encoding: 'utf8',
        timeout: 60_000,
      });
      expect(JSON.parse(r.stdout)).toEqual({ exit: 0, offered: true });
      expect(box.run(['list', '--json']).json.allocations).toEqual([]);
    },
    60_000,
  );

  test("Python's http.server serves on the allocated port", async () => {
    fs.writeFileSync(path.join(box.cwd, 'index.html'), 'served by python\n');
    const run = startRun(['-s', 'dev', '--', 'python3', '-m', 'http.server', '--bind', '127.0.0.1']);
    await expectServedOnItsPort(run, 'served by python', 'Python http.server');
  }, 60_000);

  test('--no-port-flag adds nothing; --port-flag replaces the flag run would add', () => {
    const vite = path.join(box.dir, 'bin', 'vite');
    fs.mkdirSync(path.dirname(vite));
    fs.writeFileSync(vite, '#!/bin/sh\necho "$*"\n', { mode: 0o755 });
    const env = { PATH: `${path.dirname(vite)}:${process.env.PATH}` };
    const off = box.run(['run', '-s', 'dev', '--no-port-flag', '--', 'vite', '--host'], { env });
    expect([off.code, off.stdout, off.stderr]).toEqual([0, '--host\n', '']);
    const own = box.run(['run', '-s', 'dev', '--port-flag', '--listen', '--', 'vite'], { env });
    expect(own.stdout).toMatch(/^--listen 30\d\d\n$/);
    const auto = box.run(['run', '-s', 'dev', '--', 'vite'], { env });
    expect(auto.stdout).toMatch(/^--port 30\d\d --strictPort\n$/);
    expect(auto.stderr).toMatch(/^styxy: Vite does not read PORT: adding --port 30\d\d --strictPort \(--no-port-flag leaves it out\)\n$/);
  });
});

describe('a command that listens elsewhere', () => {
  test('a server that ignores its port: run names the port it took and the fix', async () => {
    const other = await freePortBlock(1);
    const server = path.join(box.dir, 'stubborn.js');
    fs.writeFileSync(server, `require("http").createServer((q, s) => s.end("elsewhere")).listen(${other}, "127.0.0.1");`);
    const run = startRun(['-s', 'dev', '--', 'sh', '-c', `${NODE} ${server}`]);
    const port = await heldPort();
    const said = await waitFor('the warning', () => /listens on port.*\n/.exec(run.stderr())?.[0], 30_000);
    expect(said).toBe(
      `listens on port ${other}, not on its port ${port}: it ignored PORT. Give it the port with --port-flag FLAG (for example --port-flag --port) or {port} in its arguments, or set it in the tool's own config.\n`,
    );
    run.proc.kill('SIGTERM');
    await run.done;
    expect(await get(other)).toBeUndefined();
  }, 30_000);
});
