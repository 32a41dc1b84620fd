import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as http from 'http';
import type { AddressInfo } from 'net';
import * as os from 'os';
import * as path from 'path';
import { BIN, sandbox, type Sandbox } from '../helpers/cli';

// The real Claude Code CLI against Styxy: `claude mcp list` starts `styxy mcp` and reports it
// connected, and a whole `claude -p` session, answered by a scripted stand-in for the Messages API
// on 127.0.0.1, asks for `npm run dev` and then for MCP tools: the hook's rewrite, the detached
// start, the session hooks and the MCP answers run end to end in the real client.

const VERSION = '2.1.328';
/** The install is ~373 MB: kept between runs, per version, in the temporary directory. */
const CACHE = path.join(os.tmpdir(), `styxy-tools-claude-code-${VERSION}`);
const CLAUDE = path.join(CACHE, 'node_modules', '.bin', 'claude');

function installClaude(): string | null {
  if (fs.existsSync(CLAUDE) && spawnSync(CLAUDE, ['--version'], { encoding: 'utf8', timeout: 60_000 }).status === 0) return null;
  fs.mkdirSync(CACHE, { recursive: true });
  const r = spawnSync('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', '--prefix', CACHE, `@anthropic-ai/claude-code@${VERSION}`], {
    encoding: 'utf8',
    timeout: 600_000,
    env: { ...process.env, npm_config_update_notifier: 'false' },
  });
  if (r.status !== 0 || !fs.existsSync(CLAUDE))
    return `could not install @anthropic-ai/claude-code@${VERSION} from the npm registry: ${(r.stderr || r.error?.message || '').slice(0, 300)}`;
  return null;
}

let skipped: string | null = null;
beforeAll(() => {
  skipped = installClaude();
  if (skipped) console.warn(`skipping the Claude Code tests: ${skipped}`);
}, 660_000);

let box: Sandbox;
let userHome: string;
let binDir: string;
beforeEach(() => {
  box = sandbox();
  userHome = path.join(box.dir, 'user-home');
  fs.mkdirSync(userHome);
  // `styxy` on the PATH, as an installed styxy is.
  binDir = path.join(box.dir, 'bin');
  fs.mkdirSync(binDir);
  fs.symlinkSync(BIN, path.join(binDir, 'styxy'));
});
afterEach(() => box.cleanup());

/** Claude Code's environment: a fresh home, no traffic but to the stand-in, styxy on the PATH. */
function claudeEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    ...box.env,
    HOME: userHome,
    PATH: `${binDir}${path.delimiter}${process.env.PATH}`,
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    DISABLE_TELEMETRY: '1',
    DISABLE_ERROR_REPORTING: '1',
    DISABLE_AUTOUPDATER: '1',
    ...extra,
  };
}

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

/**
 * What the user does once by hand: trust the folder and approve its MCP servers. It is the user's
 * choice, never the install's (which grants nothing).
 */
function approveProject(): void {
  fs.writeFileSync(path.join(box.cwd, '.claude', 'settings.local.json'), JSON.stringify({ enableAllProjectMcpServers: true }));
  fs.writeFileSync(path.join(userHome, '.claude.json'), JSON.stringify({ projects: { [box.cwd]: { hasTrustDialogAccepted: true } } }));
}

/** One scripted turn: what the stand-in answers to the request with this many assistant messages. */
type Turn = (results: string[]) => { tool: { name: string; input: Record<string, unknown> } } | { text: string };

/** A stand-in for the Messages API: streams each turn's answer, records every tool result it is sent. */
async function messagesStandIn(turns: Turn[]): Promise<{ url: string; results: string[]; close: () => Promise<void> }> {
  const results: string[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      if (req.method !== 'POST' || !req.url?.startsWith('/v1/messages')) {
        res.writeHead(404).end('{}');
        return;
      }
      const request = JSON.parse(body) as { messages: Array<{ role: string; content: unknown }>; tools?: unknown[] };
      const assistant = request.messages.filter((m) => m.role === 'assistant').length;
      const last = request.messages[request.messages.length - 1];
      const toolResults = Array.isArray(last?.content)
        ? (last.content as Array<{ type: string; content?: unknown }>).filter((c) => c.type === 'tool_result').map((c) => JSON.stringify(c.content))
        : [];
      if (request.tools && toolResults.length > 0) results.push(...toolResults);
      // Side requests (titles, summaries) carry no tools: a plain answer.
      const turn = request.tools ? (turns[assistant] ?? (() => ({ text: 'Done.' }))) : () => ({ text: 'Styxy session' });
      stream(res, turn(results));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, results, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

/** A tool result's text: Claude Code sends a string, or an array of text blocks. */
function textOf(recorded: string): string {
  const content = JSON.parse(recorded) as string | Array<{ type: string; text?: string }>;
  return typeof content === 'string' ? content : content.map((c) => c.text ?? '').join('');
}

let messageId = 0;
function stream(res: http.ServerResponse, answer: ReturnType<Turn>): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  const send = (event: string, data: object) => res.write(`event: ${event}\ndata: ${JSON.stringify({ type: event, ...data })}\n\n`);
  send('message_start', {
    message: {
      id: `msg_${++messageId}`,
      type: 'message',
      role: 'assistant',
      model: 'claude-sonnet-4-5',
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: { input_tokens: 10, output_tokens: 1 },
    },
  });
  if ('tool' in answer) {
    send('content_block_start', { index: 0, content_block: { type: 'tool_use', id: `toolu_${messageId}`, name: answer.tool.name, input: {} } });
    send('content_block_delta', { index: 0, delta: { type: 'input_json_delta', partial_json: JSON.stringify(answer.tool.input) } });
  } else {
    send('content_block_start', { index: 0, content_block: { type: 'text', text: '' } });
    send('content_block_delta', { index: 0, delta: { type: 'text_delta', text: answer.text } });
  }
  send('content_block_stop', { index: 0 });
  send('message_delta', { delta: { stop_reason: 'tool' in answer ? 'tool_use' : 'end_turn', stop_sequence: null }, usage: { output_tokens: 5 } });
  send('message_stop', {});
  res.end();
}

/** A small node http server project: `npm run dev` serves on $PORT. */
function nodeProject(): void {
  spawnSync('git', ['init', '-q', box.cwd]);
  fs.writeFileSync(path.join(box.cwd, 'package.json'), JSON.stringify({ name: 'app', private: true, scripts: { dev: 'node server.js' } }));
  fs.writeFileSync(
    path.join(box.cwd, 'server.js'),
    "require('http').createServer((q, s) => s.end('hello from the app')).listen(Number(process.env.PORT), '127.0.0.1', () => console.log('listening on ' + process.env.PORT));\n",
  );
}

function runClaude(baseUrl: string, tools: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(CLAUDE, ['-p', 'Start the dev server', '--output-format', 'stream-json', '--verbose', '--allowedTools', tools.join(',')], {
      cwd: box.cwd,
      env: claudeEnv({ ANTHROPIC_BASE_URL: baseUrl, ANTHROPIC_API_KEY: 'sk-test-styxy' }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

test('a whole claude -p session: npm run dev runs detached on a Styxy port with the session, the MCP tools answer, SessionEnd stops it', async () => {
  if (skipped) return;
  nodeProject();
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
    const r = await runClaude(standIn.url, ['Bash', 'mcp__styxy__who_holds_port', 'mcp__styxy__list_ports']);
    const events = r.stdout
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { type: string; subtype?: string; session_id?: string });
    session = events.find((e) => e.type === 'system' && e.subtype === 'init')?.session_id;
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
