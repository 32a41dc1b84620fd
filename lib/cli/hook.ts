/**
 * `styxy hook claude-code`: Claude Code's command hook. It reads the hook's JSON on stdin and
 * answers on stdout as Claude Code's hooks reference asks. Built as a file of its own
 * (dist/hook.js), which bin/styxy loads instead of the CLI for exactly `styxy hook claude-code`:
 * it runs on every Bash call of every agent, so a command it leaves alone costs Node's start-up
 * and the matcher, nothing more (no lock, no state, no yargs). What it does not understand it
 * leaves alone, and it never blocks the agent: whatever happens, it exits 0, and on a malformed
 * input it prints nothing.
 */
import { findServerCommand, planServerRewrite } from '../core/agent-hook';

/** The words a server start needs, for the build to hand to bin/styxy (see dist/hook-gate.txt). */
export { MAYBE_SERVER as SERVER_GATE } from '../core/agent-hook';
import { shellWord } from '../core/shell-word';

/** The agents this hook speaks for. */
export const HOOK_AGENTS = ['claude-code'] as const;

/** The part of the CLI the session events need (the state, the stop): loaded only for them. */
export interface SessionHandler {
  answerSessionHook(agent: string, input: HookInput): Promise<string | null>;
}

/** The hook input's fields Styxy reads (Claude Code sends more). */
export interface HookInput {
  hook_event_name: string;
  session_id?: string;
  cwd?: string;
  tool_name?: string;
  tool_input?: Record<string, unknown>;
  reason?: string;
  source?: string;
}

/** A session id as Styxy records it: `claude-code:<id>`, the id as Claude Code gives it. */
export function sessionOf(agent: string, input: Pick<HookInput, 'session_id'>): string | undefined {
  const id = input.session_id;
  return typeof id === 'string' && /^[A-Za-z0-9._:-]{1,180}$/.test(id) ? `${agent}:${id}` : undefined;
}

/** Reads the input; null for anything that is not a hook input (the hook then says nothing). */
export function parseHookInput(text: string): HookInput | null {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return null;
  }
  if (!data || typeof data !== 'object' || Array.isArray(data)) return null;
  const input = data as HookInput;
  return typeof input.hook_event_name === 'string' ? input : null;
}

/**
 * The answer to one hook input (the text to print), or null to print nothing. `session` loads
 * what SessionStart and SessionEnd need.
 */
export async function answerHook(agent: string, text: string, env: NodeJS.ProcessEnv, session: () => SessionHandler): Promise<string | null> {
  const input = parseHookInput(text);
  if (!input) return null;
  if (input.hook_event_name === 'PreToolUse') return answerPreToolUse(agent, input, env);
  if (input.hook_event_name === 'SessionStart' || input.hook_event_name === 'SessionEnd') return session().answerSessionHook(agent, input);
  return null;
}

/**
 * PreToolUse on Bash: the command with its server start run under `styxy start`, as
 * `updatedInput`, the other fields of the tool's input kept. No `permissionDecision`: the user's
 * own permission rules still decide whether the command runs.
 */
export function answerPreToolUse(agent: string, input: HookInput, env: NodeJS.ProcessEnv): string | null {
  if (input.tool_name !== 'Bash' || !input.tool_input || typeof input.tool_input.command !== 'string') return null;
  if (env.STYXY_HOOK === 'off') return null;
  const command = input.tool_input.command;
  const found = findServerCommand(command);
  if (found.kind !== 'found') return null;
  // Only now, with a server start found, does the hook read anything.
  const path = require('path') as typeof import('path');
  const cwd = typeof input.cwd === 'string' && path.isAbsolute(input.cwd) ? input.cwd : process.cwd();
  const dir = path.resolve(cwd, ...found.server.cd);
  const { readAgentSettings } = require('../app/agent-settings') as typeof import('../app/agent-settings');
  if (readAgentSettings(dir).hook === false) return null;
  const { findPackageDir, readPackageScripts } = require('../os/package-scripts') as typeof import('../os/package-scripts');
  const { findProjectRoot } = require('../os/project') as typeof import('../os/project');
  const root = findProjectRoot(dir);
  // A script is its package's, wherever below it the agent stands: `npm run dev` from src/ is the
  // same server as from the package's folder, so it gets the same name (and port), not a second one.
  const named = found.server.kind === 'script' ? (findPackageDir(dir) ?? dir) : dir;
  const relativeDir = path.relative(root, named).split(path.sep).join('/');
  // Where Claude Code gives its commands the session (CLAUDE_CODE_SESSION_ID, as it gives this hook),
  // `start` records it by itself: no STYXY_SESSION=… in front, which would keep the user's
  // permission rules (`Bash(styxy start -s dev -n dev -- npm run dev)`) from ever matching. Not
  // where a STYXY_SESSION is set around Claude Code: start would take that one instead.
  const leftToStart = env.CLAUDE_CODE_SESSION_ID !== undefined && env.CLAUDE_CODE_SESSION_ID === input.session_id && !env.STYXY_SESSION;
  const session = leftToStart ? undefined : sessionOf(agent, input);
  const rewrite = planServerRewrite(command, found.server, {
    scripts: found.server.kind === 'script' ? readPackageScripts(dir) : null,
    relativeDir: relativeDir.startsWith('..') ? '' : relativeDir,
    styxy: styxyWord(env),
    ...(session && { session }),
  });
  if (!rewrite) return null;
  // The start returns at once, with the port: a background run would only hide that answer.
  const { run_in_background: _background, ...kept } = input.tool_input;
  return JSON.stringify({ hookSpecificOutput: { hookEventName: 'PreToolUse', updatedInput: { ...kept, command: rewrite.line } } });
}

/**
 * How the rewritten command calls Styxy: `styxy` when that name on PATH is this very install,
 * else this install's path, so that the command runs the Styxy that answered.
 */
export function styxyWord(env: NodeJS.ProcessEnv): string {
  return shellWord(styxyProgram(env));
}

/** The program that runs this install of Styxy: `styxy` when PATH finds this one, else its full path. */
export function styxyProgram(env: NodeJS.ProcessEnv): string {
  const fs = require('fs') as typeof import('fs');
  const path = require('path') as typeof import('path');
  const self = path.resolve(process.argv[1] ?? 'styxy');
  let mine: string;
  try {
    mine = fs.realpathSync(self);
  } catch {
    return self;
  }
  for (const dir of (env.PATH ?? '').split(path.delimiter)) {
    if (!dir || !path.isAbsolute(dir)) continue;
    try {
      const candidate = path.join(dir, 'styxy');
      if (fs.statSync(candidate, { throwIfNoEntry: false })) return fs.realpathSync(candidate) === mine ? 'styxy' : self;
    } catch {
      /* unreadable: keep looking */
    }
  }
  return self;
}

/**
 * The whole hook as bin/styxy runs it: stdin in (or `input`, when bin/styxy has read it
 * already), the answer out, exit 0. `loadSession` loads the CLI bundle for the session events.
 */
export function hook(agent: string, loadSession: () => SessionHandler, input?: string): void {
  const fs = require('fs') as typeof import('fs');
  let text: string;
  try {
    text = input ?? fs.readFileSync(0, 'utf8');
  } catch {
    return;
  }
  answerHook(agent, text, process.env, loadSession).then(
    (answer) => {
      if (answer !== null) writeAll(fs, `${answer}\n`);
    },
    (err) => {
      // Never a failure for the agent; --debug-like detail only when asked.
      if (process.env.STYXY_DEBUG) fs.writeSync(2, `styxy hook: ${String((err as Error)?.stack ?? err)}\n`);
    },
  );
}

function writeAll(fs: typeof import('fs'), text: string): void {
  const buffer = Buffer.from(text, 'utf8');
  let offset = 0;
  try {
    while (offset < buffer.length) offset += fs.writeSync(1, buffer, offset, buffer.length - offset);
  } catch {
    /* a reader gone away: nothing more to say */
  }
}
