import { spawn, spawnSync, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as path from 'path';
import { readmeRecipe } from '../helpers/readme';
import { BIN, killAndWait, listen, closeServer, useSandbox, waitFor } from '../helpers/cli';

const box = useSandbox();
const started: ChildProcess[] = [];
afterEach(async () => {
  for (const child of started.splice(0)) await killAndWait(child);
});

function stateFile(): boolean {
  return fs.existsSync(path.join(box.home, 'state.json'));
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

/** The start script docs/origins.md shows: allocate, leave when the server already runs, else start it. */
function writeStartScript(): string {
  const script = path.join(box.dir, 'start.sh');
  fs.writeFileSync(script, readmeRecipe('already-running'), { mode: 0o755 });
  return script;
}

test('re-running a start script whose server already listens leaves at once instead of starting a second copy', async () => {
  const script = writeStartScript();
  const env = { ...box.env, STYXY: BIN };
  const first = spawn('sh', [script], { cwd: box.cwd, env, stdio: 'ignore' });
  started.push(first);
  const port = await waitFor('the script to allocate', () => stateFile() && (box.readState().allocations?.[0]?.port as number | undefined));
  await waitFor('the python server to listen', () => accepts(port));

  const again = spawnSync('sh', [script], { cwd: box.cwd, env, encoding: 'utf8', timeout: 30_000 });
  expect(again.stderr).not.toContain('Address already in use');
  expect(again.status).toBe(0);
  expect(again.stdout.trim()).toBe(`already running on ${port}`);
  // The first server is the one still serving, and it still holds the allocation.
  expect(first.exitCode).toBeNull();
  expect(box.readState().allocations).toHaveLength(1);

  const json = box.run(['allocate', '-s', 'dev', '-n', 'web', '--json']).json;
  expect(json).toMatchObject({ success: true, port, reused: true, listening: true, existing: false });
});

test('a reused allocation nothing listens on says listening 0; a new one is neither reused nor listening', () => {
  const made = box.run(['allocate', '-s', 'api', '-n', 'back', '--persistent', '--json']).json;
  expect(made).toMatchObject({ success: true, reused: false, listening: false });
  const env = spawnSync('sh', ['-c', `eval "$("$STYXY" allocate -s api -n back --env)"; echo "$STYXY_REUSED $STYXY_LISTENING $STYXY_EXISTING"`], {
    cwd: box.cwd,
    env: { ...box.env, STYXY: BIN },
    encoding: 'utf8',
  });
  expect(env.stdout.trim()).toBe('1 0 0');
});

test('a running single instance reports whether its server listens', async () => {
  const made = box.run(['allocate', '-s', 'ai', '-n', 'rag', '--persistent', '--json']).json;
  expect(box.run(['allocate', '-s', 'ai', '--json']).json).toMatchObject({ existing: true, listening: false });
  const server = await listen(made.port, '127.0.0.1');
  try {
    expect(box.run(['allocate', '-s', 'ai', '--json']).json).toMatchObject({ existing: true, listening: true });
  } finally {
    await closeServer(server);
  }
});

test('a batch reports reused and listening for each type', async () => {
  const made = box.run(['allocate', '-s', 'dev', '-s', 'api', '-n', 'app', '--persistent', '--json']).json;
  expect(made.allocations.map((a: { listening: boolean }) => a.listening)).toEqual([false, false]);
  const server = await listen(made.allocations[1].port, '127.0.0.1');
  try {
    const again = box.run(['allocate', '-s', 'dev', '-s', 'api', '-n', 'app', '--env']);
    expect(again.stdout).toContain("export STYXY_DEV_LISTENING='0';");
    expect(again.stdout).toContain("export STYXY_API_LISTENING='1';");
    expect(again.stdout).toContain("export STYXY_API_REUSED='1';");
  } finally {
    await closeServer(server);
  }
});
