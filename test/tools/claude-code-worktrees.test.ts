import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as http from 'http';
import * as path from 'path';
import { BIN, sandbox, type Sandbox } from '../helpers/cli';
import {
  approveProjects,
  claudeBox,
  claudeEnv,
  installClaude,
  messagesStandIn,
  nodeProject,
  runClaude,
  textOf,
  type Answer,
  type ClaudeBox,
  type ClaudeRun,
  type StandIn,
} from '../helpers/claude-code';

// The agents' promise end to end, in the real Claude Code CLI with one STYXY_HOME: three sessions in
// three checkouts of one repository (a clone and two `git worktree add`s) each ask for plain
// `npm run dev`, never told about Styxy; the hook gives each its own dev port, recorded with its
// own session, and each session's SessionEnd stops its own server and no other. A fourth session
// asking for a single-instance RAG server another agent runs is told where it runs, and no second
// one starts.

let skipped: string | null = null;
beforeAll(() => {
  skipped = installClaude();
  if (skipped) console.warn(`skipping the Claude Code worktree tests: ${skipped}`);
}, 660_000);

let box: Sandbox;
let cb: ClaudeBox;
beforeEach(() => {
  box = sandbox();
  cb = claudeBox(box);
});
afterEach(() => box.cleanup());

function git(cwd: string, ...args: string[]): void {
  const r = spawnSync('git', ['-c', 'user.name=Test', '-c', 'user.email=test@example.invalid', ...args], { cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`);
}

function styxy(args: string[], cwd = box.cwd): ReturnType<typeof spawnSync> & { stdout: string; stderr: string } {
  return spawnSync(process.execPath, [BIN, ...args], { cwd, env: claudeEnv(cb), encoding: 'utf8' });
}

interface Allocation {
  port: number;
  serviceType: string;
  instanceId: string;
  session?: string;
  project: string;
}
const allocations = (type: string): Allocation[] => JSON.parse(styxy(['list', '-s', type, '--json']).stdout).allocations;

/** What an HTTP GET on 127.0.0.1:port gets: the body, or null when nothing answers. */
function get(port: number): Promise<string | null> {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: '/', timeout: 3000 }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve(body));
    });
    req.on('error', () => resolve(null));
    req.on('timeout', () => req.destroy());
  });
}

function deferred<T = void>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** The port in a tool result of `styxy start`, from the URL it prints. */
const portOf = (text: string): number => Number(/https?:\/\/[^\s:/]+:(\d+)/.exec(text)?.[1] ?? 0);

/**
 * One session of `npm run dev` then `curl` through Bash, held open after the curl until `end()`:
 * the stand-in answers its last turn only then, so the test looks while the session still runs.
 */
interface HeldSession {
  checkout: string;
  standIn: StandIn;
  /** Resolves when the session has its curl result and waits for its last answer. */
  holding: Promise<void>;
  end: () => void;
  run?: Promise<ClaudeRun>;
  commands: string[];
}

async function heldSession(checkout: string): Promise<HeldSession> {
  const holding = deferred();
  const release = deferred<Answer>();
  const commands: string[] = [];
  const bash = (command: string, description: string): Answer => {
    commands.push(command);
    return { tool: { name: 'Bash', input: { command, description } } };
  };
  const standIn = await messagesStandIn([
    () => bash('npm run dev', 'Start the dev server'),
    (results) => bash(`curl -s http://127.0.0.1:${portOf(textOf(results[0]!))}/`, 'Ask the server'),
    () => {
      holding.resolve();
      return release.promise;
    },
  ]);
  return { checkout, standIn, holding: holding.promise, end: () => release.resolve({ text: 'The dev server runs.' }), commands };
}

test('three sessions in three worktrees: three dev ports, each with its session; SessionEnd stops each own; a running RAG server is reported, not doubled', async () => {
  if (skipped) return;
  const started = Date.now();
  // One repository, two worktrees of it: three checkouts, the hook and MCP server committed.
  const main = box.cwd;
  nodeProject(main);
  expect(styxy(['agent', 'install', 'claude-code'], main).status).toBe(0);
  git(main, 'add', '-A');
  git(main, 'commit', '-q', '-m', 'app');
  const checkouts = [main, path.join(box.dir, 'wt-a'), path.join(box.dir, 'wt-b')];
  git(main, 'worktree', 'add', '-q', checkouts[1]!, '-b', 'a');
  git(main, 'worktree', 'add', '-q', checkouts[2]!, '-b', 'b');
  for (const c of checkouts) expect(fs.existsSync(path.join(c, '.claude', 'settings.json'))).toBe(true);
  approveProjects(cb, checkouts);

  const sessions: HeldSession[] = [];
  let rag: StandIn | undefined;
  try {
    // One session after another, each held open after its curl: all three servers run at once.
    for (const checkout of checkouts) {
      const s = await heldSession(checkout);
      sessions.push(s);
      s.run = runClaude(cb, checkout, s.standIn.url, ['Bash']);
      await Promise.race([s.holding, s.run.then((r) => Promise.reject(new Error(`session in ${checkout} ended early: ${r.stderr.slice(-500)}`)))]);
    }
    // No agent was told about Styxy: the model asked for npm run dev and curl, nothing else.
    for (const s of sessions) {
      expect(s.commands[0]).toBe('npm run dev');
      expect(s.commands.join(' ')).not.toMatch(/styxy/i);
    }
    const results = sessions.map((s) => s.standIn.results.map(textOf));
    console.log(`tool results the sessions saw:\n${sessions.map((s, i) => `[${path.basename(s.checkout)}]\n${results[i]!.join('\n---\n')}`).join('\n===\n')}`);
    const ports = results.map(([start]) => portOf(start!));
    for (const [i, [start, curl]] of results.entries()) {
      // The hook ran npm run dev under styxy start: back at once with the port, URL and PID.
      expect(ports[i]).toBeGreaterThanOrEqual(3000);
      expect(ports[i]).toBeLessThanOrEqual(3099);
      expect(start).toMatch(/pid/i);
      // The session itself reached its server through Bash.
      expect(curl).toContain('hello from the app');
    }
    expect(new Set(ports).size).toBe(3);
    // Three servers listen at once, each answering, each allocation with a session of its own.
    for (const p of ports) expect(await get(p)).toBe('hello from the app');
    const dev = allocations('dev');
    expect(dev.map((a) => a.port).sort()).toEqual([...ports].sort());
    const sessionOf = ports.map((p) => dev.find((a) => a.port === p)!.session);
    for (const s of sessionOf) expect(s).toMatch(/^claude-code:[0-9a-f-]{36}$/);
    expect(new Set(sessionOf).size).toBe(3);

    // SessionEnd, one session at a time: its own server stops and its allocation goes; the
    // others' servers keep running until their own sessions end.
    for (const [i, s] of sessions.entries()) {
      s.end();
      const r = await s.run!;
      expect(r.events[r.events.length - 1]).toMatchObject({ type: 'result', subtype: 'success' });
      expect(sessionOf[i]).toBe(`claude-code:${r.session}`);
      expect(await get(ports[i]!)).toBeNull();
      const left = allocations('dev');
      expect(left.map((a) => a.port).sort()).toEqual(ports.slice(i + 1).sort());
      for (const p of ports.slice(i + 1)) expect(await get(p)).toBe('hello from the app');
    }

    // Another agent runs the single-instance RAG server; a fourth session asks for it too.
    const first = styxy(['start', '-s', 'ai', '-n', 'rag', '--json', '--', 'python3', '-m', 'http.server', '--bind', '127.0.0.1'], main);
    expect(first.status).toBe(0);
    const ragStart = JSON.parse(first.stdout) as { port: number; pid: number };
    rag = await messagesStandIn([
      () => ({
        tool: { name: 'Bash', input: { command: 'styxy start -s ai -n rag -- python3 -m http.server --bind 127.0.0.1', description: 'Start the RAG server' } },
      }),
      () => ({ text: 'The RAG server runs.' }),
    ]);
    const fourth = await runClaude(cb, checkouts[1]!, rag.url, ['Bash']);
    expect(fourth.events[fourth.events.length - 1]).toMatchObject({ type: 'result', subtype: 'success' });
    const told = rag.results.map(textOf).join('\n');
    console.log(`tool result the RAG session saw:\n${told}`);
    // The model was told where it runs: its port and PID, and that nothing was started.
    expect(told).toContain(String(ragStart.port));
    expect(told).toContain(String(ragStart.pid));
    expect(told).toMatch(/already running/);
    // One RAG server, the first, still runs after the fourth session ended: not its to stop.
    const ai = allocations('ai');
    expect(ai).toHaveLength(1);
    expect(ai[0]).toMatchObject({ port: ragStart.port, instanceId: 'rag' });
    expect(await get(ragStart.port)).not.toBeNull();
    console.log(`runtime of the sessions: ${((Date.now() - started) / 1000).toFixed(1)} s`);
  } finally {
    // Whatever the outcome, no session is left waiting and nothing started outlives the test.
    for (const s of sessions) s.end();
    await Promise.all(sessions.map((s) => s.run));
    await Promise.all([...sessions.map((s) => s.standIn.close()), rag?.close()]);
    for (const a of [...allocations('dev'), ...allocations('ai')]) styxy(['stop', String(a.port)]);
  }
}, 240_000);
