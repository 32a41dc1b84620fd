/**
 * The agent hook's decision: does a shell line an agent is about to run start a dev server or
 * another long-running service Styxy knows, and if so, the same line with that one command run
 * under Styxy's detached start. Pure: the package.json scripts and the project's place are handed in.
 */
import { findDevServer, findsNoServer, planPortFlag, portGiven as namesPort, RUNNER_COMMANDS, SCRIPT_RUNNERS } from './dev-servers';
import { findNameProblem } from './names';
import { shellWord } from './shell-word';
import { readShellLine, type ShellWord, type SimpleCommand } from './shell-line';

/** The per-command opt-out: this assignment before the command, or this text in a comment. */
export const HOOK_OFF_ASSIGNMENT = 'STYXY_HOOK=off';
export const HOOK_OFF_COMMENT = 'styxy:off';

/** The scripts that start a server whatever they run (`npm start`, `pnpm dev`...). */
const SERVER_SCRIPTS = new Set(['dev', 'start', 'serve', 'preview', 'storybook']);

/** The service type each known tool's server gets (the built-in types of lib/core/defaults.ts). */
const TYPE_OF_TOOL: Readonly<Record<string, string>> = {
  Vite: 'dev',
  'Python http.server': 'dev',
  Astro: 'dev',
  'Angular CLI': 'dev',
  wrangler: 'functions',
  Storybook: 'storybook',
  'Django runserver': 'api',
  Rails: 'api',
  Flask: 'api',
  uvicorn: 'api',
  Hugo: 'docs',
  'Next.js': 'dev',
  Nuxt: 'dev',
  'webpack-dev-server': 'dev',
  Gatsby: 'dev',
  Docusaurus: 'docs',
  'http-server': 'dev',
  Jekyll: 'docs',
  Expo: 'dev',
};

/** Scripts that by their name build, check or ship, and never serve: not even looked at. */
const NOT_SERVER_SCRIPT =
  /^(build|lint|test|check|typecheck|type-check|tsc|format|fmt|clean|prepare|compile|deploy|release|e2e|ci|install|postinstall|prebuild|generate|codegen)([:._-].*)?$/;

/** A server start found in a line, before the package.json is read. */
export interface ServerCommand {
  /** `script`: a package.json script through npm/pnpm/yarn/bun; `tool`: a known tool directly. */
  kind: 'script' | 'tool';
  /** The script's name, or the tool's. */
  name: string;
  /** For a tool: the tool (DEV_SERVERS' name). */
  tool?: string;
  /** The `cd DIR` steps before it, in order, relative to the line's directory. */
  cd: string[];
  /** The simple command itself, and where its whole list (`cd web && npm run dev &`) stands. */
  command: SimpleCommand;
  /** The words of the command from the program on (assignments and nohup left out). */
  program: ShellWord[];
  /** Assignments before the program (`NODE_ENV=development`), kept in front of the new command. */
  assignments: ShellWord[];
}

/** Why a line is left as it is (for tests and `--debug`); `null` reasons are not told. */
export type LeaveReason = 'unreadable' | 'opted-out' | 'no-server' | 'several-servers' | 'port-given' | 'pipeline' | 'directory-unknown';

export type FindResult = { kind: 'found'; server: ServerCommand } | { kind: 'leave'; reason: LeaveReason };

const isAssignment = (w: ShellWord): boolean => /^[A-Za-z_][A-Za-z0-9_]*=/.test(w.value);
const base = (file: string): string => file.split('/').pop() ?? file;

/**
 * Finds the one server start in `line`, or why the line is left alone. Cheap on the common case:
 * a line with none of the words a server start needs is left without being read as shell.
 */
export function findServerCommand(line: string): FindResult {
  if (!MAYBE_SERVER.test(line)) return { kind: 'leave', reason: 'no-server' };
  if (line.includes(HOOK_OFF_ASSIGNMENT)) return { kind: 'leave', reason: 'opted-out' };
  const parsed = readShellLine(line);
  if (!parsed) return { kind: 'leave', reason: 'unreadable' };
  if (parsed.comments.includes(HOOK_OFF_COMMENT)) return { kind: 'leave', reason: 'opted-out' };
  const found: ServerCommand[] = [];
  let portGiven = false;
  let portSet = false;
  let piped = false;
  const cd: string[] = [];
  let cdUnknown = false;
  for (const command of parsed.commands) {
    const assignments: ShellWord[] = [];
    let i = 0;
    while (i < command.words.length && isAssignment(command.words[i] as ShellWord)) assignments.push(command.words[i++] as ShellWord);
    if (command.words[i]?.value === 'nohup' || command.words[i]?.value === 'exec') i++;
    const program = command.words.slice(i);
    const words = program.map((w) => w.value);
    // `export PORT=4000 && npm run dev`, `PORT=4000; …`: the agent set the port for what follows.
    if (program.length === 0 ? assignments.some((a) => /^PORT=/.test(a.value)) : words[0] === 'export' && words.some((w) => /^PORT(=|$)/.test(w))) {
      portSet = true;
      continue;
    }
    if (words[0] === 'cd' || words[0] === 'pushd') {
      const target = program[1];
      if (program.length !== 2 || !target || target.dynamic || target.value === '-' || target.value.startsWith('~')) cdUnknown = true;
      else cd.push(target.value);
      continue;
    }
    const match = matchServer(words);
    if (!match) continue;
    if (match === 'port-given' || portSet || assignments.some((a) => /^PORT=/.test(a.value))) {
      portGiven = true;
      continue;
    }
    if (command.before?.op === '|' || command.before?.op === '|&' || command.after?.op === '|' || command.after?.op === '|&') {
      piped = true;
      continue;
    }
    if (cdUnknown) return { kind: 'leave', reason: 'directory-unknown' };
    found.push({ ...match, cd: [...cd], command, program, assignments });
  }
  if (found.length > 1) return { kind: 'leave', reason: 'several-servers' };
  const server = found[0];
  if (!server) return { kind: 'leave', reason: portGiven ? 'port-given' : piped ? 'pipeline' : 'no-server' };
  return { kind: 'found', server };
}

/**
 * A quick test that a line may hold a server start at all: a script runner or a known tool's name.
 * A false positive only costs the full read; a false negative would miss a server. The build
 * writes its source to dist/hook-gate.txt, which bin/styxy tests before it loads any bundle.
 */
export const MAYBE_SERVER =
  /\b(npm|pnpm|yarn|bun|vite|next|astro|nuxt|nuxi|ng|wrangler|storybook|start-storybook|manage\.py|django-admin|rails|flask|uvicorn|hugo|webpack|webpack-dev-server|gatsby|docusaurus|http-server|jekyll|http\.server|expo)\b/;

/** The flags that ask a program for its help or version instead of running it. */
const HELP_OR_VERSION = new Set(['--help', '-h', '--version', '-v', '-V']);

/** The server `words` start (a script through a runner, or a known tool), 'port-given', or null. */
function matchServer(words: readonly string[]): Omit<ServerCommand, 'cd' | 'command' | 'program' | 'assignments'> | 'port-given' | null {
  // `npx vite --help`, `npm run dev -- --version`: it prints and ends, it serves nothing; run as a
  // server it would fail ("ended before it listened") and show only the end of what it printed.
  if (words.some((w) => HELP_OR_VERSION.has(w))) return null;
  const runner = base(words[0] ?? '');
  if (SCRIPT_RUNNERS.has(runner)) {
    const script = scriptOf(runner, words);
    if (script) return script.portGiven ? 'port-given' : { kind: 'script', name: script.name };
  }
  const expo = expoStart(words);
  if (expo) return expo;
  const direct = findDevServer(words);
  if (!direct) return null;
  if (namesPort(direct.server, direct.args)) return 'port-given';
  return { kind: 'tool', name: toolName(words), tool: direct.server.tool };
}

/** `npx expo start`, `expo start`: not among run's dev servers (it takes --port, and PORT is ignored). */
function expoStart(words: readonly string[]): Omit<ServerCommand, 'cd' | 'command' | 'program' | 'assignments'> | 'port-given' | null {
  const rest = /^(npx|bunx|pnpx)$/.test(base(words[0] ?? '')) ? words.slice(1) : words;
  if (base(rest[0] ?? '') !== 'expo' || rest[1] !== 'start') return null;
  if (rest.some((w) => w === '--port' || w === '-p' || w.startsWith('--port='))) return 'port-given';
  return { kind: 'tool', name: 'expo', tool: 'Expo' };
}

/** The name an instance of a direct tool gets: the program, after npx/python -m. */
function toolName(words: readonly string[]): string {
  const plain = words.filter((w) => !w.startsWith('-') && !/^[A-Za-z_][A-Za-z0-9_]*=/.test(w));
  const skip = new Set(['npx', 'bunx', 'pnpx', 'exec', 'dlx', 'x', 'pnpm', 'yarn', 'npm', 'bundle', 'env', 'cross-env', 'node']);
  let i = 0;
  while (i < plain.length - 1 && skip.has(base(plain[i] as string))) i++;
  const first = base(plain[i] ?? 'server');
  if (/^python[0-9.]*$/.test(first)) return base(plain[i + 1] === '-m' ? (plain[i + 2] ?? 'python') : (plain[i + 1] ?? 'python')).replace(/\.py$/, '');
  return first.replace(/@.*$/, '');
}

/** A runner's option that runs the script of another package, or of several. */
const MOVES_PROJECT = /^(-w|-ws|--workspaces?|--prefix|-C|--dir|--cwd|--filter|-F|--recursive|-r)(=.*)?$/;

/** `npm run dev -- --host`, `pnpm dev`, `yarn start`, `bun run dev`: the script and whether a port is named. */
function scriptOf(runner: string, words: readonly string[]): { name: string; portGiven: boolean } | null {
  let i = 1;
  // Options before the verb may move the project (--prefix, -C, --filter): only the quiet ones are followed.
  while (i < words.length && (words[i] as string).startsWith('-')) {
    if (!['-s', '--silent', '-q', '--quiet'].includes(words[i] as string)) return null;
    i++;
  }
  const verb = words[i];
  if (verb === undefined) return null;
  let name: string | undefined;
  if (verb === 'run' || verb === 'run-script') {
    i++;
    while (i < words.length && (words[i] as string).startsWith('-') && words[i] !== '--') {
      if (!['-s', '--silent', '-q', '--quiet'].includes(words[i] as string)) return null;
      i++;
    }
    name = words[i];
  } else if (verb === 'start' || (runner !== 'npm' && !RUNNER_COMMANDS.has(verb) && !verb.includes('.') && !verb.includes('/'))) name = verb;
  if (name === undefined || name.startsWith('-') || NOT_SERVER_SCRIPT.test(name)) return null;
  const rest = words.slice(i + 1);
  // npm reads its own options after the script's name too (before `--`): `npm run dev -w web` and
  // `--prefix web` run another package's script, `--workspaces` every package's.
  const own = rest.includes('--') ? rest.slice(0, rest.indexOf('--')) : rest;
  if (own.some((w) => MOVES_PROJECT.test(w))) return null;
  return { name, portGiven: rest.some((w) => w === '--port' || w === '-p' || w.startsWith('--port=')) };
}

/** What the hook is told besides the line: the facts it reads only once a server start was found. */
export interface RewriteFacts {
  /** The scripts of the package.json that applies where the command runs; null when none or unreadable. */
  scripts: Readonly<Record<string, string>> | null;
  /** The directory the command runs in, relative to its project's root ('' at the root). */
  relativeDir: string;
  /** How the rewritten line calls Styxy (a path or `styxy`), as a shell word. */
  styxy: string;
  /** The session to record on the allocation (`claude-code:<id>`), if known. */
  session?: string;
}

export interface ServerRewrite {
  /** The whole new line. */
  line: string;
  serviceType: string;
  instanceId: string;
  tool: string | null;
}

/**
 * The line with its server start run under `styxy start`: the service type from the tool, a name
 * from the script or tool (and the folder, below the project's root) so that each project and
 * worktree keeps its own port, and the session recorded. Null when the server is not what it
 * seemed (a script that is not in package.json, one that names its own port).
 */
export function planServerRewrite(line: string, server: ServerCommand, facts: RewriteFacts): ServerRewrite | null {
  let tool = server.tool ?? null;
  let portFlag: string | null = null;
  if (server.kind === 'script') {
    const body = facts.scripts && Object.prototype.hasOwnProperty.call(facts.scripts, server.name) ? facts.scripts[server.name] : undefined;
    if (body === undefined) return null;
    const inner = lastCommandOf(body);
    const known = inner ? findDevServer(inner) : null;
    const passed = server.program.map((w) => w.value);
    const afterSeparator = passed.includes('--') ? passed.slice(passed.indexOf('--') + 1) : [];
    if (/\bPORT=/.test(body)) return null;
    if (known) {
      // The script (or what is passed on to it) names its port: the agent means that port.
      if (namesPort(known.server, [...known.args, ...afterSeparator])) return null;
      tool = known.server.tool;
    } else if (/(^|\s)(--port|-p)(=|\s+)[0-9$]/.test(body)) return null;
    // `"dev": "tsup --watch"`: a watcher, not a server; run by start it would be ended for not listening.
    else if (inner && !inner.some((w) => /[|&]/.test(w)) && findsNoServer(inner)) return null;
    else if (!SERVER_SCRIPTS.has(server.name)) return null;
    else tool = null;
  } else if (tool === 'Expo') portFlag = '--port';
  const serviceType = tool ? (TYPE_OF_TOOL[tool] ?? 'dev') : server.name === 'storybook' ? 'storybook' : 'dev';
  const instanceId = instanceName(facts.relativeDir, server.name);
  const program = server.program.map((w) => line.slice(w.start, w.end)).join(' ');
  const redirects = server.command.redirects.map((r) => posixRedirect(line.slice(r.start, r.end))).join(' ');
  let run = program;
  if (redirects) {
    // The redirections stay with the server in an `sh -c`, which sees only exported variables:
    // a word whose value comes from the agent's shell is not moved there (the line is left alone).
    if (server.program.some((w) => w.dynamic) || /[$`]/.test(redirects)) return null;
    // `start` cannot see the dev server through `sh -c`: its port flag goes inside, `{port}` is
    // replaced by the port in every argument (a Vite behind `sh -c` would listen on 5173 instead).
    const append = portFlag
      ? [portFlag, '{port}']
      : (planPortFlag(
          server.program.map((w) => w.value),
          facts.scripts,
        )?.append ?? []);
    portFlag = null;
    const extra = append.map((w) => (w === '{port}' ? w : shellWord(w))).join(' ');
    run = `sh -c ${shellWord(`exec ${program}${extra ? ` ${extra}` : ''} ${redirects}`)}`;
  }
  const flags = ['start', '-s', serviceType, '-n', instanceId, ...(portFlag ? ['--port-flag', portFlag] : [])].map(shellWord);
  // The session goes in STYXY_SESSION, which `start` reads as --session: the server's own styxy
  // calls, if any, are then the session's too.
  const assignments = [...server.assignments.map((w) => line.slice(w.start, w.end)), ...(facts.session ? [`STYXY_SESSION=${shellWord(facts.session)}`] : [])];
  const replacement = [...assignments, facts.styxy, ...flags, '--', run].join(' ');
  const { end, tail } = backgroundEnd(line, server.command);
  return { line: `${line.slice(0, server.command.start)}${replacement}${tail}${line.slice(end)}`, serviceType, instanceId, tool };
}

/**
 * Where the rewrite of a server command ends, and what joins it to the rest. A server put in the
 * background (`… &`, `nohup … &`) is started detached anyway: the `&` goes, so that the line waits
 * for the start and shows where it runs; what followed still runs after it. A `disown` right
 * after goes too: with nothing left in the background, bash's disown fails ("no such job") and
 * the whole line with it, though the server runs.
 */
function backgroundEnd(line: string, command: SimpleCommand): { end: number; tail: string } {
  const after = command.after;
  if (after?.op !== '&') return { end: command.end, tail: '' };
  const next = readShellLine(line)?.commands.find((c) => c.before?.start === after.start);
  const disown = next && next.words[0]?.value === 'disown' && next.redirects.length === 0 && next.words.slice(1).every((w) => /^[-%]/.test(w.value));
  if (next && disown && next.after?.op !== '&') return { end: next.end, tail: '' };
  return { end: after.end, tail: line.slice(after.end).trim() === '' ? '' : ';' };
}

/**
 * A redirection as `sh` (dash, on many systems) reads it: bash's `&>FILE` and `&>>FILE`, which
 * dash would read as `&` then `>FILE` (the server in the background, its output not in FILE),
 * become `>FILE 2>&1` and `>>FILE 2>&1`.
 */
function posixRedirect(text: string): string {
  const both = /^&(>>?)\s*(.*)$/s.exec(text);
  return both ? `${both[1]}${both[2]} 2>&1` : text;
}

/** The words of the command a script ends with (after its last `&&`/`;`), or null. */
function lastCommandOf(script: string): string[] | null {
  const last = script.split(/&&|\|\||;/).pop() ?? '';
  const words = last.trim().split(/\s+/).filter(Boolean);
  return words.length > 0 ? words : null;
}

/**
 * The instance name: the script or tool, after the folder below the project's root (`web-dev`),
 * so that two packages of a monorepo each keep a port of their own. Made to fit a Styxy name.
 */
export function instanceName(relativeDir: string, name: string): string {
  const parts = [...relativeDir.split('/').filter((p) => p && p !== '.'), name];
  let id = parts
    .join('-')
    .replace(/[^A-Za-z0-9._-]+/g, '-')
    .replace(/^[^A-Za-z0-9]+/, '')
    .replace(/-+$/, '');
  if (id.length > 63) id = id.slice(id.length - 63).replace(/^[^A-Za-z0-9]+/, '');
  return id && findNameProblem(id, 'name') === null ? id : 'server';
}
