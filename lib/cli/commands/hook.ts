import { StyxyError } from '../../errors';
import type { SessionHandler, HookInput } from '../hook';
import { JSON_OPTION, context, type CommonArgs } from '../command-kit';
import { declare, type StyxyCommand } from '../command-spec';

interface HookArgs extends CommonArgs {
  agent: string;
}

/**
 * `styxy hook <agent>` through yargs: the same answer as the fast path (bin/styxy loads
 * dist/hook.js for exactly `styxy hook claude-code`), for a line the fast path leaves to the CLI.
 */
export const hookCommand: StyxyCommand<HookArgs> = {
  name: 'hook',
  command: 'hook <agent>',
  describe: "A coding agent's command hook: reads the hook's JSON on stdin, answers on stdout (see docs/agents.md)",
  options: { json: JSON_OPTION },
  positionals: [{ name: 'agent', required: true, describe: 'The agent: claude-code' }],
  builder: (yargs) =>
    declare(yargs, hookCommand)
      .example('$0 agent install claude-code', 'Register this hook in .claude/settings.json')
      .epilog(
        'PreToolUse (Bash): a command that starts a dev server runs under `styxy start` instead, on a Styxy port, recorded with the session. ' +
          "SessionStart: tells the agent the project's live allocations and how to start a server. SessionEnd: stops what the session started. " +
          'It never grants a permission and never blocks the agent: a command it does not understand, or a malformed input, is left alone. ' +
          'Opt out per command with STYXY_HOOK=off before it or a `# styxy:off` comment, per project with "agents": {"hook": false} in .styxy.json.',
      ) as never,
  handler: async (args) => {
    const { HOOK_AGENTS, answerHook } = await import('../hook');
    if (!(HOOK_AGENTS as readonly string[]).includes(args.agent)) {
      throw new StyxyError('INVALID_ARGUMENT', `no hook for ${JSON.stringify(args.agent)}; agents with a hook: ${HOOK_AGENTS.join(', ')}`);
    }
    const fs = require('fs') as typeof import('fs');
    let text: string;
    try {
      text = fs.readFileSync(0, 'utf8');
    } catch {
      return 0;
    }
    const answer = await answerHook(args.agent, text, process.env, () => sessionHandler).catch(() => null);
    if (answer !== null) (await import('../output')).printLine(answer);
    return 0;
  },
};

/** SessionStart and SessionEnd, with the app layer. Failures say nothing: the agent goes on. */
export const sessionHandler: SessionHandler = {
  async answerSessionHook(agent: string, input: HookInput): Promise<string | null> {
    const path = require('path') as typeof import('path');
    const { styxyWord, sessionOf } = await import('../hook');
    const dir = typeof input.cwd === 'string' && path.isAbsolute(input.cwd) ? input.cwd : process.cwd();
    const ctx = { ...context(), cwd: dir, warn: () => undefined };
    if (input.hook_event_name === 'SessionStart') {
      const { runSessionStart } = await import('../../app/agent-session');
      const { describeAgentContext } = await import('../../core/agent-context');
      const { describeOwner } = await import('../../app/owner');
      const started = await runSessionStart(ctx, dir);
      const allocations = started.allocations.map((a) => ({
        port: a.port,
        serviceType: a.serviceType,
        instanceId: a.instanceId,
        owner: describeOwner(a.owner),
        // Recorded by `--session` (newer states); read loosely so that older ones list too.
        ...(typeof (a as { session?: unknown }).session === 'string' && { session: (a as unknown as { session: string }).session }),
      }));
      return JSON.stringify({
        hookSpecificOutput: { hookEventName: 'SessionStart', additionalContext: describeAgentContext(allocations, styxyWord(process.env)) },
      });
    }
    if (input.hook_event_name === 'SessionEnd') {
      const session = sessionOf(agent, input);
      if (!session) return null;
      const { keepsServers, runSessionEnd } = await import('../../app/agent-session');
      if (keepsServers(ctx, dir, process.env)) return null;
      await runSessionEnd(ctx, session);
      return null;
    }
    return null;
  },
};
