import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as http from 'http';
import type { AddressInfo } from 'net';
import * as path from 'path';
import { CLIENTS, binOf, skipReason } from '../agent-clients';
import { BIN, type Sandbox } from './cli';

// The harness of the tools tier's Claude Code tests: the real `claude` CLI, installed once into a
// cached scratch directory, run against a scripted stand-in for the Messages API on 127.0.0.1.

export const CLAUDE_VERSION: string = CLIENTS.claude.version;
export const CLAUDE = binOf('claude');

/** Null when Claude Code runs (installed by Jest's global setup, see test/agent-clients.js), else why not. */
export function installClaude(): string | null {
  return skipReason('claude');
}

/** A sandbox with a user home for Claude Code and `styxy` on a PATH of its own. */
export interface ClaudeBox {
  box: Sandbox;
  userHome: string;
  binDir: string;
}

export function claudeBox(box: Sandbox): ClaudeBox {
  const userHome = path.join(box.dir, 'user-home');
  fs.mkdirSync(userHome);
  // `styxy` on the PATH, as an installed styxy is.
  const binDir = path.join(box.dir, 'bin');
  fs.mkdirSync(binDir);
  fs.symlinkSync(BIN, path.join(binDir, 'styxy'));
  return { box, userHome, binDir };
}

/** Claude Code's environment: a fresh home, no traffic but to the stand-in, styxy on the PATH. */
export function claudeEnv(cb: ClaudeBox, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    ...cb.box.env,
    HOME: cb.userHome,
    PATH: `${cb.binDir}${path.delimiter}${process.env.PATH}`,
    CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC: '1',
    DISABLE_TELEMETRY: '1',
    DISABLE_ERROR_REPORTING: '1',
    DISABLE_AUTOUPDATER: '1',
    ...extra,
  };
}

/**
 * What the user does once by hand: trust the folders and approve their MCP servers. It is the
 * user's choice, never the install's (which grants nothing).
 */
export function approveProjects(cb: ClaudeBox, dirs: string[]): void {
  for (const dir of dirs) fs.writeFileSync(path.join(dir, '.claude', 'settings.local.json'), JSON.stringify({ enableAllProjectMcpServers: true }));
  const projects = Object.fromEntries(dirs.map((d) => [d, { hasTrustDialogAccepted: true }]));
  fs.writeFileSync(path.join(cb.userHome, '.claude.json'), JSON.stringify({ projects }));
}

/** One scripted turn: what the stand-in answers to the request with this many assistant messages. */
export type Answer = { tool: { name: string; input: Record<string, unknown> } } | { text: string };
export type Turn = (results: string[]) => Answer | Promise<Answer>;

export interface StandIn {
  url: string;
  /** Every tool result the client sent, as recorded (see textOf). */
  results: string[];
  close: () => Promise<void>;
}

/** A stand-in for the Messages API: streams each turn's answer (a turn may wait), records every tool result it is sent. */
export async function messagesStandIn(turns: Turn[]): Promise<StandIn> {
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
      const turn: Turn = request.tools ? (turns[assistant] ?? (() => ({ text: 'Done.' }))) : () => ({ text: 'Styxy session' });
      void Promise.resolve(turn(results)).then((answer) => stream(res, answer));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    results,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A tool result's text: Claude Code sends a string, or an array of text blocks. */
export function textOf(recorded: string): string {
  const content = JSON.parse(recorded) as string | Array<{ type: string; text?: string }>;
  return typeof content === 'string' ? content : content.map((c) => c.text ?? '').join('');
}

let messageId = 0;
function stream(res: http.ServerResponse, answer: Answer): void {
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

export const SERVER_JS =
  "require('http').createServer((q, s) => s.end('hello from the app')).listen(Number(process.env.PORT), '127.0.0.1', () => console.log('listening on ' + process.env.PORT));\n";

/** A small node http server project in `dir`: `npm run dev` serves on $PORT. */
export function nodeProject(dir: string): void {
  spawnSync('git', ['init', '-q', dir]);
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'app', private: true, scripts: { dev: 'node server.js' } }));
  fs.writeFileSync(path.join(dir, 'server.js'), SERVER_JS);
}

export interface ClaudeRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** The session id of the `system/init` event, when there was one. */
  session: string | undefined;
  events: Array<{ type: string; subtype?: string; session_id?: string }>;
}

/** One `claude -p` session in `cwd` against the stand-in at `baseUrl`, allowed `tools`. */
export function runClaude(cb: ClaudeBox, cwd: string, baseUrl: string, tools: string[]): Promise<ClaudeRun> {
  return new Promise((resolve) => {
    const child = spawn(CLAUDE, ['-p', 'Start the dev server', '--output-format', 'stream-json', '--verbose', '--allowedTools', tools.join(',')], {
      cwd,
      env: claudeEnv(cb, { ANTHROPIC_BASE_URL: baseUrl, ANTHROPIC_API_KEY: 'sk-test-styxy' }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => {
      const events = stdout
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as ClaudeRun['events'][number]);
      const session = events.find((e) => e.type === 'system' && e.subtype === 'init')?.session_id;
      resolve({ code, stdout, stderr, session, events });
    });
  });
}
