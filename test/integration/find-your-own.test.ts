import { spawn } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { BIN, freePortBlock, useSandbox, waitFor } from '../helpers/cli';
import { Strays, isRunning, waitListening } from '../helpers/servers';

// Finding your own: --label and --session recorded on allocate and run, shown by list, why and
// the API; list --project and styxy here; list -v with the server and whole command lines.

const box = useSandbox();
const strays = new Strays();
afterEach(() => strays.killAll());

test('--label and --session are recorded, shown by list, why and --json; STYXY_SESSION is the fallback', () => {
  const a = box.run(['allocate', '-s', 'dev', '-n', 'web', '--label', 'agent 2 ☃', '--session', 'claude-code:3f2a', '--persistent', '--json']).json;
  expect(a).toMatchObject({ success: true, label: 'agent 2 ☃', session: 'claude-code:3f2a' });
  const b = box.run(['allocate', '-s', 'api', '--persistent', '--json'], { env: { STYXY_SESSION: 'claude-code:env' } }).json;
  expect(b.session).toBe('claude-code:env');
  const c = box.run(['allocate', '-s', 'api', '-n', 'flag', '--session', 'mine', '--persistent', '--json'], { env: { STYXY_SESSION: 'claude-code:env' } }).json;
  expect(c.session).toBe('mine');

  const listed = box.run(['list', '--json']).json.allocations;
  expect(listed.find((x: { lockId: string }) => x.lockId === a.lockId)).toMatchObject({ label: 'agent 2 ☃', session: 'claude-code:3f2a' });
  expect(box.run(['list']).stdout).toMatch(/LABEL[\s\S]*agent 2 ☃/);
  expect(box.run(['list', '-v']).stdout).toContain('  session:   claude-code:3f2a');
  const why = box.run(['why', String(a.port), '--json']);
  expect(why.json.allocation).toMatchObject({ label: 'agent 2 ☃', session: 'claude-code:3f2a' });
  expect(why.json.summary).toContain("(label 'agent 2 ☃', session claude-code:3f2a)");
});

test("in Codex's shell the session is Codex's own (CODEX_SESSION_ID), unless --session or STYXY_SESSION says otherwise", () => {
  const codex = { CODEX_SESSION_ID: '01a24e48-843d-7a93-a4b3-38a04111013a' };
  expect(box.run(['allocate', '-s', 'dev', '-n', 'a', '--persistent', '--json'], { env: codex }).json.session).toBe(`codex:${codex.CODEX_SESSION_ID}`);
  expect(box.run(['allocate', '-s', 'dev', '-n', 'b', '--persistent', '--json'], { env: { ...codex, STYXY_SESSION: 'mine' } }).json.session).toBe('mine');
  expect(box.run(['allocate', '-s', 'dev', '-n', 'c', '--session', 'flag', '--persistent', '--json'], { env: codex }).json.session).toBe('flag');
  // One Styxy cannot record (a space in it) is left out: the allocation is made, without a session.
  const odd = box.run(['allocate', '-s', 'dev', '-n', 'd', '--persistent', '--json'], { env: { CODEX_SESSION_ID: 'a b' } });
  expect(odd.code).toBe(0);
  expect(odd.json.session).toBeUndefined();
});

test("in Claude Code's shell the session is Claude Code's own (CLAUDE_CODE_SESSION_ID), as its hook records it", () => {
  const claude = { CLAUDE_CODE_SESSION_ID: '3f2a9c1e-77b0-4c1d-9e8f-0a1b2c3d4e5f' };
  expect(box.run(['allocate', '-s', 'dev', '-n', 'a', '--persistent', '--json'], { env: claude }).json.session).toBe(
    `claude-code:${claude.CLAUDE_CODE_SESSION_ID}`,
  );
  expect(box.run(['allocate', '-s', 'dev', '-n', 'b', '--persistent', '--json'], { env: { ...claude, STYXY_SESSION: 'mine' } }).json.session).toBe('mine');
  const odd = box.run(['allocate', '-s', 'dev', '-n', 'c', '--persistent', '--json'], { env: { CLAUDE_CODE_SESSION_ID: 'a b' } });
  expect([odd.code, odd.json.session]).toEqual([0, undefined]);
  // So that SessionEnd's stop --session ends what the agent started with styxy itself.
  expect(box.run(['stop', '--session', `claude-code:${claude.CLAUDE_CODE_SESSION_ID}`, '--json']).json).toMatchObject({ success: true });
  expect(box.run(['list', '--json']).json.allocations.map((x: { instanceId: string }) => x.instanceId)).toEqual(['b', 'c']);
});

test('a bad label or session is INVALID_ARGUMENT and writes nothing', () => {
  for (const args of [
    ['--label', ''],
    ['--label', 'a\u0007b'],
    ['--label', 'x'.repeat(201)],
    ['--session', 'has space'],
  ]) {
    const r = box.run(['allocate', '-s', 'dev', ...args, '--json']);
    expect(r.code).toBe(3);
    expect(r.json.error.code).toBe('INVALID_ARGUMENT');
  }
  expect(box.run(['allocate', '-s', 'dev', '--json'], { env: { STYXY_SESSION: 'x\ty' } }).json.error.code).toBe('INVALID_ARGUMENT');
  expect(fs.existsSync(path.join(box.home, 'state.json')) ? box.readState().allocations : []).toEqual([]);
});

test('run records --label and --session; stop --session ends that session, and only it', async () => {
  const [mine, theirs] = [await freePortBlock(1), await freePortBlock(1, 50001, 60000)];
  const server = path.join(box.dir, 'server.js');
  fs.writeFileSync(server, 'require("http").createServer((q, s) => s.end("ok")).listen(Number(process.env.PORT), "127.0.0.1");');
  const start = (port: number, session: string) =>
    strays.add(
      spawn(process.execPath, [BIN, 'run', '-s', 'dev', '-p', String(port), '--label', `agent-${session}`, '--', 'node', server], {
        cwd: box.cwd,
        env: { ...box.env, STYXY_SESSION: session },
        stdio: 'ignore',
      }),
    );
  const a = start(mine, 's-1');
  const b = start(theirs, 's-2');
  await waitListening(mine);
  await waitListening(theirs);
  const listed = box.run(['list', '--json']).json.allocations;
  expect(listed.map((x: { session: string; label: string }) => [x.session, x.label]).sort()).toEqual([
    ['s-1', 'agent-s-1'],
    ['s-2', 'agent-s-2'],
  ]);

  const r = box.run(['stop', '--session', 's-1', '--json']);
  expect(r.code).toBe(0);
  expect(r.json.stopped).toHaveLength(1);
  expect(r.json.stopped[0]).toMatchObject({ port: mine, reason: 'run', released: true });
  await new Promise((resolve) => (a.exitCode !== null || a.signalCode !== null ? resolve(null) : a.once('exit', resolve)));
  expect(isRunning(b.pid!)).toBe(true);
  expect(box.run(['list', '--json']).json.allocations.map((x: { port: number }) => x.port)).toEqual([theirs]);
  // A session with nothing recorded stops nothing, and succeeds (an agent's SessionEnd calls it).
  expect(box.run(['stop', '--session', 's-1', '--json']).json).toMatchObject({ success: true, stopped: [] });
});

test('list --project and styxy here: this project (its git top level), or a directory', () => {
  const repo = path.join(box.dir, 'repo');
  fs.mkdirSync(path.join(repo, 'sub'), { recursive: true });
  require('child_process').spawnSync('git', ['init', '-q', repo]);
  const inRepo = box.run(['allocate', '-s', 'dev', '-n', 'a', '--persistent', '--json'], { cwd: path.join(repo, 'sub') }).json;
  const elsewhere = box.run(['allocate', '-s', 'dev', '-n', 'b', '--persistent', '--json']).json;
  expect(inRepo.project).toBe(repo);

  const here = box.run(['here', '--json'], { cwd: path.join(repo, 'sub') }).json;
  expect(here).toMatchObject({ success: true, project: repo });
  expect(here.allocations.map((x: { lockId: string }) => x.lockId)).toEqual([inRepo.lockId]);
  expect(box.run(['list', '--project', '--json'], { cwd: repo }).json.allocations.map((x: { lockId: string }) => x.lockId)).toEqual([inRepo.lockId]);
  expect(box.run(['list', '--project', box.cwd, '--json'], { cwd: repo }).json.allocations.map((x: { lockId: string }) => x.lockId)).toEqual([
    elsewhere.lockId,
  ]);
  expect(box.run(['here'], { cwd: box.dir }).stdout).toContain('No live allocations in');
});

test("list -v: the server's PID and whole command line, not run's, never cut", async () => {
  const port = await freePortBlock(1);
  const long = path.join(box.dir, `a-server-with-a-rather-long-name-${'x'.repeat(80)}.js`);
  fs.writeFileSync(long, 'require("http").createServer((q, s) => s.end("ok")).listen(Number(process.env.PORT), "127.0.0.1");');
  const run = strays.add(
    spawn(process.execPath, [BIN, 'run', '-s', 'dev', '-p', String(port), '--', 'sh', '-c', `node ${long} --flag & wait`], {
      cwd: box.cwd,
      env: box.env,
      stdio: 'ignore',
    }),
  );
  await waitListening(port);
  // Once seen (a crowded CI machine once showed a listing without it, not seen again): the line is checked, not the timing.
  const out = await waitFor('list -v naming the server', () => {
    const text = box.run(['list', '-v']).stdout;
    return text.includes('\n  server:') && text;
  });
  const serverLine = out.split('\n').find((l) => l.startsWith('  server:'));
  expect(serverLine).toMatch(new RegExp(`PID (\\d+) \\(node ${long.replace(/[.]/g, '\\.')} --flag\\)`));
  expect(serverLine).not.toContain(`PID ${run.pid} `);
  expect(out).toMatch(new RegExp(`owner: +styxy run PID ${run.pid} \\(.*sh -c node ${long.replace(/[.]/g, '\\.')} --flag & wait\\)`));
  const json = box.run(['list', '-v', '--json']).json.allocations[0];
  expect(json.server.command).toBe(`node ${long} --flag`);
});
