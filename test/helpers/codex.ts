import { spawn } from 'child_process';
import * as http from 'http';
import type { AddressInfo } from 'net';
import * as path from 'path';
import { CLIENTS, binOf, skipReason } from '../agent-clients';
import type { ClaudeBox } from './claude-code';

// The harness of the tools tier's Codex tests: the real `codex` CLI, installed once into a cached
// scratch directory, run against a scripted stand-in for the OpenAI Responses API on 127.0.0.1.
// Facts it rests on (Codex 0.171.0, measured here): `codex exec` sends only `POST {base_url}/responses`
// with `stream: true` and reads server-sent events; an MCP server's tools come as one tool of
// type "namespace" named `mcp__SERVER`, and the model calls one with a `function_call` item that
// carries `namespace` and the tool's own `name`; each tool's result goes back in the next request
// as a `function_call_output` item.

export const CODEX_VERSION: string = CLIENTS.codex.version;
export const CODEX = binOf('codex');

/** Null when Codex runs (installed by Jest's global setup, see test/agent-clients.js), else why not. */
export function installCodex(): string | null {
  return skipReason('codex');
}

/** Codex's environment: a fresh home (so ~/.codex is the test's), styxy on the PATH, the stand-in's key. */
export function codexEnv(cb: ClaudeBox, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {
    ...cb.box.env,
    HOME: cb.userHome,
    PATH: `${cb.binDir}${path.delimiter}${process.env.PATH}`,
    STYXY_TEST_MODEL_KEY: 'sk-test-styxy',
    ...extra,
  };
  // Codex's own home is ~/.codex of the fresh HOME, whatever the machine says.
  delete env.CODEX_HOME;
  return env;
}

/** One scripted turn: the function call (or text) the stand-in answers with. */
export type Answer = { tool: { name: string; namespace?: string; arguments: Record<string, unknown> } } | { text: string };
/** Called with the outputs of every tool call so far (in order): what the model answers next. */
export type Turn = (outputs: string[]) => Answer | Promise<Answer>;

export interface ResponsesRequest {
  model: string;
  stream: boolean;
  tools?: Array<{ type: string; name?: string; tools?: Array<{ name: string }> }>;
  input: Array<{ type: string; call_id?: string; output?: unknown; name?: string; namespace?: string }>;
}

export interface StandIn {
  url: string;
  /** Every request the client sent, parsed. */
  requests: ResponsesRequest[];
  close: () => Promise<void>;
}

/** A tool output's text: Codex sends a string, or an array of `input_text` items. */
export function outputText(output: unknown): string {
  return typeof output === 'string' ? output : Array.isArray(output) ? output.map((o: { text?: string }) => o.text ?? '').join('\n') : JSON.stringify(output);
}

/**
 * A stand-in for the Responses API: answers turn N (N = the tool outputs the request carries)
 * with one streamed output item, and records every request.
 */
export async function responsesStandIn(turns: Turn[]): Promise<StandIn> {
  const requests: ResponsesRequest[] = [];
  let n = 0;
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      if (req.method !== 'POST' || !req.url?.endsWith('/responses')) {
        res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":{"message":"not here"}}');
        return;
      }
      const request = JSON.parse(body) as ResponsesRequest;
      requests.push(request);
      const outputs = request.input.filter((i) => i.type === 'function_call_output').map((i) => outputText(i.output));
      const turn: Turn = turns[outputs.length] ?? (() => ({ text: 'Done.' }));
      // A turn that fails (a tool answered what it should not have) ends the session with a text.
      void Promise.resolve()
        .then(() => turn(outputs))
        .catch((err: Error) => ({ text: `The stand-in could not go on: ${err.message}` }))
        .then((answer) => stream(res, answer, ++n));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    requests,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function stream(res: http.ServerResponse, answer: Answer, n: number): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  const send = (data: { type: string } & Record<string, unknown>) => res.write(`event: ${data.type}\ndata: ${JSON.stringify(data)}\n\n`);
  const id = `resp_${n}`;
  send({ type: 'response.created', response: { id } });
  const item =
    'tool' in answer
      ? {
          type: 'function_call',
          id: `fc_${n}`,
          call_id: `call_${n}`,
          name: answer.tool.name,
          ...(answer.tool.namespace !== undefined && { namespace: answer.tool.namespace }),
          arguments: JSON.stringify(answer.tool.arguments),
        }
      : { type: 'message', id: `msg_${n}`, role: 'assistant', content: [{ type: 'output_text', text: answer.text }] };
  send({ type: 'response.output_item.added', output_index: 0, item });
  send({ type: 'response.output_item.done', output_index: 0, item });
  send({
    type: 'response.completed',
    response: { id, usage: { input_tokens: 10, input_tokens_details: null, output_tokens: 5, output_tokens_details: null, total_tokens: 15 } },
  });
  res.end();
}

/** A call of an MCP tool of the server `styxy`, as the model makes it. */
export const styxyTool = (name: string, args: Record<string, unknown>): Answer => ({ tool: { name, namespace: 'mcp__styxy', arguments: args } });

/** A shell command through Codex's `exec_command` tool (no login shell: it would reset PATH here). */
export const shell = (cmd: string): Answer => ({ tool: { name: 'exec_command', arguments: { cmd, login: false, yield_time_ms: 30_000 } } });

export interface CodexEvent {
  type: string;
  thread_id?: string;
  item?: {
    id: string;
    type: string;
    server?: string;
    tool?: string;
    status?: string;
    result?: unknown;
    error?: unknown;
    command?: string;
    aggregated_output?: string;
  };
}

export interface CodexRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** The thread id of the `thread.started` event: Codex's session id. */
  session: string | undefined;
  events: CodexEvent[];
}

/**
 * One `codex exec --json` session in `cwd`, its model the stand-in at `baseUrl` (a provider of the
 * command line's own, so the user's config.toml stays as install left it). No retries: a failure
 * shows at once.
 */
export function runCodex(cb: ClaudeBox, cwd: string, baseUrl: string, extraArgs: string[] = []): Promise<CodexRun> {
  const provider = `{ name = "Stand-in", base_url = "${baseUrl}", wire_api = "responses", env_key = "STYXY_TEST_MODEL_KEY", request_max_retries = 0, stream_max_retries = 0 }`;
  const args = [
    'exec',
    '--json',
    '-c',
    `model_providers.standin=${provider}`,
    '-c',
    'model_provider="standin"',
    '-m',
    'gpt-5.1-codex',
    ...extraArgs,
    'Start the dev server',
  ];
  return new Promise((resolve) => {
    const child = spawn(CODEX, args, { cwd, env: codexEnv(cb), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    // A session that hangs is ended, so that its test fails with what it saw.
    const timer = setTimeout(() => child.kill('SIGKILL'), 150_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      const events = stdout
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as CodexEvent);
      const session = events.find((e) => e.type === 'thread.started')?.thread_id;
      resolve({ code, stdout, stderr, session, events });
    });
  });
}
