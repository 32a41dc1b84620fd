import { sessionOfClient } from '../../../lib/cli/mcp-server';

test.each<[NodeJS.ProcessEnv, string | undefined, string | undefined]>([
  [{ CLAUDE_CODE_SESSION_ID: '3f2a-77' }, 'claude-code', 'claude-code:3f2a-77'],
  [{ CLAUDE_CODE_SESSION_ID: 'bad id;rm' }, 'claude-code', 'claude-code:1234'],
  [{}, 'codex-mcp-client', 'codex-mcp-client:1234'],
  [{}, 'Cursor (1.2)', 'Cursor-1.2-:1234'],
  [{}, undefined, undefined],
  [{}, '', undefined],
])('env %j, client %j → %j', (env, client, expected) => {
  expect(sessionOfClient(env, client, 1234)).toBe(expected);
});
