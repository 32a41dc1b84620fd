import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { BIN, type Sandbox } from './cli';

/** `styxy mcp` in the sandbox, connected to the MCP SDK's own client over stdio, as an agent drives it. */
export async function connectMcp(box: Sandbox): Promise<Client> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [BIN, 'mcp'],
    env: box.env as Record<string, string>,
    cwd: box.cwd,
    stderr: 'pipe',
  });
  const client = new Client({ name: 'styxy-test', version: '1.0.0' });
  await client.connect(transport);
  return client;
}
