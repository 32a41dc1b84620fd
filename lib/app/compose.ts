import fs = require('fs');
import path = require('path');
import { StyxyError } from '../errors';
import {
  buildComposeOverride,
  findEnabledProfiles,
  listComposeRequests,
  mergeComposeDocs,
  type PortsTag,
  parseDotEnv,
  planComposePorts,
  planComposeOrigins,
  planComposeProjectName,
  type ComposePlan,
  type ComposePortRequest,
  type ComposeProblem,
} from '../core/compose';
import { findNameProblem } from '../core/names';
import { CONFIG_MAX_BYTES, readTextCapped } from '../store/read-capped';
import { removeComposeOverride, writeComposeOverride, composeOverridePath } from '../store/stack-records';
import type { TransactionContext } from '../store/transaction';
import type { AllocateResult } from './allocate';
import type { Allocation } from '../core/types';

/** The files Compose looks for, in its order. */
const DEFAULT_FILES = ['compose.yaml', 'compose.yml', 'docker-compose.yaml', 'docker-compose.yml'];

/** The override Compose reads beside the file it found, when not given `-f`: the first of these. */
const DEFAULT_OVERRIDE_FILES = ['compose.override.yml', 'compose.override.yaml', 'docker-compose.override.yml', 'docker-compose.override.yaml'];

/** `!override` in an override file needs Compose 2.24.4 or later. */
const MIN_COMPOSE: [number, number, number] = [2, 24, 4];

export interface ComposeInput {
  /**
   * `-f FILE` (given again: several, merged in order); else the first of DEFAULT_FILES from the
   * working directory upward, and the override Compose would read beside it.
   */
  file?: string | readonly string[];
  /** What goes to `docker compose` after the files: `up -d`, `down`, `ps`. */
  args: readonly string[];
  dryRun?: boolean;
  /** `--type service=TYPE`: the service type a service's ports come from (default: the service's name). */
  types?: Readonly<Record<string, string>>;
  /** Where the command's own environment comes from (COMPOSE_PROFILES, COMPOSE_PROJECT_NAME, interpolation). */
  env: NodeJS.ProcessEnv;
  /** `--json`: docker compose's own stdout goes to stderr, so that stdout holds the one JSON document. */
  quietStdout?: boolean;
}

export interface ComposePort {
  service: string;
  /** The container port. */
  target: number;
  protocol: string;
  /** The host port the file asks for. */
  published: number;
  /** The host port Styxy gives it. */
  port: number;
  serviceType: string;
  instanceId: string;
  lockId: string;
}

export interface ComposeResult {
  success: true;
  dryRun?: true;
  composeFile: string;
  /** Every compose file read, in order (the first is `composeFile`). */
  composeFiles: string[];
  projectName: string;
  overridePath: string;
  /** The override file's text. */
  override: string;
  ports: ComposePort[];
  /** Services left out: none of their profiles is enabled. */
  inactive: string[];
  /** The command run (or that would run), and the variables it gets. */
  command: string[];
  env: Record<string, string>;
  /** After `down`: the lock ids released. */
  released?: string[];
  /** The command's exit status (not on a dry run). */
  status?: number;
}

/**
 * `styxy compose [-f FILE] -- ARGS`: the host ports the compose file publishes are allocated in
 * one batch (sticky per service and worktree, persistent until `down`), written to an override
 * file under `$STYXY_HOME/compose/`, and `docker compose -f FILE -f OVERRIDE ARGS` runs with a
 * COMPOSE_PROJECT_NAME of this worktree's own. After a `down` that succeeded, the ports are released.
 */
export async function runCompose(ctx: TransactionContext, input: ComposeInput): Promise<ComposeResult> {
  const composeFiles = findComposeFiles(ctx.cwd, input.file);
  const composeFile = composeFiles[0] as string;
  if (!input.dryRun) checkComposeInstalled();
  const dir = path.dirname(composeFile);
  const { plan, requests, types } = readComposeRequests(composeFiles, input);
  const projectName = findComposeProjectName(input.env.COMPOSE_PROJECT_NAME, dir);
  // A `down` allocates nothing (nor gives a new type a range) for ports it is about to free: its
  // override is planned as a dry run, and what is released is what earlier calls recorded.
  const down = findSubcommand(input.args) === 'down';
  const ports = await allocateComposePorts(ctx, { dir, projectName, requests, types, dryRun: input.dryRun === true || down });
  const override = buildComposeOverride(
    plan,
    new Map(ports.map((p) => [p.instanceId, p.port])),
    `Written by styxy compose for ${composeFiles.join(', ')}\nproject ${projectName}: the host ports Styxy allocated (styxy list -v). Rewritten on every run.`,
  );
  const overridePath = composeOverridePath(ctx.paths, projectName);
  const command = ['docker', 'compose', ...composeFiles.flatMap((f) => ['-f', f]), '-f', overridePath, ...input.args];
  const env = { COMPOSE_PROJECT_NAME: projectName };
  const result: ComposeResult = { success: true, composeFile, composeFiles, projectName, overridePath, override, ports, inactive: plan.inactive, command, env };
  if (input.dryRun) return { ...result, dryRun: true };

  writeComposeOverride(ctx.paths, projectName, override);
  const status = await runDocker(command, { ...input.env, ...env }, dir, input.quietStdout === true);
  if (status !== 0 || !down) return { ...result, status };
  // `down web` stops web alone: the other services' containers still publish their ports.
  const only = findDownServices(input.args);
  const released = await releaseComposePorts(ctx, await findComposeLocks(ctx, projectName, dir, only));
  if (only.length === 0) removeComposeOverride(ctx.paths, projectName);
  return { ...result, status, released };
}

/** The compose file's fixed host ports, each with the service type its port comes from; INVALID_ARGUMENT naming where a problem is. */
function readComposeRequests(composeFiles: readonly string[], input: ComposeInput): { plan: ComposePlan; requests: ComposePortRequest[]; types: string[] } {
  const parsed = composeFiles.map(parseYamlFile);
  const doc = mergeComposeDocs(
    parsed.map((p) => p.doc),
    parsed.map((p) => p.portsTags),
  );
  // Compose's project directory is the first file's: its `.env` serves them all.
  const composeFile = composeFiles.join(' + ');
  const lookup = envLookup(input.env, path.dirname(composeFiles[0] as string));
  const plan = planComposePorts(doc, lookup, findEnabledProfiles(input.args, input.env.COMPOSE_PROFILES));
  if (plan.problems.length > 0) throw invalidComposeFile(composeFile, plan.problems);
  const requests = listComposeRequests(plan);
  const types = requests.map((r) => input.types?.[r.service] ?? r.service);
  for (const [i, r] of requests.entries()) {
    const problem = findNameProblem(types[i], 'service type') ?? findNameProblem(r.instanceId, 'instance id');
    if (problem) throw invalidComposeFile(composeFile, [{ at: `services.${r.service}`, message: `${problem} (give it a type with --type ${r.service}=TYPE)` }]);
  }
  return { plan, requests, types };
}

/** The COMPOSE_PROJECT_NAME given, checked; else the directory's name and a hash of its path (one per worktree). */
function findComposeProjectName(given: string | undefined, dir: string): string {
  // The name becomes part of a path under $STYXY_HOME: Docker's own rule keeps it one plain segment.
  if (given && !/^[a-z0-9][a-z0-9_-]*$/.test(given)) {
    throw new StyxyError(
      'INVALID_ARGUMENT',
      `COMPOSE_PROJECT_NAME ${JSON.stringify(given)} is not a project name: lowercase letters, digits, '-' and '_', starting with a letter or digit`,
      {
        details: { projectName: given },
      },
    );
  }
  const { createHash } = require('crypto') as typeof import('crypto');
  return given || planComposeProjectName(path.basename(dir), createHash('sha256').update(dir).digest('hex'));
}

/**
 * One batch for every fixed host port: persistent, sticky per service and worktree, the file's own
 * port tried first. Each allocation then records its Compose project and service (not on a dry run).
 */
async function allocateComposePorts(
  ctx: TransactionContext,
  input: { dir: string; projectName: string; requests: readonly ComposePortRequest[]; types: readonly string[]; dryRun: boolean },
): Promise<ComposePort[]> {
  const { requests } = input;
  if (requests.length === 0) return [];
  const { runAllocateBatch } = await import('./allocate');
  const { allocations } = await runAllocateBatch(ctx, {
    serviceTypes: input.types,
    instanceIds: requests.map((r) => r.instanceId),
    // The file's own host port first: a worktree alone keeps the ports its file names.
    ports: requests.map((r) => r.published),
    project: input.dir,
    owner: { persistent: true },
    ...(input.dryRun && { dryRun: true }),
  });
  const ports = requests.map((r, i): ComposePort => {
    const a = allocations[i] as AllocateResult;
    const { service, target, protocol, published } = r;
    return { service, target, protocol, published, port: a.port, serviceType: a.serviceType, instanceId: a.instanceId, lockId: a.lockId };
  });
  if (!input.dryRun) await markComposeOrigins(ctx, input.projectName, ports);
  return ports;
}

/**
 * Every allocation an earlier `compose` made for this Compose project in this directory: a `down`
 * releases them too, also those of a service whose profile this `down` did not enable, or that
 * the file no longer has (they were persistent: nothing else would ever free them).
 */
async function findComposeLocks(ctx: TransactionContext, projectName: string, dir: string, services: readonly string[]): Promise<string[]> {
  const { withLiveState } = await import('./context');
  const mine = (a: Allocation) => a.compose?.project === projectName && a.project === dir && (services.length === 0 || services.includes(a.compose.service));
  const { result } = await withLiveState(ctx, ({ state }) => ({ result: state.allocations.filter(mine).map((a) => a.lockId) }), { write: false });
  return result;
}

/** After a `down` that succeeded: every port released (one released meanwhile by hand is no error). */
async function releaseComposePorts(ctx: TransactionContext, lockIds: readonly string[]): Promise<string[]> {
  const { runRelease } = await import('./release');
  const released: string[] = [];
  for (const lockId of new Set(lockIds)) {
    try {
      await runRelease(ctx, { lockId });
      released.push(lockId);
    } catch (err) {
      if (!(err instanceof StyxyError && err.code === 'NOT_FOUND')) throw err;
    }
  }
  return released;
}

/** Records on each allocation the Compose project and service it was made for (`why`, `scan` and `list` name them). */
async function markComposeOrigins(ctx: TransactionContext, project: string, ports: readonly ComposePort[]): Promise<void> {
  const { withLiveState } = await import('./context');
  const origins = new Map(ports.map((p) => [p.lockId, { project, service: p.service }]));
  await withLiveState(ctx, ({ state }) => {
    const marked = planComposeOrigins(state, origins);
    return marked ? { result: undefined, state: marked } : { result: undefined };
  });
}

function findComposeFiles(cwd: string, file: string | readonly string[] | undefined): string[] {
  if (file !== undefined) {
    return ([] as string[]).concat(file).map((f) => {
      const full = path.resolve(cwd, f);
      if (!fs.existsSync(full)) throw new StyxyError('NOT_FOUND', `No compose file ${full}`, { details: { file: full } });
      return full;
    });
  }
  for (let dir = path.resolve(cwd); ; dir = path.dirname(dir)) {
    for (const name of DEFAULT_FILES) {
      if (!fs.existsSync(path.join(dir, name))) continue;
      // Compose reads the override beside it only when it is not given -f; Styxy gives it -f, so names it too.
      const override = DEFAULT_OVERRIDE_FILES.find((o) => fs.existsSync(path.join(dir, o)));
      return [path.join(dir, name), ...(override === undefined ? [] : [path.join(dir, override)])];
    }
    if (path.dirname(dir) === dir) break;
  }
  throw new StyxyError('NOT_FOUND', `No compose file (${DEFAULT_FILES.join(', ')}) in ${cwd} or above it`, {
    suggestions: ['Name one: styxy compose -f path/to/compose.yaml -- up -d'],
  });
}

function parseYamlFile(file: string): { doc: unknown; portsTags: Record<string, PortsTag> } {
  let text: string;
  try {
    text = readTextCapped(file, CONFIG_MAX_BYTES);
  } catch (err) {
    throw new StyxyError('INVALID_ARGUMENT', `Cannot read the compose file ${file}: ${(err as Error).message}`, { details: { file } });
  }
  // The YAML parser is a chunk of its own (dist/yaml.js), loaded only here.
  const YAML = require('yaml') as typeof import('yaml');
  const parsed = YAML.parseDocument(text, { merge: true, prettyErrors: false, uniqueKeys: true });
  if (parsed.errors.length > 0) {
    throw invalidComposeFile(
      file,
      parsed.errors.map((e) => ({ at: e.linePos ? `line ${e.linePos[0].line}` : 'file', message: e.message.split('\n')[0] as string })),
    );
  }
  try {
    return { doc: parsed.toJS({ maxAliasCount: 1000 }), portsTags: findPortsTags(YAML, parsed) };
  } catch (err) {
    // An alias bomb (or a broken alias) is the file's fault, not Styxy's.
    throw invalidComposeFile(file, [{ at: 'file', message: (err as Error).message.split('\n')[0] as string }]);
  }
}

/** The services whose `ports` carry Compose's `!reset` or `!override` tag, which the parsed values do not keep. */
function findPortsTags(YAML: typeof import('yaml'), parsed: import('yaml').Document): Record<string, PortsTag> {
  const tags: Record<string, PortsTag> = {};
  const services = parsed.get('services', true);
  if (!YAML.isMap(services)) return tags;
  for (const pair of services.items) {
    if (!YAML.isScalar(pair.key) || !YAML.isMap(pair.value)) continue;
    const ports = pair.value.get('ports', true);
    const tag = YAML.isNode(ports) ? ports.tag : undefined;
    if (tag === '!reset' || tag === '!override') tags[String(pair.key.value)] = tag === '!reset' ? 'reset' : 'override';
  }
  return tags;
}

function invalidComposeFile(file: string, problems: readonly ComposeProblem[]): StyxyError {
  return new StyxyError(
    'INVALID_ARGUMENT',
    `The compose file ${file} cannot be read for its ports:\n${problems.map((p) => `${p.at}: ${p.message}`).join('\n')}`,
    {
      details: { file, problems },
    },
  );
}

/** Compose's interpolation reads the shell's environment first, then `.env` beside the file. */
function envLookup(env: NodeJS.ProcessEnv, dir: string): (name: string) => string | undefined {
  let dotEnv = new Map<string, string>();
  try {
    dotEnv = parseDotEnv(readTextCapped(path.join(dir, '.env'), CONFIG_MAX_BYTES));
  } catch {
    /* no .env */
  }
  return (name) => env[name] ?? dotEnv.get(name);
}

/** The compose subcommand in ARGS: the first word that is not a global flag or its value. */
export function findSubcommand(args: readonly string[]): string | undefined {
  const at = subcommandIndex(args);
  return at < 0 ? undefined : args[at];
}

function subcommandIndex(args: readonly string[]): number {
  const withValue = new Set(['--profile', '-p', '--project-name', '--env-file', '--project-directory', '-f', '--file', '--ansi', '--progress', '--parallel']);
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (withValue.has(arg)) i++;
    else if (!arg.startsWith('-')) return i;
  }
  return -1;
}

/** The services a `down` names (`down web db`: Compose stops those alone); none for the whole project's. */
export function findDownServices(args: readonly string[]): string[] {
  const withValue = new Set(['--rmi', '-t', '--timeout']);
  const services: string[] = [];
  for (let i = subcommandIndex(args) + 1; i > 0 && i < args.length; i++) {
    const arg = args[i] as string;
    if (withValue.has(arg)) i++;
    else if (!arg.startsWith('-')) services.push(arg);
  }
  return services;
}

/** Fails with COMPOSE_UNAVAILABLE, before anything is written, unless `docker compose` ≥ 2.24.4 answers. */
function checkComposeInstalled(): void {
  const { spawnSync } = require('child_process') as typeof import('child_process');
  const r = spawnSync('docker', ['compose', 'version', '--short'], { encoding: 'utf8', timeout: 20_000 });
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT') {
    throw new StyxyError(
      'COMPOSE_UNAVAILABLE',
      'styxy compose needs the docker CLI with its compose plugin, and there is no docker on PATH; nothing was written',
      {
        suggestions: ['See the override it would write: styxy compose --dry-run', 'Install Docker Compose v2 (the docker compose plugin)'],
      },
    );
  }
  const version = /(\d+)\.(\d+)\.(\d+)/.exec(r.stdout ?? '');
  if (r.status !== 0 || !version) {
    throw new StyxyError(
      'COMPOSE_UNAVAILABLE',
      'styxy compose needs Docker Compose v2 (`docker compose`), and this docker has no compose plugin; nothing was written',
      {
        suggestions: ['See the override it would write: styxy compose --dry-run', 'Install the docker compose plugin (Compose v2)'],
      },
    );
  }
  const found = [Number(version[1]), Number(version[2]), Number(version[3])];
  const older = found.findIndex((n, i) => n !== MIN_COMPOSE[i]);
  if (older !== -1 && (found[older] as number) < MIN_COMPOSE[older]!) {
    throw new StyxyError(
      'COMPOSE_UNAVAILABLE',
      `styxy compose needs Docker Compose ${MIN_COMPOSE.join('.')} or later (for !override), found ${found.join('.')}; nothing was written`,
      {
        details: { version: found.join('.') },
        suggestions: ['Update the docker compose plugin'],
      },
    );
  }
}

/**
 * Runs docker compose in the foreground. A Ctrl-C reaches it from the terminal (Styxy waits for it
 * to end); a SIGTERM or SIGHUP sent to Styxy alone is passed on.
 */
function runDocker(command: readonly string[], env: NodeJS.ProcessEnv, cwd: string, quietStdout: boolean): Promise<number> {
  const { spawn } = require('child_process') as typeof import('child_process');
  const os = require('os') as typeof import('os');
  return new Promise((resolve) => {
    const child = spawn(command[0] as string, command.slice(1), { stdio: ['inherit', quietStdout ? 2 : 'inherit', 'inherit'], env, cwd });
    const handlers = (['SIGINT', 'SIGTERM', 'SIGHUP'] as const).map((signal) => [signal, () => signal !== 'SIGINT' && child.kill(signal)] as const);
    for (const [signal, handler] of handlers) process.on(signal, handler);
    const done = (status: number) => {
      for (const [signal, handler] of handlers) process.off(signal, handler);
      resolve(status);
    };
    child.once('error', () => done(127));
    child.once('exit', (code, signal) => done(signal ? 128 + (os.constants.signals[signal] ?? 0) : (code ?? 1)));
  });
}
