import { StyxyError } from '../errors';
import { findBatchVarProblem } from '../core/env-contract';
import { findEnvNameProblem, findLabelProblem, findSessionProblem } from '../core/names';
import { HOST_STYLES, isHostStyle, type HostStyle } from '../core/url';
import type { OptionSpecs } from './command-spec';

/** The options `allocate` and `run` declare alike: what to allocate, for which project. */
export const ALLOCATION_OPTIONS = {
  'service-type': {
    alias: ['s', 'service'],
    type: 'string',
    demandOption: true,
    repeatable: true,
    describe: 'Service type (dev, api, ai, ...); give it several times to allocate several ports at once, all or nothing',
  },
  'instance-id': { alias: ['n', 'name'], type: 'string', describe: 'Instance id: the same type + id + project gets the same port back' },
  port: { alias: ['p'], type: 'string', describe: 'Try this port first' },
  project: { type: 'string', describe: 'Project directory (default: the git top level, else the current directory)' },
  'new-type': {
    type: 'boolean',
    describe: "Create an unknown type even when its name is close to a known one (without it, 'dve' is refused: did you mean 'dev'?)",
  },
  label: { type: 'string', describe: 'A label recorded on a new allocation (an agent, a branch): shown by list and why' },
  session: {
    type: 'string',
    describe:
      'The session recorded on a new allocation (default: $STYXY_SESSION, else claude-code:$CLAUDE_CODE_SESSION_ID or codex:$CODEX_SESSION_ID); styxy stop --session ID ends them all',
  },
} satisfies OptionSpecs;

/**
 * `--label` and `--session`, the session falling back to $STYXY_SESSION (an agent's hook sets it
 * for every command it runs), then to the session the agent names in its shell commands (see
 * agentSession). A bad --session or STYXY_SESSION is INVALID_ARGUMENT naming where it came from;
 * an agent's id Styxy cannot record is left out (the command is the agent's, not the user's).
 */
export function labelAndSession(args: { label?: string; session?: string }, env: NodeJS.ProcessEnv = process.env): { label?: string; session?: string } {
  const session = args.session ?? (env.STYXY_SESSION ? env.STYXY_SESSION : agentSession(env));
  const problem =
    (args.label !== undefined ? findLabelProblem(args.label) : null) ??
    (session !== undefined ? findSessionProblem(session) : null)?.replace(/^session/, args.session !== undefined ? '--session' : 'STYXY_SESSION');
  if (problem) throw new StyxyError('INVALID_ARGUMENT', problem);
  return { ...(args.label !== undefined && { label: args.label }), ...(session !== undefined && { session }) };
}

/**
 * The session an agent names in the environment of its shell commands: Claude Code's
 * CLAUDE_CODE_SESSION_ID (`claude-code:<id>`, as its hook and MCP calls record it), Codex's
 * CODEX_SESSION_ID (`codex:<id>`). One Styxy cannot record is left out.
 */
function agentSession(env: NodeJS.ProcessEnv): string | undefined {
  const named = [env.CLAUDE_CODE_SESSION_ID && `claude-code:${env.CLAUDE_CODE_SESSION_ID}`, env.CODEX_SESSION_ID && `codex:${env.CODEX_SESSION_ID}`];
  return named.find((s): s is string => typeof s === 'string' && s !== '' && findSessionProblem(s) === null);
}

/** `--env-name`: the variable that carries the port, PORT by default; INVALID_ARGUMENT when it cannot. */
export function envNameArg(value: string | undefined): string {
  const name = value ?? 'PORT';
  const problem = findEnvNameProblem(name);
  if (problem) throw new StyxyError('INVALID_ARGUMENT', `--env-name ${problem}`);
  return name;
}

/** Before the lock: INVALID_ARGUMENT when a batch's variables cannot all be written (see findBatchVarProblem). */
export function checkBatchVarNames(serviceTypes: readonly string[], envName: string): void {
  const problem = findBatchVarProblem(serviceTypes, envName);
  if (!problem) return;
  throw new StyxyError('INVALID_ARGUMENT', problem.message, {
    details: { variable: problem.variable },
    ...(problem.kind === 'invalid-name' && { suggestions: ['Read the batch as JSON instead: --json'] }),
  });
}

export const HOST_STYLE_OPTION = {
  type: 'string',
  describe: `How the URL is written: localhost (http://localhost:PORT) or subdomain (http://<name>.<project>.localhost:PORT); default: the config's urls.host_style`,
} as const;

/** `--host-style`: one of HOST_STYLES, or INVALID_ARGUMENT. */
export function hostStyleArg(value: string | undefined): HostStyle | undefined {
  if (value === undefined) return undefined;
  if (!isHostStyle(value)) throw new StyxyError('INVALID_ARGUMENT', `--host-style ${JSON.stringify(value)} is not one of ${HOST_STYLES.join(', ')}`);
  return value;
}
