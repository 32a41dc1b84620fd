import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { BIN, sandbox, sleeper, killAndWait, useSandbox, type Sandbox } from '../helpers/cli';
import { callRecorder } from '../helpers/recorder';

/**
 * Hostile input and hostile files: every refusal is INVALID_ARGUMENT (or INVALID_CONFIG for a
 * config file), nothing is written, nothing appears outside $STYXY_HOME, no command runs.
 */

const box = useSandbox();

/** Every file under a directory, relative to it. */
function tree(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return (fs.readdirSync(dir, { recursive: true }) as string[]).sort();
}

const canary = () => path.join(box.dir, 'PWNED');

// The home every hostile call below meets: a persistent allocation and a config setting, made
// once by the real CLI and copied into each test's home (two CLIs per case only seeded it).
let template: Sandbox;
beforeAll(() => {
  template = sandbox();
  expect(template.run(['allocate', '-s', 'api', '--persistent', '-q']).code).toBe(0);
  expect(template.run(['config', 'set', 'auto-allocation.gap-size', '7']).code).toBe(0);
});
afterAll(() => template.cleanup());

/** The template's home as this test's, its project directory named as this test's. */
function seedHome(): void {
  fs.cpSync(template.home, box.home, { recursive: true });
  for (const file of tree(box.home)) {
    const full = path.join(box.home, file);
    const text = fs.readFileSync(full, 'utf8');
    if (text.includes(template.cwd)) fs.writeFileSync(full, text.split(template.cwd).join(box.cwd));
  }
}

// Shell metacharacters aim at the canary file (CANARY is replaced by its path in each test): a
// value that reached a shell would create it.
const hostile: Array<[string, string]> = [
  ['command substitution', '$(touch CANARY)'],
  ['backticks', '`touch CANARY`'],
  ['a semicolon', 'x;touch CANARY'],
  ['a pipe', 'x|touch CANARY'],
  ['quotes', `x'"; touch CANARY; '`],
  ['a parent path', '../escape'],
  ['a deep parent path', '../../../../../../tmp/styxy-escape'],
  ['an absolute path', '/tmp/styxy-escape'],
  ['NFC unicode', 'caf\u00e9'],
  ['NFD unicode', 'cafe\u0301'],
  ['10 000 characters', 'a'.repeat(10_000)],
  ['__proto__', '__proto__'],
  ['constructor', 'constructor'],
  ['toString', 'toString'],
  ['a trailing newline', 'dev\n'],
  ['a leading dash', '-rf'],
  ['a space', 'my service'],
  ['empty', ''],
];

describe.each([
  ['allocate -s', (v: string) => ['allocate', '-s', v, '--json']],
  ['allocate -n', (v: string) => ['allocate', '-s', 'dev', '-n', v, '--json']],
  ['allocate --env-name', (v: string) => ['allocate', '-s', 'dev', '--env-name', v, '--json']],
  ['config set service-types.<name>', (v: string) => ['config', 'set', `service-types.${v}.instance-behavior`, 'single', '--json']],
  ['config auto-allocation set-rule', (v: string) => ['config', 'auto-allocation', 'set-rule', v, '--chunk-size', '5', '--json']],
  ['release', (v: string) => ['release', v, '--json']],
])('%s', (where, argv) => {
  test.each(hostile)('%s is refused and changes nothing', (_what, template) => {
    const value = template.replace('CANARY', canary());
    // A home with a state and a config already in it: they must come out byte-identical.
    seedHome();
    const before = Object.fromEntries(tree(box.home).map((f) => [f, fs.readFileSync(path.join(box.home, f))]));
    const outside = tree(box.dir);
    const r = box.run(argv(value));
    // A leading dash reads as an option (a usage error); `release` of a well-formed but unknown
    // id is NOT_FOUND; every other value is malformed.
    const expected =
      argv(value).includes(value) && value.startsWith('-') ? ['USAGE'] : where === 'release' ? ['INVALID_ARGUMENT', 'NOT_FOUND'] : ['INVALID_ARGUMENT'];
    expect(expected).toContain(r.json?.error?.code);
    expect(r.code).toBe({ USAGE: 2, INVALID_ARGUMENT: 3, NOT_FOUND: 8 }[r.json.error.code as string]);
    expect(r.stdout.split('\n').filter(Boolean)).toHaveLength(1);
    expect(fs.existsSync(canary())).toBe(false);
    expect(fs.existsSync('/tmp/styxy-escape')).toBe(false);
    expect(tree(box.dir)).toEqual(outside);
    expect(Object.fromEntries(tree(box.home).map((f) => [f, fs.readFileSync(path.join(box.home, f))]))).toEqual(before);
  });
});

test('the canary works: a shell handed one of these values would have created it', () => {
  // A sanity check that the canary would fire if a value reached a shell.
  spawnSync('sh', ['-c', `echo $(touch ${canary()})`]);
  expect(fs.existsSync(canary())).toBe(true);
});

describe('hostile config files', () => {
  test.each([
    ['a __proto__ service type', '{"service_types": {"__proto__": {"port_range": [20000, 20009]}}}'],
    ['a constructor service type', '{"service_types": {"constructor": {"port_range": [20000, 20009]}}}'],
    ['a NUL inside a name', '{"service_types": {"a\\u0000b": {"port_range": [20000, 20009]}}}'],
    ['a __proto__ at the top', '{"__proto__": {"polluted": true}}'],
    ['a __proto__ rule', '{"auto_allocation_rules": {"__proto__": {"chunk_size": 5}}}'],
    ['nesting 100 000 deep', `{"service_types": ${'['.repeat(100_000)}${']'.repeat(100_000)}}`],
  ])('%s: INVALID_CONFIG naming the file, the file untouched, no object polluted', (_what, text) => {
    fs.mkdirSync(box.home, { mode: 0o700 });
    const file = path.join(box.home, 'config.json');
    fs.writeFileSync(file, text, { mode: 0o600 });
    for (const argv of [
      ['allocate', '-s', 'dev', '--json'],
      ['config', 'validate', '--json'],
      ['config', 'show', '--json'],
    ]) {
      const r = box.run(argv);
      expect(r.json.error.code).toBe('INVALID_CONFIG');
      expect(r.code).toBe(9);
      expect(r.json.error.message).toContain(file);
    }
    expect(fs.readFileSync(file, 'utf8')).toBe(text);
    expect(fs.existsSync(path.join(box.home, 'state.json'))).toBe(false);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  test('a config file of 5 MB is refused unread, with its size', () => {
    fs.mkdirSync(box.home, { mode: 0o700 });
    const file = path.join(box.home, 'config.json');
    fs.writeFileSync(file, `{"service_types": {}, "x": "${'y'.repeat(5 * 1024 * 1024)}"}`, { mode: 0o600 });
    const r = box.run(['allocate', '-s', 'dev', '--json']);
    expect(r.json.error.code).toBe('INVALID_CONFIG');
    expect(r.json.error.message).toMatch(/too large: 5\.0 MB, over the 4\.0 MB limit/);
  });
});

describe('oversized and hostile state', () => {
  const statePath = () => path.join(box.home, 'state.json');
  const write = (text: string) => {
    fs.mkdirSync(box.home, { mode: 0o700, recursive: true });
    fs.writeFileSync(statePath(), text, { mode: 0o600 });
  };

  test.each([
    ['50 MB', () => `{"version": 1, "allocations": [], "pad": "${'x'.repeat(50 * 1024 * 1024)}"}`, /50\.0 MB, over the 16\.0 MB limit/],
    ['nested 200 000 deep', () => `{"version": 1, "allocations": ${'['.repeat(200_000)}${']'.repeat(200_000)}}`, /does not match the state schema/],
    ['a __proto__ key', () => '{"version": 1, "allocations": [], "__proto__": {"polluted": true}}', /does not match the state schema/],
  ])('%s: moved aside whole, reported, and the call goes on', (_what, make, reason) => {
    const text = make();
    write(text);
    const started = Date.now();
    const r = box.run(['allocate', '-s', 'dev', '--json']);
    const took = Date.now() - started;
    console.log(`state ${_what}: handled in ${took} ms`);
    expect(r.code).toBe(0);
    expect(r.json.success).toBe(true);
    expect(r.stderr).toMatch(reason);
    const aside = fs.readdirSync(box.home).filter((f) => f.startsWith('state.json.corrupt-'));
    expect(aside).toHaveLength(1);
    // Nothing the user had is lost: the odd file is kept byte for byte.
    expect(fs.statSync(path.join(box.home, aside[0] as string)).size).toBe(Buffer.byteLength(text));
    expect(box.readState().allocations).toHaveLength(1);
    expect(box.run(['doctor', '--json']).code).toBe(0);
  });

  test('doctor reports an oversized state without moving it', () => {
    write(`{"version": 1, "allocations": [], "pad": "${'x'.repeat(17 * 1024 * 1024)}"}`);
    const r = box.run(['doctor', '--json']);
    expect(r.code).not.toBe(0);
    expect(JSON.stringify(r.json)).toMatch(/over the 16\.0 MB limit/);
    expect(fs.existsSync(statePath())).toBe(true);
  });
});

describe('owners: PID reuse, age', () => {
  test('an owner whose PID now belongs to another process (start time differs) is pruned', async () => {
    const owner = sleeper();
    const a = box.run(['allocate', '-s', 'dev', '--pid', String(owner.pid), '--json']).json;
    // The same PID, but a process that started at another time: what a reused PID looks like.
    const state = box.readState();
    state.allocations[0].owner.startTime = String(Number(a.owner.startTime) + 1);
    fs.writeFileSync(path.join(box.home, 'state.json'), JSON.stringify(state));
    expect(box.run(['list', '--json']).json).toMatchObject({ allocations: [], pruned: 1 });
    await killAndWait(owner);
  });

  test('a live owner is kept however old its allocation is', async () => {
    const owner = sleeper();
    box.run(['allocate', '-s', 'dev', '--pid', String(owner.pid), '--json']);
    const state = box.readState();
    state.allocations[0].allocatedAt = '2001-01-01T00:00:00.000Z';
    fs.writeFileSync(path.join(box.home, 'state.json'), JSON.stringify(state));
    const list = box.run(['list', '--json']).json;
    expect(list.pruned).toBe(0);
    expect(list.allocations).toHaveLength(1);
    expect(box.run(['cleanup', '--json']).json.allocations ?? []).not.toContainEqual(expect.objectContaining({ lockId: state.allocations[0].lockId }));
    expect(box.readState().allocations).toHaveLength(1);
    await killAndWait(owner);
  });
});

describe('a read-only home, as a user who is not root', () => {
  const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const hasSetpriv = spawnSync('setpriv', ['--version']).status === 0;

  (asRoot && hasSetpriv ? test : test.skip)('fails at once with WRITE_FAILED naming the home: one refused write, no retry, no wait; nothing changed', () => {
    expect(box.run(['allocate', '-s', 'dev', '--persistent', '-q']).code).toBe(0);
    // Hand the sandbox to nobody, then take write permission away from them.
    fs.chmodSync(box.dir, 0o755);
    spawnSync('chown', ['-R', '65534:65534', box.home]);
    for (const f of fs.readdirSync(box.home)) fs.chmodSync(path.join(box.home, f), 0o400);
    fs.chmodSync(box.home, 0o500);
    const before = tree(box.home);
    const recorder = callRecorder(path.join(box.dir, 'record'));
    const r = spawnSync(
      'setpriv',
      ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '-r', recorder.preload, BIN, 'allocate', '-s', 'dev', '--json'],
      // A deadline far longer than the test's: a call that waited for the lock would not come back.
      { env: { ...box.env, STYXY_LOCK_TIMEOUT_MS: '600000' }, cwd: '/', encoding: 'utf8' },
    );
    const out = JSON.parse(r.stdout);
    expect(out.error.code).toBe('WRITE_FAILED');
    expect(r.status).toBe(13);
    expect(out.error.message).toContain('EACCES');
    expect(out.error.suggestions.join(' ')).toContain(box.home);
    // No retry storm: a permission error is final. One write was tried and refused, and no
    // timer was armed to try again or to wait for the lock.
    const { throws, timers } = recorder.read();
    expect(throws.filter((t) => t.includes(' EACCES ') && t.includes(box.home))).toEqual([
      expect.stringMatching(new RegExp(`^mkdirSync EACCES ${box.home}/state\\.json\\.lock\\.new-`)),
    ]);
    expect(timers).toEqual([]);
    expect(tree(box.home)).toEqual(before);
  });
});
