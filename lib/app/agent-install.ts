import fs = require('fs');
import path = require('path');
import { StyxyError } from '../errors';
import {
  addBlock,
  addClaudeHooks,
  addMcpServer,
  diffLines,
  formatJsonLike,
  isObject,
  MARKDOWN_MARKERS,
  removeBlock,
  removeClaudeHooks,
  removeMcpServer,
  TOML_MARKERS,
  removeServerSubtables,
  type Json,
} from '../core/agent-install';
import { isoTime } from '../core/time';
import { writeFileAtomic } from '../store/atomic-write';
import type { TransactionContext } from '../store/transaction';

export const AGENTS = ['claude-code', 'codex', 'cursor', 'agents-md'] as const;
export type AgentName = (typeof AGENTS)[number];
export type InstallScope = 'user' | 'project';

export interface AgentInstallInput {
  agent: AgentName;
  /** Left out: each agent's usual place (project for Claude Code, Cursor and AGENTS.md; user for Codex). */
  scope?: InstallScope;
  uninstall: boolean;
  dryRun: boolean;
  /** The program that runs Styxy, as an MCP client starts it (`styxy`, or this install's path). */
  program: string;
  /** The hook's command line, as Claude Code runs it through a shell. */
  hookCommand: string;
  /** The project's directory (for project files) and the user's home (for user files). */
  projectDir: string;
  homeDir: string;
}

export interface FileChange {
  file: string;
  /** What was (or, with --dry-run, would be) done. */
  action: 'created' | 'updated' | 'unchanged' | 'removed' | 'restored';
  /** The copy of the file as it was, made before the change. */
  backup?: string;
  /** The change, line by line (with --dry-run). */
  diff?: string;
  /** Something the user should know: an entry of the same name kept, a file changed since the install. */
  note?: string;
}

export interface AgentInstallResult {
  success: true;
  agent: AgentName;
  scope: InstallScope;
  dryRun: boolean;
  changes: FileChange[];
  /** What the user still has to do by hand, if anything. */
  next?: string;
}

type FileKind = 'claude-settings' | 'mcp-json' | 'markdown' | 'toml';

interface Target {
  file: string;
  kind: FileKind;
  /** Where the paths this command may create start: it never creates or writes above it. */
  base: string;
}

/** What an agent with a project directory and Styxy's own lines should be told (the marked block). */
export const AGENT_NOTES = `## Local servers and ports (Styxy)

Several agents and people run servers on this machine at once; Styxy hands out the ports.

- Start a dev server with \`styxy start -s dev -n NAME -- npm run dev\`: it returns at once with the port, URL, PID and log file.
- Ask who holds a port with \`styxy why PORT\`; stop a server with \`styxy stop PORT\`.
- Where your shell is sandboxed (it cannot write ~/.styxy or open ports), start servers with the MCP tool \`start_server\` instead.
- Never kill a process by name or by port (\`pkill\`, \`killall\`, \`lsof -ti :PORT | xargs kill\`): it may be another session's server.`;

function targets(agent: AgentName, scope: InstallScope, project: string, home: string): Target[] {
  const inProject = (...parts: string[]): Target => ({ file: path.join(project, ...parts), kind: kindOf(parts[parts.length - 1] as string), base: project });
  const inHome = (...parts: string[]): Target => ({ file: path.join(home, ...parts), kind: kindOf(parts[parts.length - 1] as string), base: home });
  switch (agent) {
    case 'claude-code':
      return scope === 'project'
        ? [{ ...inProject('.claude', 'settings.json'), kind: 'claude-settings' }, inProject('.mcp.json'), inProject('CLAUDE.md')]
        : [{ ...inHome('.claude', 'settings.json'), kind: 'claude-settings' }, inHome('.claude', 'CLAUDE.md')];
    case 'codex':
      return scope === 'project' ? [inProject('.codex', 'config.toml')] : [inHome('.codex', 'config.toml')];
    case 'cursor':
      return scope === 'project' ? [inProject('.cursor', 'mcp.json')] : [inHome('.cursor', 'mcp.json')];
    case 'agents-md':
      if (scope === 'user') throw new StyxyError('INVALID_ARGUMENT', 'AGENTS.md belongs to a project: styxy agent install agents-md --project (the default)');
      return [inProject('AGENTS.md')];
  }
}

function kindOf(name: string): FileKind {
  if (name.endsWith('.toml')) return 'toml';
  if (name.endsWith('.md')) return 'markdown';
  return 'mcp-json';
}

/** Each agent's usual scope. */
export function defaultScope(agent: AgentName): InstallScope {
  return agent === 'codex' ? 'user' : 'project';
}

/**
 * `styxy agent install|uninstall`: every file is read and its new text made first, so that a
 * malformed or unsafe file refuses the whole command with nothing changed; then each change is
 * written whole (a temporary file renamed into place), after a backup of the file as it was.
 */
export async function runAgentInstall(ctx: TransactionContext, input: AgentInstallInput): Promise<AgentInstallResult> {
  const scope = input.scope ?? defaultScope(input.agent);
  const list = targets(input.agent, scope, input.projectDir, input.homeDir);
  const manifest = readManifest(ctx);
  const plans = list.map((target) => {
    refuseLinks(target);
    const before = readText(target.file);
    const entry = manifest.files[target.file];
    const planned = input.uninstall ? planRemove(target, before, entry) : planAdd(target, before, input);
    return { target, before, ...planned };
  });
  const changes: FileChange[] = [];
  // Removed once every file is: two files may share a folder the install made (~/.claude).
  const createdDirs: string[] = [];
  const stamp = isoTime(ctx.now()).replace(/[:.]/g, '-');
  for (const plan of plans) {
    const { target, before, after } = plan;
    if (after === before) {
      changes.push({ file: target.file, action: 'unchanged', ...(plan.note && { note: plan.note }) });
      continue;
    }
    const action: FileChange['action'] = after === null ? 'removed' : before === null ? 'created' : plan.restored ? 'restored' : 'updated';
    const change: FileChange = { file: target.file, action, ...(plan.note && { note: plan.note }) };
    if (input.dryRun) change.diff = diffLines(target.file, before, after);
    else {
      if (before !== null) change.backup = backup(ctx, target.file, before, stamp);
      const createdDir = writeOrRemove(target, after);
      const installed = manifest.files[target.file];
      if (input.uninstall && after === null && installed?.createdDir) createdDirs.push(installed.createdDir);
      if (input.uninstall) delete manifest.files[target.file];
      else manifest.files[target.file] = { before, after: after as string, ...(createdDir && { createdDir }) };
    }
    changes.push(change);
  }
  removeCreatedDirs(createdDirs);
  if (!input.dryRun && changes.some((c) => c.action !== 'unchanged')) writeManifest(ctx, manifest);
  const next =
    input.agent === 'claude-code' && scope === 'user' && !input.uninstall
      ? `Register the MCP server for every project with: claude mcp add -s user styxy -- ${input.program} mcp`
      : undefined;
  return { success: true, agent: input.agent, scope, dryRun: input.dryRun, changes, ...(next && { next }) };
}

interface Planned {
  after: string | null;
  restored?: boolean;
  note?: string;
}

function planAdd(target: Target, before: string | null, input: AgentInstallInput): Planned {
  switch (target.kind) {
    case 'claude-settings': {
      const doc = parseJsonObject(target.file, before);
      const added = addClaudeHooks(doc, input.hookCommand);
      if (!added) throw malformed(target.file, '"hooks" is not the object of event arrays Claude Code reads');
      return { after: added.changed ? formatJsonLike(before, added.value) : before };
    }
    case 'mcp-json': {
      const doc = parseJsonObject(target.file, before);
      const claude = path.basename(target.file) === '.mcp.json';
      const entry = { ...(claude && { type: 'stdio' }), command: input.program, args: ['mcp'], ...(claude && { env: {} }) } as { [key: string]: Json };
      const added = addMcpServer(doc, entry);
      if (!added) throw malformed(target.file, '"mcpServers" is not an object');
      return {
        after: added.changed ? formatJsonLike(before, added.value) : before,
        ...(added.conflict && { note: 'an MCP server named "styxy" is there already and runs something else: kept as it is' }),
      };
    }
    case 'markdown':
      return { after: addBlock(before ?? '', MARKDOWN_MARKERS, AGENT_NOTES).text };
    case 'toml': {
      const toml = require('smol-toml') as typeof import('smol-toml');
      const text = before ?? '';
      let doc: Record<string, unknown>;
      try {
        doc = toml.parse(text);
      } catch (err) {
        throw malformed(target.file, `not valid TOML: ${String((err as Error).message).split('\n')[0]}`);
      }
      const servers = doc.mcp_servers;
      if (isObject(servers as Json) && (servers as Record<string, unknown>).styxy !== undefined) {
        return { after: before, note: 'an MCP server named "styxy" is there already: kept as it is' };
      }
      // Codex starts an MCP server with a few variables only (HOME, PATH, …): STYXY_HOME must be
      // passed by name, or the server would keep its allocations in another state than the CLI's.
      const body = toml.stringify({ mcp_servers: { styxy: { command: input.program, args: ['mcp'], env_vars: ['STYXY_HOME'] } } });
      const added = addBlock(text, TOML_MARKERS, body);
      // The block is a table of its own at the end: a file that defines mcp_servers inline cannot take it.
      try {
        const check = toml.parse(added.text) as { mcp_servers?: { styxy?: { command?: unknown } } };
        if (check.mcp_servers?.styxy?.command !== input.program) throw new Error('the entry did not read back');
      } catch (err) {
        throw malformed(target.file, `Styxy's [mcp_servers.styxy] table cannot be added to it (${String((err as Error).message).split('\n')[0]})`);
      }
      return { after: added.text };
    }
  }
}

function planRemove(target: Target, before: string | null, entry: ManifestEntry | undefined): Planned {
  if (before === null) return { after: null };
  // Unchanged since the install: put back exactly what was there.
  if (entry && entry.after === before) return { after: entry.before, restored: true };
  const changedSince = entry ? "the file changed since the install: only Styxy's entries were taken out" : undefined;
  let after: string;
  switch (target.kind) {
    case 'claude-settings':
    case 'mcp-json': {
      const doc = parseJsonObject(target.file, before);
      const removed = target.kind === 'claude-settings' ? removeClaudeHooks(doc) : removeMcpServer(doc);
      if (!removed.changed) return { after: before };
      after = formatJsonLike(before, removed.value);
      break;
    }
    case 'markdown': {
      const removed = removeBlock(before, MARKDOWN_MARKERS);
      if (!removed.changed) return { after: before };
      after = removed.text;
      break;
    }
    case 'toml': {
      const removed = removeBlock(before, TOML_MARKERS);
      if (!removed.changed) return { after: before };
      after = removed.text;
      const rest = tomlWithoutServerTables(after);
      if (rest.note) return { after: rest.text, note: changedSince ? `${changedSince}; ${rest.note}` : rest.note };
      break;
    }
  }
  // A file the install created, left with nothing of the user's in it, goes.
  if (entry?.before === null && (after.trim() === '' || after.trim() === '{}')) return { after: null, ...(changedSince && { note: changedSince }) };
  return { after, ...(changedSince && { note: changedSince }) };
}

/**
 * A `[mcp_servers.styxy.…]` table the user added (a tool's approval) would outlive the server:
 * Codex then refuses the whole file, so it goes too, and the answer says so. Only when the file
 * reads back without any `mcp_servers.styxy`; else it is left, and the answer says what to remove.
 */
function tomlWithoutServerTables(text: string): { text: string; note?: string } {
  const toml = require('smol-toml') as typeof import('smol-toml');
  const server = (t: string): unknown => (toml.parse(t) as { mcp_servers?: Record<string, unknown> }).mcp_servers?.styxy;
  try {
    if (server(text) === undefined) return { text };
  } catch {
    return { text };
  }
  const { text: without, removed } = removeServerSubtables(text, 'styxy');
  let clean: boolean;
  try {
    clean = removed.length > 0 && server(without) === undefined;
  } catch {
    clean = false;
  }
  if (clean) return { text: without, note: `also took out ${removed.join(', ')}: without the server it configures, Codex refuses the file` };
  return { text, note: 'mcp_servers.styxy is still set outside the block install added: remove it by hand, or Codex refuses the file' };
}

function parseJsonObject(file: string, text: string | null): { [key: string]: Json } {
  if (text === null || text.trim() === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw malformed(file, `not valid JSON: ${(err as Error).message}`);
  }
  if (!isObject(value as Json)) throw malformed(file, 'not a JSON object');
  return value as { [key: string]: Json };
}

function malformed(file: string, problem: string): StyxyError {
  return new StyxyError('INVALID_CONFIG', `${file}: ${problem}; nothing was changed`, {
    details: { file, problem },
    suggestions: [`Fix ${file} by hand (or move it aside), then run the command again`],
  });
}

/** The largest agent file read: settings and MCP files are a few kB. */
const MAX_BYTES = 1024 * 1024;

function readText(file: string): string | null {
  let stat: fs.Stats | undefined;
  try {
    stat = fs.statSync(file, { throwIfNoEntry: false });
  } catch (err) {
    throw new StyxyError('INVALID_CONFIG', `${file}: cannot be read (${(err as NodeJS.ErrnoException).code}); nothing was changed`, { details: { file } });
  }
  if (!stat) return null;
  if (!stat.isFile() || stat.size > MAX_BYTES) throw malformed(file, stat.isFile() ? 'larger than 1 MB' : 'not a regular file');
  return fs.readFileSync(file, 'utf8');
}

/**
 * A symlink on the way from the base (the project or the home directory) to the file is refused:
 * writing through it would change a file somewhere else than the command says.
 */
function refuseLinks(target: Target): void {
  let at = target.base;
  for (const part of path.relative(target.base, target.file).split(path.sep)) {
    at = path.join(at, part);
    const stat = fs.lstatSync(at, { throwIfNoEntry: false });
    if (!stat) return;
    if (stat.isSymbolicLink()) {
      let to = '?';
      try {
        to = fs.readlinkSync(at);
      } catch {
        /* named as unknown */
      }
      throw new StyxyError('INVALID_ARGUMENT', `${at} is a symbolic link (to ${to}): Styxy does not write through it; nothing was changed`, {
        details: { file: target.file, link: at, to },
        suggestions: [`Run the command where the link points, or replace the link with the file itself`],
      });
    }
  }
}

/** Writes the new text (or removes the file); returns the directory it had to create, if any. */
function writeOrRemove(target: Target, text: string | null): string | undefined {
  const dir = path.dirname(target.file);
  if (text === null) {
    fs.rmSync(target.file, { force: true });
    return undefined;
  }
  let createdDir: string | undefined;
  if (!fs.existsSync(dir)) {
    fs.mkdirSync(dir, { recursive: true });
    createdDir = dir;
  }
  const mode = fs.statSync(target.file, { throwIfNoEntry: false })?.mode;
  writeFileAtomic(target.file, text);
  fs.chmodSync(target.file, mode !== undefined ? mode & 0o7777 : 0o644);
  return createdDir;
}

function backup(ctx: TransactionContext, file: string, text: string, stamp: string): string {
  const dir = path.join(ctx.paths.backups, 'agents');
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const name = `${file.replace(/^\/+/, '').replace(/[/\\]/g, '__')}.${stamp}`;
  let target = path.join(dir, name);
  for (let n = 1; fs.existsSync(target); n++) target = path.join(dir, `${name}-${n}`);
  fs.writeFileSync(target, text, { mode: 0o600, flag: 'wx' });
  return target;
}

interface ManifestEntry {
  /** The file as it was before the install (null: there was none). */
  before: string | null;
  /** The file as the install wrote it. */
  after: string;
  /** A directory the install created for it. */
  createdDir?: string;
}

interface Manifest {
  version: 1;
  files: Record<string, ManifestEntry>;
}

/** What each install wrote, so that an uninstall of an untouched file restores it byte for byte. */
function manifestPath(ctx: TransactionContext): string {
  return path.join(ctx.paths.home, 'agents.json');
}

function readManifest(ctx: TransactionContext): Manifest {
  try {
    const data = JSON.parse(fs.readFileSync(manifestPath(ctx), 'utf8')) as Manifest;
    if (data && data.version === 1 && isObject(data.files as unknown as Json)) return { version: 1, files: Object.assign(Object.create(null), data.files) };
  } catch {
    /* none yet, or unreadable: uninstall then takes out Styxy's entries one by one */
  }
  return { version: 1, files: Object.create(null) as Record<string, ManifestEntry> };
}

function writeManifest(ctx: TransactionContext, manifest: Manifest): void {
  fs.mkdirSync(ctx.paths.home, { recursive: true, mode: 0o700 });
  writeFileAtomic(manifestPath(ctx), `${JSON.stringify(manifest, null, 2)}\n`);
}

/** After an uninstall: a directory the install created, now empty, goes too. */
export function removeCreatedDirs(dirs: readonly string[]): void {
  for (const dir of dirs) {
    try {
      fs.rmdirSync(dir);
    } catch {
      /* not empty, or gone: kept */
    }
  }
}
