import { context } from '../command-kit';
import { declare, type StyxyCommand } from '../command-spec';

/** `styxy mcp`: the MCP server on stdio (lib/cli/mcp-server.ts, a file of its own in dist/). */
export const mcpCommand: StyxyCommand<object> = {
  name: 'mcp',
  command: 'mcp',
  describe: 'A stdio MCP server for coding agents: allocate, release, list, start, stop, who holds a port (see docs/agents.md)',
  options: {},
  positionals: [],
  builder: (yargs) =>
    declare(yargs, mcpCommand)
      .example('claude mcp add styxy -- styxy mcp', 'Register it with Claude Code')
      .example('$0 agent install claude-code', 'Or let Styxy write .mcp.json and the hooks') as never,
  handler: async () => {
    const ctx = context();
    const { serveMcp } = require('../mcp-server') as typeof import('../mcp-server');
    await serveMcp(ctx);
    return 0;
  },
};
