import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { BIN, sandbox, type Sandbox } from '../helpers/cli';
import { claudeBox, nodeProject, type ClaudeBox } from '../helpers/claude-code';
import { CODEX, codexEnv, installCodex, outputText, responsesStandIn, runCodex, shell, styxyTool, type CodexRun } from '../helpers/codex';

// The real Codex CLI against Styxy: `styxy agent install codex` writes the server into config.toml
// and `codex mcp list` shows it, `uninstall` gives the file back byte for byte; and whole
// `codex exec` sessions, answered by a scripted stand-in for the Responses API on 127.0.0.1, call
// Styxy's MCP tools and run `styxy start` in Codex's shell.

let skipped: string | null = null;
beforeAll(() => {
  skipped = installCodex();
  if (skipped) console.warn(`skipping the Codex tests: ${skipped}`);
}, 660_000);

let box: Sandbox;
let cb: ClaudeBox;
beforeEach(() => {
  box = sandbox();
  cb = claudeBox(box);
});
afterEach(() => box.cleanup());

const styxy = (args: string[], cwd = box.cwd) => spawnSync(process.execPath, [BIN, ...args], { cwd, env: codexEnv(cb), encoding: 'utf8' });
const mcpList = (cwd = box.cwd) => {
  const r = spawnSync(CODEX, ['mcp', 'list', '--json'], { cwd, env: codexEnv(cb), encoding: 'utf8', timeout: 60_000 });
  expect(r.status).toBe(0);
  return JSON.parse(r.stdout) as Array<{ name: string; enabled: boolean; transport: { type: string; command: string; args: string[]; env_vars: string[] } }>;
};

const USER_CONFIG = `# my own Codex settings
model = "o3"
approval_policy = "on-request"

[mcp_servers.docs]
command = "docs-mcp"   # keeps working
args = ["--stdio"]

[mcp_servers.docs.env]
DOCS_TOKEN_FILE = "/etc/docs/token"

[tui]
notifications = true
`;

test('install --user: codex sees the styxy server beside the user\u2019s own; uninstall gives config.toml back byte for byte', () => {
  if (skipped) return;
  const file = path.join(cb.userHome, '.codex', 'config.toml');
  fs.mkdirSync(path.dirname(file));
  fs.writeFileSync(file, USER_CONFIG);
  const installed = styxy(['agent', 'install', 'codex', '--user', '--json']);
  expect(JSON.parse(installed.stdout).changes).toEqual([expect.objectContaining({ file, action: 'updated' })]);
  const servers = mcpList();
  expect(servers.map((s) => s.name).sort()).toEqual(['docs', 'styxy']);
  // What Codex read: the command on PATH, `mcp`, and STYXY_HOME passed through (Codex starts a
  // server with a few variables only).
  expect(servers.find((s) => s.name === 'styxy')).toMatchObject({
    enabled: true,
    transport: { type: 'stdio', command: 'styxy', args: ['mcp'], env_vars: ['STYXY_HOME'] },
  });
  expect(servers.find((s) => s.name === 'docs')).toMatchObject({ transport: { command: 'docs-mcp', args: ['--stdio'] } });
  const uninstalled = styxy(['agent', 'uninstall', 'codex', '--json']);
  expect(JSON.parse(uninstalled.stdout).changes).toEqual([expect.objectContaining({ file, action: 'restored' })]);
  expect(fs.readFileSync(file, 'utf8')).toBe(USER_CONFIG);
  expect(mcpList().map((s) => s.name)).toEqual(['docs']);
}, 120_000);

test('a tool approval the user added under [mcp_servers.styxy] goes with uninstall: codex still reads config.toml', () => {
  if (skipped) return;
  const file = path.join(cb.userHome, '.codex', 'config.toml');
  fs.mkdirSync(path.dirname(file));
  fs.writeFileSync(file, USER_CONFIG);
  expect(styxy(['agent', 'install', 'codex', '--json']).status).toBe(0);
  fs.appendFileSync(file, '\n[mcp_servers.styxy.tools.start_server]\napproval_mode = "approve"\n');
  expect(
    mcpList()
      .map((s) => s.name)
      .sort(),
  ).toEqual(['docs', 'styxy']);
  const uninstalled = JSON.parse(styxy(['agent', 'uninstall', 'codex', '--json']).stdout);
  expect(uninstalled.changes).toEqual([
    expect.objectContaining({ file, action: 'updated', note: expect.stringContaining('[mcp_servers.styxy.tools.start_server]') }),
  ]);
  // Left behind, that table alone made Codex refuse the whole file ("invalid transport").
  expect(fs.readFileSync(file, 'utf8')).toBe(USER_CONFIG);
  expect(mcpList().map((s) => s.name)).toEqual(['docs']);
}, 120_000);

test('install --project: codex reads .codex/config.toml only in a project the user trusts; uninstall removes what it created', () => {
  if (skipped) return;
  spawnSync('git', ['init', '-q', box.cwd]);
  const installed = styxy(['agent', 'install', 'codex', '--project', '--json']);
  expect(JSON.parse(installed.stdout).changes).toEqual([expect.objectContaining({ file: path.join(box.cwd, '.codex', 'config.toml'), action: 'created' })]);
  // An untrusted project's config is not read: the user trusts the folder once, by hand (`codex` asks).
  expect(mcpList()).toEqual([]);
  fs.mkdirSync(path.join(cb.userHome, '.codex'));
  fs.writeFileSync(path.join(cb.userHome, '.codex', 'config.toml'), `[projects.${JSON.stringify(box.cwd)}]\ntrust_level = "trusted"\n`);
  expect(mcpList()).toEqual([expect.objectContaining({ name: 'styxy', transport: expect.objectContaining({ command: 'styxy', args: ['mcp'] }) })]);
  const uninstalled = styxy(['agent', 'uninstall', 'codex', '--project', '--json']);
  expect(JSON.parse(uninstalled.stdout).changes).toEqual([expect.objectContaining({ action: 'removed' })]);
  expect(fs.existsSync(path.join(box.cwd, '.codex'))).toBe(false);
  expect(mcpList()).toEqual([]);
}, 120_000);

/** The JSON a tool answered, from the text the next request carried back to the model. */
const toolJson = (output: string): any => JSON.parse(output.slice(output.indexOf('{')));
const mcpCalls = (run: CodexRun) => run.events.filter((e) => e.type === 'item.completed' && e.item?.type === 'mcp_tool_call').map((e) => e.item!);

test('a whole codex exec session: allocate_port and who_holds_port answer the model, the allocation is the session\u2019s while it runs', async () => {
  if (skipped) return;
  nodeProject(box.cwd);
  expect(styxy(['agent', 'install', 'codex', '--json']).status).toBe(0);
  let duringSession: any;
  const standIn = await responsesStandIn([
    () => styxyTool('allocate_port', { service_type: 'dev', name: 'web' }),
    ([allocated]) => {
      // While the session runs, the CLI sees the allocation the MCP server made.
      duringSession = JSON.parse(styxy(['list', '--json']).stdout);
      return styxyTool('who_holds_port', { port: toolJson(allocated!).port });
    },
    () => ({ text: 'Port allocated.' }),
  ]);
  let run: CodexRun;
  try {
    // Codex's defaults for `exec`: a read-only sandbox, approval never asked. The MCP server runs
    // outside the sandbox; its tools run without approval because they say they are additive or
    // read-only (annotations).
    run = await runCodex(cb, box.cwd, standIn.url);
  } finally {
    await standIn.close();
  }
  expect(run.code).toBe(0);
  expect(run.events[run.events.length - 1]).toMatchObject({ type: 'turn.completed' });
  const session = run.session!;
  expect(session).toMatch(/^[0-9a-f-]{36}$/);
  // Codex started `styxy mcp` and offered its six tools to the model, under the namespace mcp__styxy.
  const offered = standIn.requests[0]!.tools!.find((t) => t.name === 'mcp__styxy');
  expect(offered?.tools?.map((t) => t.name).sort()).toEqual(['allocate_port', 'list_ports', 'release_port', 'start_server', 'stop_server', 'who_holds_port']);
  // Both calls ran, and their results reached the model: the requests after them carry them.
  expect(mcpCalls(run).map((c) => [c.tool, c.status])).toEqual([
    ['allocate_port', 'completed'],
    ['who_holds_port', 'completed'],
  ]);
  const last = standIn.requests[standIn.requests.length - 1]!;
  const [allocated, who] = last.input.filter((i) => i.type === 'function_call_output').map((i) => toolJson(outputText(i.output)));
  console.log(
    `codex exec transcript excerpt (the tool results the model was sent):\n${JSON.stringify(
      last.input.filter((i) => i.type.startsWith('function_call')),
      null,
      1,
    )}`,
  );
  // The allocation belongs to the agent (the Codex process) and records Codex's session id.
  expect(allocated).toMatchObject({
    success: true,
    serviceType: 'dev',
    instanceId: 'web',
    project: box.cwd,
    session: `codex:${session}`,
    owner: { kind: 'process' },
  });
  expect(allocated.owner.command).toContain('codex');
  expect(who).toMatchObject({ success: true, port: allocated.port, allocation: { lockId: allocated.lockId, session: `codex:${session}` } });
  // The CLI saw it while the session ran (the MCP server used the same STYXY_HOME).
  expect(duringSession.allocations).toEqual([expect.objectContaining({ lockId: allocated.lockId, port: allocated.port, session: `codex:${session}` })]);
  // The session is over: its owner is gone, and so is the allocation.
  expect(JSON.parse(styxy(['list', '--json']).stdout).allocations).toEqual([]);
}, 240_000);

test('codex exec runs styxy start in its shell: the node server listens on the Styxy port after the session, until stopped', async () => {
  if (skipped) return;
  nodeProject(box.cwd);
  expect(styxy(['agent', 'install', 'codex', '--json']).status).toBe(0);
  const portIn = (output: string): number => Number(/^port: (\d+)$/m.exec(output)?.[1] ?? 0);
  const standIn = await responsesStandIn([
    () => shell('styxy start -s dev -n web -- node server.js'),
    ([started]) => shell(`curl -s http://127.0.0.1:${portIn(started!)}/`),
    ([started]) => styxyTool('who_holds_port', { port: portIn(started!) }),
    // What a command can record as its session (docs/agents.md).
    () => shell('echo "session=$CODEX_SESSION_ID"'),
    () => ({ text: 'The dev server runs.' }),
  ]);
  let port = 0;
  try {
    // The shell needs the full-access sandbox: `styxy start` writes its state under STYXY_HOME
    // (outside the workspace) and the server listens on a port. As root that is `-s danger-full-access`.
    const run = await runCodex(cb, box.cwd, standIn.url, ['-s', 'danger-full-access']);
    expect(run.code).toBe(0);
    const outputs = standIn.requests[standIn.requests.length - 1]!.input.filter((i) => i.type === 'function_call_output').map((i) => outputText(i.output));
    console.log(`codex exec transcript excerpt (shell and MCP results):\n${outputs.join('\n---\n')}`);
    const [started, curl, who, echoed] = outputs;
    expect(echoed).toContain(`session=${run.session}`);
    port = portIn(started!);
    expect(port).toBeGreaterThanOrEqual(3000);
    expect(started).toContain(`url: http://localhost:${port}`);
    expect(curl).toContain('hello from the app');
    // The allocation belongs to the server's tree (not to Codex), and the server is what listens.
    const holder = toolJson(who!);
    expect(holder).toMatchObject({ success: true, port, listening: true, allocation: { instanceId: 'web', owner: { kind: 'process' } } });
    expect(holder.allocation.owner.command).toContain('node server.js');
    // Codex has exited; the detached server still serves on its port, and the CLI lists it.
    const probe = spawnSync('curl', ['-s', `http://127.0.0.1:${port}/`], { encoding: 'utf8' });
    expect(probe.stdout).toBe('hello from the app');
    expect(JSON.parse(styxy(['list', '--json']).stdout).allocations.map((a: { port: number }) => a.port)).toEqual([port]);
    // Recorded with Codex's session, read from CODEX_SESSION_ID: stop --session ends it.
    expect(holder.allocation.session).toBe(`codex:${run.session}`);
  } finally {
    await standIn.close();
    if (port) styxy(['stop', String(port)]);
  }
  const probe = spawnSync('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', `http://127.0.0.1:${port}/`], { encoding: 'utf8' });
  expect(probe.stdout).toBe('000');
}, 240_000);

test('start_server under codex exec\u2019s own sandbox, the one tool approved: the server outlives the session, which stop --session ends', async () => {
  if (skipped) return;
  nodeProject(box.cwd);
  expect(styxy(['agent', 'install', 'codex', '--json']).status).toBe(0);
  const standIn = await responsesStandIn([() => styxyTool('start_server', { command: ['node', 'server.js'], name: 'web' }), () => ({ text: 'Started.' })]);
  let run: CodexRun;
  try {
    // The user's own choice, never the install's: this one tool runs without asking (what Codex
    // otherwise asks for, as start_server runs a command). The sandbox stays Codex's default
    // (read-only): the MCP server runs outside it, so the server it starts does too.
    run = await runCodex(cb, box.cwd, standIn.url, ['-c', 'mcp_servers.styxy.tools.start_server.approval_mode="approve"']);
  } finally {
    await standIn.close();
  }
  expect(run.code).toBe(0);
  const session = `codex:${run.session}`;
  const output = standIn.requests[standIn.requests.length - 1]!.input.find((i) => i.type === 'function_call_output');
  const started = toolJson(outputText(output!.output));
  expect(started).toMatchObject({ success: true, started: true, serviceType: 'dev', instanceId: 'web' });
  try {
    // Codex has exited; the server still serves, its allocation recorded with the session.
    expect(spawnSync('curl', ['-s', `http://127.0.0.1:${started.port}/`], { encoding: 'utf8' }).stdout).toBe('hello from the app');
    expect(JSON.parse(styxy(['list', '--json']).stdout).allocations).toEqual([
      expect.objectContaining({ port: started.port, session, owner: expect.objectContaining({ pid: started.pid, command: 'node server.js' }) }),
    ]);
    // What ends a Codex session's servers (Codex has no session-end hook).
    const stopped = styxy(['stop', '--session', session, '--json']);
    expect(stopped.status).toBe(0);
  } finally {
    styxy(['stop', String(started.port)]);
  }
  expect(JSON.parse(styxy(['list', '--json']).stdout).allocations).toEqual([]);
  expect(spawnSync('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', `http://127.0.0.1:${started.port}/`], { encoding: 'utf8' }).stdout).toBe('000');
}, 240_000);
