/**
 * What `styxy agent install` adds to an agent's files and what `uninstall` takes out again, as
 * pure edits of values and text: the hook entries of Claude Code's settings, the MCP server
 * entry, and a marked block in a Markdown (or TOML) file. Each edit leaves what the user had as
 * it was, and each removal takes out only what the install added.
 */

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

export const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The Claude Code events the hook is registered for, and the matcher of each (null: none). */
export const CLAUDE_HOOK_EVENTS: ReadonlyArray<readonly [string, string | null]> = [
  ['PreToolUse', 'Bash'],
  ['SessionStart', null],
  ['SessionEnd', null],
];

/**
 * The SessionEnd hook's `timeout`, in seconds. Without one, Claude Code gives all SessionEnd hooks
 * 1.5 s together and then cancels them ("Hook cancelled"): too little to end a server that takes
 * its time (stop waits 5 s between SIGTERM and SIGKILL), which then runs on with its port. A
 * declared timeout raises that budget (up to 60 s); the hook still returns as soon as it is done.
 */
export const SESSION_END_TIMEOUT_S = 30;

/** A hook command of Styxy's (any install path): `styxy hook claude-code`, `'/x/bin/styxy' hook claude-code`. */
export function isStyxyHookCommand(command: unknown): boolean {
  return typeof command === 'string' && /(^|\/)styxy'? hook claude-code$/.test(command.trim());
}

/** A copy of `value` (JSON-made, so that an edit never touches the caller's). */
const copy = <T extends Json>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

/**
 * Claude Code settings with Styxy's hook on each event, in a matcher group of its own; an event
 * that already runs a Styxy hook is left as it is. Null when the settings' hooks are not the
 * shape Claude Code reads (the caller refuses such a file).
 */
export function addClaudeHooks(settings: JsonObject, command: string): { value: JsonObject; changed: boolean } | null {
  const value = copy(settings);
  if (value.hooks !== undefined && !isObject(value.hooks)) return null;
  const hooks: JsonObject = (value.hooks as JsonObject | undefined) ?? {};
  let changed = false;
  for (const [event, matcher] of CLAUDE_HOOK_EVENTS) {
    const groups = hooks[event];
    if (groups !== undefined && !Array.isArray(groups)) return null;
    const list = (groups as Json[] | undefined) ?? [];
    const present = list.some((g) => isObject(g) && Array.isArray(g.hooks) && g.hooks.some((h) => isObject(h) && isStyxyHookCommand(h.command)));
    if (present) continue;
    const hook: JsonObject = { type: 'command', command, ...(event === 'SessionEnd' && { timeout: SESSION_END_TIMEOUT_S }) };
    list.push({ ...(matcher !== null && { matcher }), hooks: [hook] });
    hooks[event] = list;
    changed = true;
  }
  if (changed) value.hooks = hooks;
  return { value, changed };
}

/** The settings without Styxy's hooks; a group, an event or `hooks` left empty by that goes too. */
export function removeClaudeHooks(settings: JsonObject): { value: JsonObject; changed: boolean } {
  const value = copy(settings);
  if (!isObject(value.hooks)) return { value, changed: false };
  const hooks = value.hooks;
  let changed = false;
  for (const [event] of CLAUDE_HOOK_EVENTS) {
    const groups = hooks[event];
    if (!Array.isArray(groups)) continue;
    const kept: Json[] = [];
    for (const group of groups) {
      if (!isObject(group) || !Array.isArray(group.hooks)) {
        kept.push(group);
        continue;
      }
      const own = group.hooks.filter((h) => !(isObject(h) && isStyxyHookCommand(h.command)));
      if (own.length === group.hooks.length) kept.push(group);
      else {
        changed = true;
        if (own.length > 0) kept.push({ ...group, hooks: own });
      }
    }
    if (kept.length > 0) hooks[event] = kept;
    else delete hooks[event];
  }
  if (Object.keys(hooks).length === 0) delete value.hooks;
  return { value, changed };
}

/** The MCP server entry `styxy` under `mcpServers`; an entry of that name already there is kept. */
export function addMcpServer(doc: JsonObject, entry: JsonObject): { value: JsonObject; changed: boolean; conflict: boolean } | null {
  const value = copy(doc);
  if (value.mcpServers !== undefined && !isObject(value.mcpServers)) return null;
  const servers = (value.mcpServers as JsonObject | undefined) ?? {};
  if (servers.styxy !== undefined) {
    return { value, changed: false, conflict: JSON.stringify(servers.styxy) !== JSON.stringify(entry) && !isStyxyMcpEntry(servers.styxy) };
  }
  servers.styxy = copy(entry);
  value.mcpServers = servers;
  return { value, changed: true, conflict: false };
}

/** An entry that runs `styxy mcp` (from any install path). */
export function isStyxyMcpEntry(entry: Json | undefined): boolean {
  return (
    isObject(entry) &&
    typeof entry.command === 'string' &&
    /(^|\/)styxy$/.test(entry.command) &&
    Array.isArray(entry.args) &&
    entry.args.length === 1 &&
    entry.args[0] === 'mcp'
  );
}

/** The document without Styxy's MCP entry (one that runs `styxy mcp`); `mcpServers` left empty goes too. */
export function removeMcpServer(doc: JsonObject): { value: JsonObject; changed: boolean } {
  const value = copy(doc);
  if (!isObject(value.mcpServers) || !isStyxyMcpEntry(value.mcpServers.styxy)) return { value, changed: false };
  delete value.mcpServers.styxy;
  if (Object.keys(value.mcpServers).length === 0) delete value.mcpServers;
  return { value, changed: true };
}

/**
 * A block appended to a text file, found again by its first and last lines. It is joined with a
 * single newline: after a last line without one, that newline ends it; after one with it, it
 * makes a blank line. So the removal, which takes the block and the one character before it,
 * always gives back the text as it was.
 */
export interface MarkedBlock {
  begin: string;
  end: string;
}

export const MARKDOWN_MARKERS: MarkedBlock = {
  begin: '<!-- styxy:begin (added by `styxy agent install`; `styxy agent uninstall` removes it) -->',
  end: '<!-- styxy:end -->',
};
export const TOML_MARKERS: MarkedBlock = {
  begin: '# styxy:begin (added by `styxy agent install`; `styxy agent uninstall` removes it)',
  end: '# styxy:end',
};

/** The block's whole text, markers included, ending with a newline. */
export function markedBlock(markers: MarkedBlock, body: string): string {
  return `${markers.begin}\n${body.replace(/\n*$/, '')}\n${markers.end}\n`;
}

/** `text` with the block appended; unchanged when a block of these markers is there already. */
export function addBlock(text: string, markers: MarkedBlock, body: string): { text: string; changed: boolean } {
  if (text.includes(markers.begin)) return { text, changed: false };
  return { text: `${text}${text === '' ? '' : '\n'}${markedBlock(markers, body)}`, changed: true };
}

/** `text` without the block (and the newline that joined it); unchanged when there is none. */
export function removeBlock(text: string, markers: MarkedBlock): { text: string; changed: boolean } {
  const start = text.indexOf(markers.begin);
  if (start < 0 || (start > 0 && text[start - 1] !== '\n')) return { text, changed: false };
  const endAt = text.indexOf(`\n${markers.end}`, start);
  if (endAt < 0) return { text, changed: false };
  let end = endAt + 1 + markers.end.length;
  if (text[end] === '\n') end++;
  let head = text.slice(0, Math.max(0, start - 1));
  const tail = text.slice(end);
  // Text the user wrote after the block keeps a line of its own: the joining newline that goes
  // with the block would otherwise glue it to the last line before (`Use pnpm.More notes`).
  if (tail !== '' && head !== '' && !head.endsWith('\n')) head += '\n';
  return { text: head + tail, changed: true };
}

/**
 * `text` without the tables under `[mcp_servers.styxy]` that sit outside Styxy's block (a user's
 * `[mcp_servers.styxy.tools.start_server]`): left behind without the server they belong to, they
 * make Codex refuse the whole file. Each goes from its header to the next table's, except the
 * comments right above that next table, which are kept with it.
 */
export function removeServerSubtables(text: string, server: string): { text: string; removed: string[] } {
  const name = `(?:${server}|"${server}"|'${server}')`;
  const header = new RegExp(`^\\s*\\[\\s*mcp_servers\\s*\\.\\s*${name}\\s*\\.[^\\]\\n]*\\]\\s*(?:#.*)?$`);
  const anyHeader = /^\s*\[/;
  const kept: string[] = [];
  const removed: string[] = [];
  let dropping = false;
  // Comment lines at the end of a dropped table (and what follows them): the next table's, or the
  // file's last words. The blank lines before them go with the table, as they always did.
  let pending: string[] = [];
  const comments = (): string[] => {
    const first = pending.findIndex((l) => /^\s*#/.test(l));
    return first < 0 ? [] : pending.slice(first);
  };
  for (const line of text.split('\n')) {
    if (anyHeader.test(line)) {
      const next = header.test(line);
      if (dropping && !next) kept.push(...comments());
      pending = [];
      dropping = next;
      if (dropping) removed.push(line.trim());
      else kept.push(line);
    } else if (!dropping) kept.push(line);
    else if (/^\s*(?:#.*)?$/.test(line)) pending.push(line);
    else pending = [];
  }
  if (dropping) kept.push(...comments());
  return { text: kept.join('\n'), removed };
}

/**
 * JSON written in the file's own indentation (two spaces when it shows none), with a final
 * newline when the file had one (or was new).
 */
export function formatJsonLike(original: string | null, value: Json): string {
  const indent = original ? (/^([ \t]+)"/m.exec(original)?.[1] ?? '  ') : '  ';
  const newline = original === null || original === '' || original.endsWith('\n') ? '\n' : '';
  return `${JSON.stringify(value, null, indent)}${newline}`;
}

/** A unified-style diff of two texts, line by line (the files are small). */
export function diffLines(label: string, before: string | null, after: string | null): string {
  const a = before === null || before === '' ? [] : before.replace(/\n$/, '').split('\n');
  const b = after === null || after === '' ? [] : after.replace(/\n$/, '').split('\n');
  const n = a.length;
  const m = b.length;
  const lcs: number[][] = Array.from({ length: n + 1 }, () => new Array<number>(m + 1).fill(0));
  for (let i = n - 1; i >= 0; i--)
    for (let j = m - 1; j >= 0; j--) lcs[i]![j] = a[i] === b[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
  const out = [`--- ${before === null ? '/dev/null' : label}`, `+++ ${after === null ? '/dev/null' : label}`];
  let i = 0;
  let j = 0;
  // At a change, what goes comes before what replaces it, as diff prints them.
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) {
      out.push(`  ${a[i]}`);
      i++;
      j++;
    } else if (i < n && (j >= m || lcs[i + 1]![j]! >= lcs[i]![j + 1]!)) out.push(`- ${a[i++]}`);
    else out.push(`+ ${b[j++]}`);
  }
  return `${out.join('\n')}\n`;
}
