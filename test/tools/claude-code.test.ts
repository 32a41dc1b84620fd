import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { BIN, sandbox, type Sandbox } from '../helpers/cli';
import {
  approveProjects,
  CLAUDE,
  claudeBox,
  claudeEnv as envOf,
  installClaude,
  messagesStandIn,
  nodeProject,
  runClaude,
  textOf,
  type ClaudeBox,
} from '../helpers/claude-code';

// The real Claude Code CLI against Styxy: `claude mcp list` starts `styxy mcp` and reports it
// connected, and a whole `claude -p` session, answered by a scripted stand-in for the Messages API
// on 127.0.0.1, asks for `npm run dev` and then for MCP tools: the hook's rewrite, the detached
// start, the session hooks and the MCP answers run end to end in the real client.

let skipped: string | null = null;
beforeAll(() => {
  skipped = installClaude();
  if (skipped) console.warn(`skipping the Claude Code tests: ${skipped}`);
}, 660_000);

let box: Sandbox;
let cb: ClaudeBox;
beforeEach(() => {
  box = sandbox();
  cb = claudeBox(box);
});
afterEach(() => box.cleanup());

const claudeEnv = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => envOf(cb, extra);
const approveProject = (): void => approveProjects(cb, [box.cwd]);

test('claude mcp list starts styxy mcp from the .mcp.json styxy agent install wrote, and reports it connected', () => {
  if (skipped) return;
  fs.mkdirSync(path.join(box.cwd, '.git'));
  const installed = spawnSync(process.execPath, [BIN, 'agent', 'install', 'claude-code', '--json'], { cwd: box.cwd, env: claudeEnv(), encoding: 'utf8' });
  expect(JSON.parse(installed.stdout).changes.map((c: { action: string }) => c.action)).toEqual(['created', 'created', 'created']);
  expect(JSON.parse(fs.readFileSync(path.join(box.cwd, '.mcp.json'), 'utf8')).mcpServers.styxy).toEqual({
    type: 'stdio',
    command: 'styxy',
    args: ['mcp'],
    env: {},
  });
  approveProject();
  const r = spawnSync(CLAUDE, ['mcp', 'list'], { cwd: box.cwd, env: claudeEnv(), encoding: 'utf8', timeout: 120_000 });
  expect(r.stdout).toMatch(/styxy: styxy mcp - ✔ Connected/);
}, 180_000);

test('a whole claude -p session: npm run dev runs detached on a Styxy port with the session, the MCP tools answer, SessionEnd stops it', async () => {
  if (skipped) return;
  nodeProject(box.cwd);
  const installed = spawnSync(process.execPath, [BIN, 'agent', 'install', 'claude-code'], { cwd: box.cwd, env: claudeEnv(), encoding: 'utf8' });
  expect(installed.status).toBe(0);
  approveProject();
  const portIn = (results: string[]): string => /\b(3\d{3})\b/.exec(results.join('\n'))?.[1] ?? '0';
  const standIn = await messagesStandIn([
    () => ({ tool: { name: 'Bash', input: { command: 'npm run dev', description: 'Start the dev server' } } }),
    (results) => ({ tool: { name: 'Bash', input: { command: `curl -s http://127.0.0.1:${portIn(results)}/`, description: 'Ask the server' } } }),
    (results) => ({ tool: { name: 'mcp__styxy__who_holds_port', input: { port: Number(portIn(results)) } } }),
    () => ({ tool: { name: 'mcp__styxy__list_ports', input: { this_project: true } } }),
    () => ({ text: 'The dev server runs.' }),
  ]);
  let session: string | undefined;
  try {
    const r = await runClaude(cb, box.cwd, standIn.url, ['Bash', 'mcp__styxy__who_holds_port', 'mcp__styxy__list_ports']);
    const events = r.events;
    session = r.session;
    expect(session).toBeDefined();
    expect(events[events.length - 1]).toMatchObject({ type: 'result', subtype: 'success' });
    const [started, curl, who, listed] = standIn.results.map(textOf);
    console.log(`transcript excerpt (tool results the model saw):\n${standIn.results.map(textOf).join('\n---\n')}`);
    // The hook ran npm run dev under styxy start: it came back at once with the port, URL, PID and log.
    const port = Number(portIn([started!]));
    expect(port).toBeGreaterThanOrEqual(3000);
    expect(started).toContain(`http://`);
    // The server answered on that port while the session ran.
    expect(curl).toContain('hello from the app');
    // The MCP server named the allocation, recorded with the session, and the listener.
    expect(JSON.parse(who!)).toMatchObject({
      success: true,
      port,
      listening: true,
      allocation: { instanceId: 'dev', session: `claude-code:${session}` },
    });
    expect(JSON.parse(listed!).allocations.map((a: { port: number }) => a.port)).toEqual([port]);
    // SessionEnd stopped what the session started: nothing listens, nothing is allocated.
    const left = spawnSync(process.execPath, [BIN, 'list', '--json'], { env: box.env, encoding: 'utf8' });
    expect(JSON.parse(left.stdout).allocations).toEqual([]);
    const probe = spawnSync('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', `http://127.0.0.1:${port}/`], { encoding: 'utf8' });
    expect(probe.stdout).toBe('000');
  } finally {
    await standIn.close();
    // Whatever the outcome, nothing the session started outlives the test.
    spawnSync(process.execPath, [BIN, 'stop', '--session', `claude-code:${session ?? 'none'}`], { env: box.env, encoding: 'utf8' });
  }
}, 240_000);

test('SessionEnd ends a server that ignores SIGTERM: the hook has the time for SIGKILL (Claude Code cancels it after 1.5 s without a timeout)', async () => {
  if (skipped) return;
  spawnSync('git', ['init', '-q', box.cwd]);
  fs.writeFileSync(path.join(box.cwd, 'package.json'), JSON.stringify({ name: 'app', private: true, scripts: { start: 'node stubborn.js' } }));
  fs.writeFileSync(
    path.join(box.cwd, 'stubborn.js'),
    "process.on('SIGTERM', () => console.log('not yet'));\nrequire('http').createServer((q, s) => s.end('stubborn')).listen(Number(process.env.PORT), '127.0.0.1');\n",
  );
  expect(spawnSync(process.execPath, [BIN, 'agent', 'install', 'claude-code'], { cwd: box.cwd, env: claudeEnv(), encoding: 'utf8' }).status).toBe(0);
  approveProject();
  const standIn = await messagesStandIn([
    () => ({ tool: { name: 'Bash', input: { command: 'npm start', description: 'Start the server' } } }),
    () => ({ text: 'Started.' }),
  ]);
  let pid = 0;
  let session: string | undefined;
  try {
    const r = await runClaude(cb, box.cwd, standIn.url, ['Bash']);
    session = r.session;
    const started = textOf(standIn.results[0]!);
    pid = Number(/^pid: (\d+)$/m.exec(started)?.[1]);
    expect(pid).toBeGreaterThan(0);
    expect(r.stdout + r.stderr).not.toContain('Hook cancelled');
    // Ended (SIGKILL after the grace), and its allocation gone with it.
    expect(fs.existsSync(`/proc/${pid}`) && !/\) Z /.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'))).toBe(false);
    expect(JSON.parse(spawnSync(process.execPath, [BIN, 'list', '--json'], { env: box.env, encoding: 'utf8' }).stdout).allocations).toEqual([]);
  } finally {
    await standIn.close();
    if (pid > 0) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        /* ended, as it should be */
      }
    }
    spawnSync(process.execPath, [BIN, 'stop', '--session', `claude-code:${session ?? 'none'}`], { env: box.env, encoding: 'utf8' });
  }
}, 240_000);

test("a server the agent starts with styxy start itself (as CLAUDE.md tells it) is the session's too: SessionEnd stops it", async () => {
  if (skipped) return;
  nodeProject(box.cwd);
  expect(spawnSync(process.execPath, [BIN, 'agent', 'install', 'claude-code'], { cwd: box.cwd, env: claudeEnv(), encoding: 'utf8' }).status).toBe(0);
  approveProject();
  const standIn = await messagesStandIn([
    () => ({ tool: { name: 'Bash', input: { command: 'styxy start -s dev -n web -- node server.js', description: 'Start the server' } } }),
    () => ({ text: 'Started.' }),
  ]);
  let session: string | undefined;
  try {
    const r = await runClaude(cb, box.cwd, standIn.url, ['Bash']);
    session = r.session;
    const port = Number(/^port: (\d+)$/m.exec(textOf(standIn.results[0]!))?.[1]);
    expect(port).toBeGreaterThan(0);
    expect(JSON.parse(spawnSync(process.execPath, [BIN, 'list', '--json'], { env: box.env, encoding: 'utf8' }).stdout).allocations).toEqual([]);
    const probe = spawnSync('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', `http://127.0.0.1:${port}/`], { encoding: 'utf8' });
    expect(probe.stdout).toBe('000');
  } finally {
    await standIn.close();
    spawnSync(process.execPath, [BIN, 'stop', '--session', `claude-code:${session ?? 'none'}`], { env: box.env, encoding: 'utf8' });
    spawnSync(process.execPath, [BIN, 'stop', '-s', 'dev', '-n', 'web'], { cwd: box.cwd, env: box.env, encoding: 'utf8' });
  }
}, 240_000);

test('a permission rule for the rewritten command lets it run: no per-session text in front of it', async () => {
  if (skipped) return;
  nodeProject(box.cwd);
  expect(spawnSync(process.execPath, [BIN, 'agent', 'install', 'claude-code'], { cwd: box.cwd, env: claudeEnv(), encoding: 'utf8' }).status).toBe(0);
  approveProject();
  const standIn = await messagesStandIn([
    () => ({ tool: { name: 'Bash', input: { command: 'npm run dev', description: 'Start the server' } } }),
    () => ({ text: 'Started.' }),
  ]);
  let session: string | undefined;
  try {
    // Only this exact command is allowed: what `npm run dev` becomes, the same in every session.
    const r = await runClaude(cb, box.cwd, standIn.url, ['Bash(styxy start -s dev -n dev -- npm run dev)']);
    session = r.session;
    const started = textOf(standIn.results[0]!);
    expect(started).toMatch(/^port: \d+$/m);
    expect(started).not.toContain('requires approval');
    // Recorded with the session all the same (start read CLAUDE_CODE_SESSION_ID), so SessionEnd stopped it.
    expect(JSON.parse(spawnSync(process.execPath, [BIN, 'list', '--json'], { env: box.env, encoding: 'utf8' }).stdout).allocations).toEqual([]);
  } finally {
    await standIn.close();
    spawnSync(process.execPath, [BIN, 'stop', '--session', `claude-code:${session ?? 'none'}`], { env: box.env, encoding: 'utf8' });
    spawnSync(process.execPath, [BIN, 'stop', '-s', 'dev', '-n', 'dev'], { cwd: box.cwd, env: box.env, encoding: 'utf8' });
  }
}, 240_000);
