/**
 * `styxy mcp`: a Model Context Protocol server on stdio for coding agents, on the official SDK.
 * Each tool calls a use case of lib/app in this process (no CLI is spawned) and answers with the
 * use case's JSON; a failure is a tool error (`isError: true`) carrying Styxy's stable code.
 * Built as a file of its own (dist/mcp.js), so that no other command loads the SDK.
 */
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { CallToolRequestSchema, ListToolsRequestSchema, type CallToolResult, type Tool } from '@modelcontextprotocol/sdk/types.js';
import { isStyxyError, StyxyError } from '../errors';
import { parsePort } from '../core/names';
import type { AppContext } from '../app/context';
import { version } from '../generated/version';

/** What a tool is handed: its arguments, and the facts of the connection. */
interface ToolCall {
  args: Record<string, unknown>;
  ctx: AppContext;
  /** The agent: the process that started this server (its client), and its session, when known. */
  clientPid: number;
  session: string | undefined;
}

interface ToolDefinition {
  tool: Tool;
  run(call: ToolCall): Promise<object>;
}

const string = (description: string) => ({ type: 'string', description }) as const;
const NEW_TYPE = {
  type: 'boolean',
  description: "Create service_type as a new type even when its name is close to a known one (without it, 'apis' is refused: did you mean 'api'?)",
} as const;
const integer = (description: string) => ({ type: 'integer', minimum: 1, maximum: 65535, description }) as const;

/**
 * The tools, each with a short factual description and its arguments' JSON Schema. The annotations
 * are what a client decides approval from: Codex runs a read-only or additive tool without asking,
 * and asks before one that ends processes, starts a command or gives up an allocation.
 */
export const TOOLS: readonly ToolDefinition[] = [
  {
    tool: {
      name: 'allocate_port',
      annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: true, openWorldHint: false },
      description:
        "Allocate a free local TCP port from a service type's range (dev 3000-3099, api 8000-8099, …). The same name in the same project gets the same port back. The allocation belongs to this agent session and is freed when it ends, or by release_port. To start a server, prefer start_server.",
      inputSchema: {
        type: 'object',
        properties: {
          service_type: string('Service type: dev, api, database, storybook, docs, ai, … (default dev)'),
          name: string('Instance name, e.g. web; the same name gets the same port back'),
          port: integer('A port to ask for first'),
          new_type: NEW_TYPE,
        },
        additionalProperties: false,
      },
    },
    async run({ args, ctx, clientPid, session }) {
      const { runAllocate } = await import('../app/allocate');
      return runAllocate(ctx, {
        serviceType: optionalString(args, 'service_type') ?? 'dev',
        ...optional('instanceId', optionalString(args, 'name')),
        ...optional('port', optionalPort(args, 'port')),
        ...optional('session', session),
        ...(args.new_type === true && { newType: true }),
        owner: { pid: clientPid },
      });
    },
  },
  {
    tool: {
      name: 'release_port',
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
      description: 'Release an allocation: by lock_id, or by service_type (and name) in this project.',
      inputSchema: {
        type: 'object',
        properties: { lock_id: string('The lock id allocate_port returned'), service_type: string('Service type'), name: string('Instance name') },
        additionalProperties: false,
      },
    },
    async run({ args, ctx }) {
      const { runRelease, checkReleaseInput } = await import('../app/release');
      const input = {
        ...optional('lockId', optionalString(args, 'lock_id')),
        ...optional('serviceType', optionalString(args, 'service_type')),
        ...optional('instanceId', optionalString(args, 'name')),
      };
      checkReleaseInput(input);
      return runRelease(ctx, input);
    },
  },
  {
    tool: {
      name: 'list_ports',
      annotations: { readOnlyHint: true, openWorldHint: false },
      description: 'List the live port allocations on this machine (dead owners are pruned first), by port.',
      inputSchema: {
        type: 'object',
        properties: {
          service_type: string('Only this service type'),
          this_project: { type: 'boolean', description: "Only this project's allocations" },
        },
        additionalProperties: false,
      },
    },
    async run({ args, ctx }) {
      const { runList } = await import('../app/list');
      const serviceType = optionalString(args, 'service_type');
      const listed = await runList(ctx, serviceType !== undefined ? { serviceType } : {});
      if (args.this_project !== true) return listed;
      const { findProjectRoot } = await import('../os/project');
      const project = findProjectRoot(ctx.cwd);
      return { ...listed, allocations: listed.allocations.filter((a) => a.project === project) };
    },
  },
  {
    tool: {
      name: 'start_server',
      annotations: { readOnlyHint: false, destructiveHint: true, openWorldHint: true },
      description:
        'Start a server in the background on a free port of its service type (PORT is set; known dev servers such as Vite and Next.js also get their port flag), wait until it listens, and answer with port, url, pid and logPath. The allocation belongs to the server: it lasts while the server runs. A single-instance service that already runs is not started again (started: false). Stop it with stop_server.',
      inputSchema: {
        type: 'object',
        properties: {
          command: { type: 'array', items: { type: 'string' }, minItems: 1, description: 'The program and its arguments, e.g. ["npm", "run", "dev"]' },
          service_type: string('Service type: dev, api, storybook, docs, ai, … (default dev)'),
          name: string('Instance name, e.g. web; the same name gets the same port back'),
          port: integer('A port to ask for first'),
          new_type: NEW_TYPE,
        },
        required: ['command'],
        additionalProperties: false,
      },
    },
    async run({ args, ctx, session }) {
      const command = args.command;
      if (!Array.isArray(command) || command.length === 0 || !command.every((w) => typeof w === 'string'))
        throw new StyxyError('INVALID_ARGUMENT', 'command must be a non-empty array of strings, e.g. ["npm", "run", "dev"]');
      const { runDetached } = await import('../app/detach');
      const { envFor } = await import('../core/env-contract');
      // It runs in the directory the agent started this server in: the project.
      return runDetached(ctx, {
        request: {
          serviceType: optionalString(args, 'service_type') ?? 'dev',
          ...optional('instanceId', optionalString(args, 'name')),
          ...optional('port', optionalPort(args, 'port')),
          ...optional('session', session),
          ...(args.new_type === true && { newType: true }),
        },
        command: command as string[],
        variables: (allocations) => envFor(allocations),
      });
    },
  },
  {
    tool: {
      name: 'stop_server',
      annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
      description:
        'Stop a server: the process tree holding a port (or an allocation by lock_id), each process checked by PID and start time before it is signalled (SIGTERM, then SIGKILL), never anything found by name; then release its port. A process Styxy cannot vouch for is refused (FORCE_REQUIRED).',
      inputSchema: {
        type: 'object',
        properties: { port: integer('The port the server holds'), lock_id: string('Or: the lock id of its allocation') },
        additionalProperties: false,
      },
    },
    async run({ args, ctx }) {
      const port = optionalPort(args, 'port');
      const lockId = optionalString(args, 'lock_id');
      if ((port === undefined) === (lockId === undefined)) throw new StyxyError('INVALID_ARGUMENT', 'Give either port or lock_id');
      const { runStop } = await import('../app/stop');
      return runStop(ctx, port !== undefined ? { port } : { lockId: lockId as string });
    },
  },
  {
    tool: {
      name: 'who_holds_port',
      annotations: { readOnlyHint: true, openWorldHint: false },
      description: 'Tell who holds a port: the Styxy allocation (type, name, owner, session) and the process listening on it, or that it is free.',
      inputSchema: { type: 'object', properties: { port: integer('The port') }, required: ['port'], additionalProperties: false },
    },
    async run({ args, ctx }) {
      const port = optionalPort(args, 'port');
      if (port === undefined) throw new StyxyError('INVALID_ARGUMENT', 'port is required');
      const { runWhy } = await import('../app/why');
      return runWhy(ctx, port);
    },
  },
];

/**
 * An argument the tool does not take is refused (its schema says additionalProperties: false):
 * ignored, `{"serviceType": "api"}` would allocate a dev port and say nothing.
 */
function checkArgumentNames(tool: Tool, args: Record<string, unknown>): void {
  const known = Object.keys(tool.inputSchema.properties ?? {});
  const unknown = Object.keys(args).filter((name) => !known.includes(name));
  if (unknown.length === 0) return;
  throw new StyxyError(
    'INVALID_ARGUMENT',
    `${tool.name} takes no argument ${unknown.map((n) => JSON.stringify(n)).join(', ')}; its arguments: ${known.join(', ')}`,
    {
      details: { unknown, arguments: known },
    },
  );
}

function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

function optionalString(args: Record<string, unknown>, key: string): string | undefined {
  const value = args[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new StyxyError('INVALID_ARGUMENT', `${key} must be a string`);
  return value;
}

function optionalPort(args: Record<string, unknown>, key: string): number | undefined {
  const value = args[key];
  if (value === undefined || value === null) return undefined;
  const port = parsePort(value);
  if (port === null) throw new StyxyError('INVALID_ARGUMENT', `${key} must be a port number from 1 to 65535`);
  return port;
}

/** A tool's answer: its JSON as text (what every client shows) and as structured content. */
function answer(result: object, warnings: readonly string[] = []): CallToolResult {
  return { content: [{ type: 'text', text: JSON.stringify(result) }, ...warningBlocks(warnings)], structuredContent: result as Record<string, unknown> };
}

/**
 * The warnings a call raised (a state set aside, a port released that a run still serves, ...),
 * for the agent to read: the CLI prints them on stderr, which no agent sees from an MCP server.
 * Each is a text block of its own after the result, so the result's JSON stays the command's.
 */
function warningBlocks(warnings: readonly string[]): CallToolResult['content'] {
  return warnings.map((w) => ({ type: 'text' as const, text: `warning: ${w.replace(/^styxy: /, '')}` }));
}

/**
 * A failure as an MCP tool error, with Styxy's code, message, suggestions and details: the CLI's
 * --json failure document (schemas/output/common.schema.json), so one reader serves both.
 */
function failure(err: unknown, warnings: readonly string[] = []): CallToolResult {
  const error = isStyxyError(err)
    ? { code: err.code, message: err.message, suggestions: toolSuggestions(err), ...(err.details && { details: err.details }) }
    : { code: 'INTERNAL', message: String((err as Error)?.message ?? err), suggestions: [] };
  return { isError: true, content: [{ type: 'text', text: JSON.stringify({ success: false, error }) }, ...warningBlocks(warnings)] };
}

/** The suggestions in the tools' own words where the CLI's name its flags (`-s api`, `--new-type`). */
function toolSuggestions(err: StyxyError): string[] {
  const details = err.details as { serviceType?: unknown; didYouMean?: unknown } | undefined;
  if (err.code !== 'SIMILAR_SERVICE_TYPE' || typeof details?.didYouMean !== 'string') return err.suggestions;
  return [
    `Use the existing type: service_type ${JSON.stringify(details.didYouMean)}`,
    `To create ${JSON.stringify(details.serviceType)} as a new type all the same, add new_type: true`,
  ];
}

const SESSION_ID = /^[A-Za-z0-9._:-]{1,180}$/;

/**
 * The session the agent runs in: Claude Code tells its servers in the environment; Codex names its
 * session in each tool call's `_meta.sessionId` (the id `codex resume` takes, and its shells'
 * CODEX_SESSION_ID); other clients are named by client and PID.
 */
export function sessionOfClient(env: NodeJS.ProcessEnv, clientName: string | undefined, clientPid: number, meta?: Record<string, unknown>): string | undefined {
  const claude = env.CLAUDE_CODE_SESSION_ID;
  if (claude && SESSION_ID.test(claude)) return `claude-code:${claude}`;
  const name = clientName === undefined ? '' : clientName === 'codex-mcp-client' ? 'codex' : clientName.replace(/[^A-Za-z0-9._-]+/g, '-').slice(0, 60);
  if (!name) return undefined;
  const id = meta?.sessionId;
  if (typeof id === 'string' && SESSION_ID.test(id)) return `${name}:${id}`;
  return `${name}:${clientPid}`;
}

/**
 * Serves until the client closes stdin. `ctx` is the CLI's context (its warnings go to stderr:
 * stdout carries the protocol).
 */
export async function serveMcp(ctx: AppContext): Promise<void> {
  const server = new Server({ name: 'styxy', version }, { capabilities: { tools: {} } });
  const clientPid = process.ppid;
  server.setRequestHandler(ListToolsRequestSchema, () => ({ tools: TOOLS.map((t) => t.tool) }));
  server.setRequestHandler(CallToolRequestSchema, async (request): Promise<CallToolResult> => {
    const definition = TOOLS.find((t) => t.tool.name === request.params.name);
    if (!definition)
      return failure(new StyxyError('INVALID_ARGUMENT', `no tool ${JSON.stringify(request.params.name)}; tools: ${TOOLS.map((t) => t.tool.name).join(', ')}`));
    // The server's stderr still gets each warning (a client may log it); the agent gets them in the answer.
    const warnings: string[] = [];
    const warn: AppContext['warn'] = (message, code) => {
      warnings.push(message);
      ctx.warn(message, code);
    };
    try {
      checkArgumentNames(definition.tool, request.params.arguments ?? {});
      const session = sessionOfClient(process.env, server.getClientVersion()?.name, clientPid, request.params._meta);
      return answer(await definition.run({ args: request.params.arguments ?? {}, ctx: { ...ctx, cwd: process.cwd(), warn }, clientPid, session }), warnings);
    } catch (err) {
      return failure(err, warnings);
    }
  });
  const transport = new StdioServerTransport();
  const closed = new Promise<void>((resolve) => {
    transport.onclose = () => resolve();
    process.stdin.once('end', () => resolve());
  });
  await server.connect(transport);
  await closed;
  await server.close().catch(() => undefined);
}
