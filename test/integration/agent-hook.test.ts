import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as http from 'http';
import * as path from 'path';
import { MAYBE_SERVER } from '../../lib/core/agent-hook';
import { BIN, ROOT, useSandboxAndStrays, waitFor } from '../helpers/cli';

// `styxy hook claude-code` as Claude Code runs it: the hook's JSON on stdin, the answer on stdout.

const { box, strays } = useSandboxAndStrays();

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

test('where Claude Code gives its commands the session (CLAUDE_CODE_SESSION_ID), the rewrite leaves it to start: a permission rule can match it', () => {
  const same = hook(preToolUse('cd web && npm run dev'), { CLAUDE_CODE_SESSION_ID: '3f2a-77' });
  expect(same.json.hookSpecificOutput.updatedInput.command).toBe(`cd web && ${BIN} start -s dev -n web-dev -- npm run dev`);
  const other = hook(preToolUse('cd web && npm run dev'), { CLAUDE_CODE_SESSION_ID: 'another' });
  expect(other.json.hookSpecificOutput.updatedInput.command).toBe(`cd web && STYXY_SESSION=claude-code:3f2a-77 ${BIN} start -s dev -n web-dev -- npm run dev`);
  // A STYXY_SESSION exported around Claude Code would win in start: the session goes in front.
  const stale = hook(preToolUse('cd web && npm run dev'), { CLAUDE_CODE_SESSION_ID: '3f2a-77', STYXY_SESSION: 'old-shell' });
  expect(stale.json.hookSpecificOutput.updatedInput.command).toBe(`cd web && STYXY_SESSION=claude-code:3f2a-77 ${BIN} start -s dev -n web-dev -- npm run dev`);
});

test('a dev server start comes back as updatedInput under styxy start, with the session, and grants nothing', () => {
  const r = hook(preToolUse('cd web && npm run dev > dev.log 2>&1 &', { run_in_background: true }));
  expect([r.code, r.stderr]).toEqual([0, '']);
  expect(r.json).toEqual({
    hookSpecificOutput: {
      hookEventName: 'PreToolUse',
      updatedInput: {
        command: `cd web && STYXY_SESSION=claude-code:3f2a-77 ${BIN} start -s dev -n web-dev -- sh -c 'exec npm run dev -- --port {port} --strictPort > dev.log 2>&1'`,
        description: 'Start the dev server',
        timeout: 120000,
      },
    },
  });
  expect(JSON.stringify(r.json)).not.toContain('permissionDecision');
});

test("a script is named after its package's folder, wherever below it the agent stands: one server, not two", () => {
  fs.mkdirSync(path.join(box.cwd, 'web', 'src'));
  const fromSrc = hook(JSON.stringify({ ...JSON.parse(preToolUse('npm run dev')), cwd: path.join(box.cwd, 'web', 'src') }));
  expect(fromSrc.json.hookSpecificOutput.updatedInput.command).toContain(' start -s dev -n web-dev -- npm run dev');
  expect(hook(preToolUse('cd web/src && npm run dev')).json.hookSpecificOutput.updatedInput.command).toContain(' -n web-dev ');
  // A tool serves the folder it runs in: that folder names it.
  expect(hook(preToolUse('cd web/src && npx vite')).json.hookSpecificOutput.updatedInput.command).toContain(' -n web-src-vite ');
});

const hasVite = fs.existsSync(path.join(ROOT, 'node_modules', '.bin', 'vite'));

(hasVite ? test : test.skip)(
  'the rewritten `cd web && npm run dev > dev.log 2>&1 &` serves Vite on its Styxy port at once, its output in dev.log',
  async () => {
    // Behind `sh -c`, start cannot see Vite, which ignores PORT: the hook gives it its port flag.
    const web = path.join(box.cwd, 'web');
    fs.writeFileSync(path.join(web, 'index.html'), '<p>served by vite</p>\n');
    fs.writeFileSync(path.join(web, 'vite.config.mjs'), "export default { cacheDir: '.vite-cache', clearScreen: false, server: { host: '127.0.0.1' } };\n");
    fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(web, 'node_modules'), 'dir');
    const line: string = hook(preToolUse('cd web && npm run dev > dev.log 2>&1 &')).json.hookSpecificOutput.updatedInput.command;
    const r = spawnSync('bash', ['-c', line], { cwd: box.cwd, env: { ...box.env, npm_config_update_notifier: 'false' }, encoding: 'utf8', timeout: 40_000 });
    const pid = Number(/^pid: (\d+)$/m.exec(r.stdout)?.[1]);
    if (pid) strays.push(pid);
    expect([r.status, r.stderr]).toEqual([0, '']);
    const port = Number(/^port: (\d+)$/m.exec(r.stdout)?.[1]);
    const body = await new Promise<string>((resolve, reject) =>
      http
        .get({ host: '127.0.0.1', port, path: '/' }, (res) => {
          let text = '';
          res.on('data', (d) => (text += d));
          res.on('end', () => resolve(text));
        })
        .on('error', reject),
    );
    expect(body).toContain('served by vite');
    expect(box.run(['list', '--json']).json.allocations).toMatchObject([{ port, instanceId: 'web-dev', session: 'claude-code:3f2a-77' }]);
    await waitFor("Vite's output in dev.log", () => fs.readFileSync(path.join(web, 'dev.log'), 'utf8').includes(`${port}`) || undefined, 10_000);
    expect(box.run(['stop', String(port), '--json']).json).toMatchObject({ success: true });
  },
  60_000,
);

test.each([
  ['not JSON', 'npm run dev'],
  ['empty', ''],
  ['an array', '[]'],
  ['no event', '{"tool_name":"Bash","tool_input":{"command":"npm run dev"}}'],
  ['another tool', JSON.stringify({ hook_event_name: 'PreToolUse', tool_name: 'Write', tool_input: { command: 'npm run dev' } })],
  ['no command', JSON.stringify({ hook_event_name: 'PreToolUse', tool_name: 'Bash', tool_input: {} })],
  ['a null tool input', JSON.stringify({ hook_event_name: 'PreToolUse', tool_name: 'Bash', tool_input: null })],
  ['JSON null', 'null'],
  ['a command that is not text', JSON.stringify({ hook_event_name: 'PreToolUse', tool_name: 'Bash', tool_input: { command: ['npm', 'run', 'dev'] } })],
  ['another event', JSON.stringify({ hook_event_name: 'PostToolUse', tool_name: 'Bash', tool_input: { command: 'npm run dev' } })],
  ['truncated', JSON.stringify({ hook_event_name: 'PreToolUse', tool_name: 'Bash', tool_input: { command: 'npm run dev' } }).slice(0, 60)],
])('a malformed or foreign input (%s) exits 0 and prints nothing', (_what, input) => {
  const r = hook(input);
  expect([r.code, r.stdout, r.stderr]).toEqual([0, '', '']);
});

test("bin/styxy's first test of a command (dist/hook-gate.txt) is the matcher's own, written by the build", () => {
  const gate = fs.readFileSync(path.join(path.dirname(BIN), '..', 'dist', 'hook-gate.txt'), 'utf8');
  expect(gate).toBe(MAYBE_SERVER.source);
  expect(MAYBE_SERVER.flags).toBe('');
});

test.each([
  ['a command that starts no server', 'cd web && npm run build', {}],
  ['the per-command opt-out', 'cd web && STYXY_HOOK=off npm run dev', {}],
  ['the opt-out comment', 'cd web && npm run dev # styxy:off', {}],
  ['STYXY_HOOK=off in the environment', 'cd web && npm run dev', { STYXY_HOOK: 'off' }],
  ['a script package.json does not have', 'npm run dev', {}],
  ['a PORT exported before it', 'export PORT=4000 && cd web && npm run dev', {}],
  ['a help request', 'cd web && npm run dev -- --help', {}],
])('%s: left alone, nothing printed', (_what, command, env) => {
  const r = hook(preToolUse(command), env);
  expect([r.code, r.stdout, r.stderr]).toEqual([0, '', '']);
});

test('a dev script that only watches (tsup --watch) is left alone: it never listens, start would end it', () => {
  fs.mkdirSync(path.join(box.cwd, 'lib'));
  fs.writeFileSync(path.join(box.cwd, 'lib', 'package.json'), JSON.stringify({ scripts: { dev: 'tsup --watch' } }));
  const r = hook(preToolUse('cd lib && npm run dev &'));
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

describe('SessionEnd', () => {
  const end = (session: string, env: NodeJS.ProcessEnv = {}) =>
    hook(JSON.stringify({ session_id: session, cwd: box.cwd, hook_event_name: 'SessionEnd', reason: 'prompt_input_exit' }), env);

  async function startServer(session: string): Promise<{ port: number; pid: number }> {
    fs.writeFileSync(path.join(box.cwd, 'server.js'), "require('http').createServer((q, s) => s.end('hi')).listen(Number(process.env.PORT), '127.0.0.1');\n");
    const r = box.run(['start', '-s', 'dev', '-n', `app-${session}`, '--json', '--', process.execPath, 'server.js'], {
      env: { STYXY_SESSION: `claude-code:${session}` },
    });
    expect(r.json).toMatchObject({ success: true, started: true });
    return { port: r.json.port, pid: r.json.pid };
  }

  /** Running, and not a zombie waiting for its (re-parented) parent to reap it. */
  const alive = (pid: number) => {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
      return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
    } catch {
      return false;
    }
  };

  test("stops what this session started, owner-verified, and leaves another session's", async () => {
    const mine = await startServer('s1');
    const theirs = await startServer('s2');
    try {
      const r = end('s1');
      expect([r.code, r.stdout, r.stderr]).toEqual([0, '', '']);
      expect(alive(mine.pid)).toBe(false);
      expect(box.run(['list', '--json']).json.allocations.map((a: { port: number }) => a.port)).toEqual([theirs.port]);
      expect(alive(theirs.pid)).toBe(true);
    } finally {
      for (const pid of [mine.pid, theirs.pid]) if (alive(pid)) process.kill(pid, 'SIGKILL');
    }
  });

  test('keeps them with STYXY_KEEP_SERVERS=1 or "agents": {"keep_servers": true}', async () => {
    const server = await startServer('s1');
    try {
      end('s1', { STYXY_KEEP_SERVERS: '1' });
      expect(alive(server.pid)).toBe(true);
      fs.writeFileSync(path.join(box.cwd, '.styxy.json'), JSON.stringify({ agents: { keep_servers: true } }));
      end('s1');
      expect(alive(server.pid)).toBe(true);
      expect(box.run(['list', '--json']).json.allocations).toHaveLength(1);
    } finally {
      if (alive(server.pid)) process.kill(server.pid, 'SIGKILL');
    }
  });
});
