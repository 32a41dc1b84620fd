import { StyxyError } from '../../errors';
import type { AgentInstallResult, AgentName } from '../../app/agent-install';
import { JSON_OPTION, context, present, type CommonArgs } from '../command-kit';
import { declare, type OptionSpecs, type StyxyCommand, type StyxyCommandGroup } from '../command-spec';
import { printLine, shown, warn } from '../output';

interface AgentArgs extends CommonArgs {
  agent: string;
  user?: boolean;
  project?: boolean;
  'dry-run'?: boolean;
}

const AGENT_NAMES = ['claude-code', 'codex', 'cursor', 'agents-md'];

const options = {
  user: { type: 'boolean', describe: "The user's files (~/.claude, ~/.codex, ~/.cursor): every project" },
  project: { type: 'boolean', describe: "This project's files (.claude/, .mcp.json, .cursor/, AGENTS.md): the default but for codex" },
  'dry-run': { type: 'boolean', describe: 'Print the changes as a diff; change nothing' },
  json: JSON_OPTION,
} satisfies OptionSpecs;

function agentCommand(uninstall: boolean): StyxyCommand<AgentArgs> {
  const name = uninstall ? 'uninstall' : 'install';
  const command: StyxyCommand<AgentArgs> = {
    name,
    command: `${name} <agent>`,
    describe: uninstall
      ? 'Take out exactly what `styxy agent install` added'
      : 'Wire Styxy into a coding agent: the hook and the MCP server in its settings, a short note in CLAUDE.md / AGENTS.md',
    options,
    positionals: [{ name: 'agent', required: true, describe: AGENT_NAMES.join(' | ') }],
    conflicts: [['user', 'project']],
    builder: (yargs) =>
      declare(yargs, command)
        .example(
          `$0 agent ${name} claude-code`,
          uninstall ? 'Remove the hooks, the MCP server and the note it added' : '.claude/settings.json hooks, .mcp.json, CLAUDE.md',
        )
        .example(`$0 agent ${name} codex --dry-run`, uninstall ? 'Show what would be removed' : 'Show the change to ~/.codex/config.toml') as never,
    handler: async (args) => {
      if (!AGENT_NAMES.includes(args.agent)) {
        throw new StyxyError('INVALID_ARGUMENT', `unknown agent ${JSON.stringify(args.agent)}; one of: ${AGENT_NAMES.join(', ')}`);
      }
      const { runAgentInstall } = await import('../../app/agent-install');
      const { findProjectRoot } = await import('../../os/project');
      const { styxyProgram } = await import('../hook');
      const { shellWord } = await import('../../core/shell-word');
      const ctx = context();
      const home = process.env.HOME;
      if (!home || !(require('path') as typeof import('path')).isAbsolute(home))
        throw new StyxyError('INVALID_ARGUMENT', 'HOME is not set to an absolute path');
      const program = styxyProgram(process.env);
      await present(
        args,
        () =>
          runAgentInstall(ctx, {
            agent: args.agent as AgentName,
            ...(args.user && { scope: 'user' as const }),
            ...(args.project && { scope: 'project' as const }),
            uninstall,
            dryRun: args['dry-run'] === true,
            program,
            hookCommand: `${shellWord(program)} hook claude-code`,
            projectDir: findProjectRoot(ctx.cwd),
            homeDir: home,
          }),
        (r) => tell(r, uninstall),
      );
    },
  };
  return command;
}

function tell(r: AgentInstallResult, uninstall: boolean): void {
  for (const c of r.changes) {
    if (c.diff !== undefined) for (const line of c.diff.replace(/\n$/, '').split('\n')) printLine(shown(line));
    const verb = r.dryRun
      ? { created: 'would create', updated: 'would update', restored: 'would restore', removed: 'would remove', unchanged: 'unchanged' }[c.action]
      : c.action;
    printLine(`${verb.padEnd(13)} ${shown(c.file)}${c.backup ? `  (backup: ${shown(c.backup)})` : ''}`);
    if (c.note) warn(`styxy: ${shown(c.file)}: ${c.note}`);
  }
  if (r.changes.every((c) => c.action === 'unchanged'))
    printLine(uninstall ? `Nothing of Styxy's to remove for ${r.agent}.` : `Styxy is already wired into ${r.agent}.`);
  if (r.next) printLine(r.next);
}

/** `styxy agent install|uninstall <agent>`. */
export const agentGroup: StyxyCommandGroup = {
  name: 'agent',
  command: 'agent <command>',
  describe: 'Wire Styxy into coding agents (Claude Code, Codex, Cursor, AGENTS.md), or take it out',
  subcommands: [agentCommand(false), agentCommand(true)],
  examples: [
    ['$0 agent install claude-code', 'Hooks in .claude/settings.json, the MCP server in .mcp.json, a note in CLAUDE.md'],
    ['$0 agent uninstall claude-code', 'Take out exactly what install added'],
  ],
};
