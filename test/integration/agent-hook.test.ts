import * as fs from 'fs';
import * as path from 'path';
import { BIN, useSandbox } from '../helpers/cli';

// `styxy hook claude-code` as Claude Code runs it: the hook's JSON on stdin, the answer on stdout.

const box = useSandbox();

beforeEach(() => {
  fs.mkdirSync(path.join(box.cwd, '.git'));
  fs.mkdirSync(path.join(box.cwd, 'web'));
  fs.writeFileSync(path.join(box.cwd, 'web', 'package.json'), JSON.stringify({ scripts: { dev: 'vite', build: 'vite build' } }));
});

function preToolUse(command: string, extra: Record<string, unknown> = {}) {
  return JSON.stringify({
    session_id: '3f2a-77',
    transcript_path: '/tmp/t.jsonl',
    cwd: box.cwd,
    hook_event_name: 'PreToolUse',
    tool_name: 'Bash',
    tool_input: { command, description: 'Start the dev server', timeout: 120000, ...extra },
    tool_use_id: 'toolu_01',
  });
}

function hook(input: string, env: NodeJS.ProcessEnv = {}) {
  return box.run(['hook', 'claude-code'], { input, env });
}

test('a dev server start comes back as updatedInput under styxy start, with the session, and grants nothing', () => {
  const r = hook(preToolUse('cd web && npm run dev > dev.log 2>&1 &', { run_in_background: true }));
  expect([r.code, r.stderr]).toEqual([0, '']);
  expect(r.json).toEqual({
    hookSpecificOutput: {
      hookEventName: 'PreToolUse',
      updatedInput: {
        command: `cd web && STYXY_SESSION=claude-code:3f2a-77 ${BIN} start -s dev -n web-dev -- sh -c 'exec npm run dev > dev.log 2>&1'`,
        description: 'Start the dev server',
        timeout: 120000,
      },
    },
  });
  expect(JSON.stringify(r.json)).not.toContain('permissionDecision');
});

test.each([
  ['not JSON', 'npm run dev'],
  ['empty', ''],
  ['an array', '[]'],
  ['no event', '{"tool_name":"Bash","tool_input":{"command":"npm run dev"}}'],
  ['another tool', JSON.stringify({ hook_event_name: 'PreToolUse', tool_name: 'Write', tool_input: { command: 'npm run dev' } })],
  ['no command', JSON.stringify({ hook_event_name: 'PreToolUse', tool_name: 'Bash', tool_input: {} })],
  ['a command that is not text', JSON.stringify({ hook_event_name: 'PreToolUse', tool_name: 'Bash', tool_input: { command: ['npm', 'run', 'dev'] } })],
  ['another event', JSON.stringify({ hook_event_name: 'PostToolUse', tool_name: 'Bash', tool_input: { command: 'npm run dev' } })],
  ['truncated', JSON.stringify({ hook_event_name: 'PreToolUse', tool_name: 'Bash', tool_input: { command: 'npm run dev' } }).slice(0, 60)],
])('a malformed or foreign input (%s) exits 0 and prints nothing', (_what, input) => {
  const r = hook(input);
  expect([r.code, r.stdout, r.stderr]).toEqual([0, '', '']);
});

test.each([
  ['a command that starts no server', 'cd web && npm run build', {}],
  ['the per-command opt-out', 'cd web && STYXY_HOOK=off npm run dev', {}],
  ['the opt-out comment', 'cd web && npm run dev # styxy:off', {}],
  ['STYXY_HOOK=off in the environment', 'cd web && npm run dev', { STYXY_HOOK: 'off' }],
  ['a script package.json does not have', 'npm run dev', {}],
])('%s: left alone, nothing printed', (_what, command, env) => {
  const r = hook(preToolUse(command), env);
  expect([r.code, r.stdout, r.stderr]).toEqual([0, '', '']);
});

test('"agents": {"hook": false} in the project\'s .styxy.json leaves its commands alone', () => {
  expect(hook(preToolUse('cd web && npm run dev')).json).toBeDefined();
  fs.writeFileSync(path.join(box.cwd, '.styxy.json'), JSON.stringify({ agents: { hook: false } }));
  const r = hook(preToolUse('cd web && npm run dev'));
  expect([r.code, r.stdout, r.stderr]).toEqual([0, '', '']);
});

test('agents in .styxy.json is checked like the rest of the config', () => {
  fs.writeFileSync(path.join(box.cwd, '.styxy.json'), JSON.stringify({ agents: { hook: 'no' } }));
  const r = box.run(['allocate', '-s', 'dev', '--json']);
  expect(r.json.error.code).toBe('INVALID_CONFIG');
  expect(r.json.error.details.problems).toEqual(expect.arrayContaining([expect.objectContaining({ path: '/agents/hook' })]));
  fs.writeFileSync(path.join(box.cwd, '.styxy.json'), JSON.stringify({ agents: { hook: true, keep_servers: false } }));
  expect(box.run(['allocate', '-s', 'dev', '--json']).json).toMatchObject({ success: true });
});

test("SessionStart tells the agent the project's live allocations and the commands to use", () => {
  const port = box.run(['allocate', '-s', 'dev', '-n', 'web-dev', '--persistent', '-q']).stdout.trim();
  box.run(['allocate', '-s', 'api', '-n', 'elsewhere', '--persistent', '-q'], { cwd: box.dir });
  const r = hook(JSON.stringify({ session_id: 's1', cwd: path.join(box.cwd, 'web'), hook_event_name: 'SessionStart', source: 'startup' }));
  expect([r.code, r.stderr]).toEqual([0, '']);
  const context: string = r.json.hookSpecificOutput.additionalContext;
  expect(r.json.hookSpecificOutput.hookEventName).toBe('SessionStart');
  expect(context).toContain(`${port}  dev/web-dev  persistent`);
  expect(context).not.toContain('elsewhere');
  expect(context).toContain('start -s dev -n NAME -- npm run dev');
  expect(context).toContain('why PORT');
});

test('styxy hook with an agent it has no hook for is a usage error', () => {
  const r = box.run(['hook', 'codex', '--json'], { input: '{}' });
  expect(r.json.error.code).toBe('INVALID_ARGUMENT');
});
