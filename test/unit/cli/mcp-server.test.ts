import { sessionOfClient } from '../../../lib/cli/mcp-server';

const CODEX = '01a24e48-843d-7a93-a4b3-38a04111013a';

test.each<[NodeJS.ProcessEnv, string | undefined, Record<string, unknown> | undefined, string | undefined]>([
  [{ CLAUDE_CODE_SESSION_ID: '3f2a-77' }, 'claude-code', undefined, 'claude-code:3f2a-77'],
  [{ CLAUDE_CODE_SESSION_ID: 'bad id;rm' }, 'claude-code', undefined, 'claude-code:1234'],
  // Codex names its session in each call's _meta (what `codex exec --json` calls thread_id).
  [{}, 'codex-mcp-client', { sessionId: CODEX, threadId: CODEX, callId: 'call_1' }, `codex:${CODEX}`],
  [{}, 'codex-mcp-client', undefined, 'codex:1234'],
  [{}, 'codex-mcp-client', { sessionId: 'bad id;rm' }, 'codex:1234'],
  [{}, 'codex-mcp-client', { sessionId: 42 }, 'codex:1234'],
  [{ CLAUDE_CODE_SESSION_ID: '3f2a-77' }, 'codex-mcp-client', { sessionId: CODEX }, 'claude-code:3f2a-77'],
  [{}, 'Cursor (1.2)', undefined, 'Cursor-1.2-:1234'],
  [{}, 'Cursor (1.2)', { sessionId: 's-9' }, 'Cursor-1.2-:s-9'],
  [{}, undefined, { sessionId: CODEX }, undefined],
  [{}, '', undefined, undefined],
])('env %j, client %j, _meta %j → %j', (env, client, meta, expected) => {
  expect(sessionOfClient(env, client, 1234, meta)).toBe(expected);
});
