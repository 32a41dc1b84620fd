import * as fs from 'fs';
import * as path from 'path';
import { spawn, spawnSync } from 'child_process';
import { BIN, fillDisk, freePortBlock, killAndWait, sleeper, useSandbox, withTmpfs, type Sandbox } from '../helpers/cli';
import { hasPty, runInPty } from '../helpers/pty';

const box = useSandbox();

const STACK = /\n\s+at /;

describe('how a failure is reported comes from the parsed arguments (issue 14 item 15)', () => {
  test('a --json that is the value of --port-flag does not make the error JSON', () => {
    const r = box.run(['run', '-s', 'bad;name', '--port-flag', '--json', '--', 'node', '-e', '0']);
    expect(r.code).toBe(125);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^styxy: service type "bad;name"/);
  });

  test('on a usage error, yargs partial parse decides: --port-flag --json is still not --json', () => {
    const r = box.run(['run', '-s', 'dev', '--port-flag', '--json', '--bogus', '--', 'node']);
    expect(r.code).toBe(125);
    expect(r.stdout).toBe('');
    expect(r.stderr).toMatch(/^styxy: .*bogus/);
    // ...while a real --json on a refused line gives one JSON document, and --env gives false;.
    expect(box.run(['list', '--json', '--bogus']).json).toMatchObject({ success: false, error: { code: 'USAGE' } });
    const env = box.run(['allocate', '-s', 'dev', '--env', '--bogus']);
    expect(env.code).toBe(2);
    expect(env.stdout).toBe('false;\n');
  });

  test('list --verbose means more columns only; stack traces come with --debug or STYXY_DEBUG=1', () => {
    const verbose = box.run(['list', '--verbose', '-s', 'bad;name']);
    expect(verbose.code).toBe(3);
    expect(verbose.stderr).not.toMatch(STACK);
    const debug = box.run(['list', '--verbose', '--debug', '-s', 'bad;name']);
    expect(debug.code).toBe(3);
    expect(debug.stderr).toMatch(STACK);
    const env = box.run(['list', '-s', 'bad;name'], { env: { STYXY_DEBUG: '1' } });
    expect(env.stderr).toMatch(STACK);
    // --debug is a global option, on the yargs path too.
    expect(box.run(['config', 'validate', 'no-such-file.json', '--debug']).stderr).toMatch(STACK);
  });
});

describe('--json anywhere means one JSON document, for every usage error', () => {
  test.each([
    [['frob', '--json', 'x'], 'frob'],
    [['frob', 'x', '--json'], 'frob'],
    [['--json', 'frob'], 'frob'],
    [['config', 'get', '--json', 'x'], 'config get'],
    [['config', '--json', 'frob'], 'config frob'],
    [['config', 'auto-allocation', 'stat', '--json'], 'config auto-allocation stat'],
  ])('an unknown command or subcommand: styxy %j', (args, command) => {
    const r = box.run(args);
    expect(r.code).toBe(2);
    expect(r.json).toMatchObject({ success: false, error: { code: 'USAGE', details: { command } } });
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toBe('');
  });

  test.each([
    [['allocate', '--json', '--bogus']],
    [['config', 'set', '--json']],
    [['list', '--format', 'json', '--bogus']],
    [['release', '--format=json', '--bogus']],
  ])('any other usage error: styxy %j', (args) => {
    const r = box.run(args);
    expect([r.code, r.json?.error?.code, r.stderr]).toEqual([2, 'USAGE', '']);
  });

  test('a --json after -- belongs to the command run starts: the usage error stays text', () => {
    const r = box.run(['run', '-s', 'dev', '--bogus', '--', 'node', '--json']);
    expect([r.code, r.stdout]).toEqual([125, '']);
    expect(r.stderr).toMatch(/^styxy: /);
  });
});

describe('an unknown command is suggested only what it is a typo of', () => {
  test.each([
    ['allocat', 'allocate'],
    ['lsit', 'list'],
    ['relase', 'release'],
    ['Check', 'check'],
  ])('%s: did you mean %s', (word, meant) => {
    const r = box.run([word, '--json']);
    expect(r.json.error.code).toBe('USAGE');
    expect(r.json.error.suggestions[0]).toBe(`Did you mean: styxy ${meant}`);
  });

  test.each([['open'], ['frob'], ['start-server'], ['x']])('%s: no guess, only the help', (word) => {
    const r = box.run([word, '--json']);
    expect(r.json.error).toEqual({ code: 'USAGE', message: `Unknown command: ${word}`, details: { command: word }, suggestions: ['See: styxy --help'] });
  });

  test('config get: did you mean config set', () => {
    const r = box.run(['config', 'get', 'x']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('hint: Did you mean: styxy config set');
  });
});

describe('styxy run without -- (issue 14 item 14)', () => {
  test('says that the command goes after --', () => {
    const r = box.run(['run', '-s', 'dev', 'node', '-e', '1']);
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/^styxy: The command to run goes after --/);
    expect(r.stderr).toContain('styxy run -s dev -- node server.js');
    expect(box.run(['run', '-s', 'dev', 'node', '-e', '1', '--json']).json.error.code).toBe('USAGE');
  });
});

describe('a near miss of a known type is refused, not made a type (issue 14 item 9)', () => {
  const files = (b: Sandbox) => (fs.existsSync(b.home) ? fs.readdirSync(b.home).sort() : []);

  test.each([
    ['dve', 'dev'],
    ['Dev', 'dev'],
    ['databse', 'database'],
  ])('-s %s: did you mean %s? nothing written', (typo, type) => {
    box.run(['allocate', '-s', 'api', '--persistent']); // files exist, so "nothing written" means something
    const before = files(box);
    const state = fs.readFileSync(path.join(box.home, 'state.json'), 'utf8');
    const r = box.run(['allocate', '-s', typo, '--json']);
    expect(r.code).toBe(16);
    expect(r.json.error).toMatchObject({ code: 'SIMILAR_SERVICE_TYPE', details: { serviceType: typo, didYouMean: type } });
    expect(files(box)).toEqual(before);
    expect(fs.readFileSync(path.join(box.home, 'state.json'), 'utf8')).toBe(state);
    const human = box.run(['allocate', '-s', typo]);
    expect(human.stderr).toContain(`did you mean '${type}'?`);
    expect(human.stderr).toContain('--new-type');
    // styxy run refuses it too, before starting anything.
    const run = box.run(['run', '-s', typo, '--json', '--', 'node', '-e', 'process.stdout.write("started")']);
    expect([run.code, run.json.error.code]).toEqual([125, 'SIMILAR_SERVICE_TYPE']);
    expect(run.stdout).not.toContain('started');
  });

  test('--new-type creates it anyway; names far from every type are auto-allocated as before', () => {
    const r = box.run(['allocate', '-s', 'dve', '--new-type', '--json']);
    expect(r.code).toBe(0);
    expect(r.json).toMatchObject({ autoAllocated: true, serviceType: 'dve' });
    // From then on dve is a known type: no flag needed.
    expect(box.run(['allocate', '-s', 'dve', '--json']).json.autoAllocated).toBe(false);
    for (const name of ['grafana', 'jaeger']) expect(box.run(['allocate', '-s', name, '--json']).json).toMatchObject({ success: true, autoAllocated: true });
    // An auto-allocated type is known too: its typo is refused.
    expect(box.run(['allocate', '-s', 'grafna', '--json']).json.error).toMatchObject({ code: 'SIMILAR_SERVICE_TYPE', details: { didYouMean: 'grafana' } });
    const run = box.run(['run', '-s', 'Grafana', '--new-type', '--', 'node', '-e', 'process.stdout.write(process.env.STYXY_SERVICE_TYPE)']);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe('Grafana');
  });
});

describe('control characters from outside are shown escaped in human output (issue 14 item 7)', () => {
  // A window title, a clear screen, an OSC 52 clipboard write and a C1 CSI.
  const EVIL = '\u001b]0;pwned\u0007\u001b[2J\u001b]52;c;ZWNobyBwd25lZA==\u0007\u009b31m';
  // eslint-disable-next-line no-control-regex -- the test looks for raw control characters
  const RAW = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/; // any control character but the newline
  const ESCAPED = '\\x1b]0;pwned\\x07';

  const clean = (r: { stdout: string; stderr: string }) => {
    expect(r.stdout).not.toMatch(RAW);
    expect(r.stderr).not.toMatch(RAW);
  };

  test('config show: a type description', () => {
    box.writeConfig({ service_types: { evil: { port_range: [20000, 20009], description: `x${EVIL}` } } });
    const r = box.run(['config', 'show']);
    expect(r.code).toBe(0);
    clean(r);
    expect(r.stdout).toContain(`x${ESCAPED}`);
    // --json is for programs: the description is in it, as JSON escapes it.
    expect(box.run(['config', 'show', '--json']).json.config.service_types.evil.description).toBe(`x${EVIL}`);
  });

  test('list -v, check and scan: a command line and a path', async () => {
    const [port] = [await freePortBlock(1)];
    const project = path.join(box.dir, `p${EVIL}`);
    fs.mkdirSync(project);
    const server = spawn(process.execPath, ['-e', 'require("net").createServer().listen(+process.argv[1], "127.0.0.1")', String(port), EVIL], {
      stdio: 'ignore',
    });
    try {
      const deadline = Date.now() + 10_000;
      while (box.run(['check', String(port), '--json']).json?.listening !== true && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect(box.run(['allocate', '-s', 'dev', '--pid', String(server.pid), '--project', project, '--json']).code).toBe(0);
      const list = box.run(['list', '-v']);
      expect(list.code).toBe(0);
      clean(list);
      expect(list.stdout).toContain('\\x1b]0;pwned');
      const check = box.run(['check', String(port)]);
      clean(check);
      expect(check.stdout).toContain(ESCAPED);
      const scan = box.run(['scan', '--start', String(port), '--end', String(port)]);
      clean(scan);
      expect(scan.stdout).toContain(ESCAPED);
    } finally {
      await killAndWait(server);
    }
  });

  test('check: an owner whose command line starts with escapes', async () => {
    // Owner lines are cut at 60 characters: the escapes come first, so they are in what is shown.
    const owner = spawn('sleep', ['30'], { argv0: `x${EVIL}`, stdio: 'ignore' });
    try {
      const r = box.run(['allocate', '-s', 'dev', '--pid', String(owner.pid), '--json']);
      expect(r.code).toBe(0);
      const check = box.run(['check', String(r.json.port)]);
      expect(check.code).toBe(0);
      clean(check);
      expect(check.stdout).toContain(`Owner: PID ${owner.pid} (x${ESCAPED}`);
    } finally {
      await killAndWait(owner);
    }
  });

  test('doctor and error messages: a path', () => {
    const home = path.join(box.dir, `h${EVIL}`);
    expect(box.run(['allocate', '-s', 'dev', '--persistent'], { env: { STYXY_HOME: home } }).code).toBe(0);
    const doctor = box.run(['doctor'], { env: { STYXY_HOME: home } });
    clean(doctor);
    expect(doctor.stdout).toContain(ESCAPED);
    // A warning that quotes a path: the unusable state moved aside.
    fs.writeFileSync(path.join(home, 'state.json'), '{', { mode: 0o600 });
    const moved = box.run(['list'], { env: { STYXY_HOME: home } });
    expect(moved.stderr).toContain('state.json was unusable');
    clean(moved);
    expect(moved.stderr).toContain(ESCAPED);
    const missing = box.run(['config', 'validate', path.join(box.dir, `f${EVIL}.json`)]);
    expect(missing.code).toBe(8);
    clean(missing);
    expect(missing.stderr).toContain(ESCAPED);
  });
});

describe('hints recommend only what is safe; cleanup --force asks (issue 14 item 13)', () => {
  test('RANGE_EXHAUSTED hints: no cleanup --force; the config set they name works as printed', async () => {
    const base = await freePortBlock(2);
    box.writeConfig({ service_types: { web: { port_range: [base, base] } } });
    expect(box.run(['allocate', '-s', 'web', '--persistent']).code).toBe(0);
    const r = box.run(['allocate', '-s', 'web', '--json']);
    expect(r.json.error.code).toBe('RANGE_EXHAUSTED');
    const hints: string[] = r.json.error.suggestions;
    expect(hints.join('\n')).not.toMatch(/--force/);
    expect(hints.join('\n')).toContain('styxy list -v -s web');
    const widen = hints.map((h) => /styxy (config set \S+ \S+)$/.exec(h)?.[1]).find(Boolean) as string;
    expect(widen).toBe(`config set service-types.web.port-range ${base}-${base + 10}`);
    expect(box.run([...widen.split(' '), '--json']).code).toBe(0);
    expect(box.run(['allocate', '-s', 'web', '--json']).json).toMatchObject({ success: true, port: base + 1 });
  });

  test('doctor does not recommend cleanup --force for unused ports', () => {
    box.run(['allocate', '-s', 'dev', '--persistent']);
    const r = box.run(['doctor', '--json']);
    expect(JSON.stringify(r.json)).toContain('unused ports');
    expect(JSON.stringify(r.json)).not.toMatch(/--force/);
  });

  test('without a terminal, cleanup --force needs --yes: CONFIRMATION_REQUIRED, nothing dropped', async () => {
    const owner = sleeper();
    try {
      const persistent = box.run(['allocate', '-s', 'dev', '--persistent', '--json']).json;
      const live = box.run(['allocate', '-s', 'dev', '--pid', String(owner.pid), '--json']).json;
      const before = fs.readFileSync(path.join(box.home, 'state.json'), 'utf8');
      const r = box.run(['cleanup', '--force', '--json']);
      expect(r.code).toBe(7);
      expect(r.json.error.code).toBe('CONFIRMATION_REQUIRED');
      expect(r.json.error.details.wouldDrop.map((a: { lockId: string }) => a.lockId).sort()).toEqual([persistent.lockId, live.lockId].sort());
      const human = box.run(['cleanup', '--force']);
      expect(human.code).toBe(7);
      expect(human.stderr).toMatch(/1 persistent, 1 with a live owner/);
      expect(fs.readFileSync(path.join(box.home, 'state.json'), 'utf8')).toBe(before);
      const yes = box.run(['cleanup', '--force', '--yes', '--json']);
      expect(yes.code).toBe(0);
      expect(yes.json.unused).toHaveLength(2);
      expect(box.readState().allocations).toEqual([]);
      // Nothing to drop: no question, no --yes needed.
      expect(box.run(['cleanup', '--force', '--json']).code).toBe(0);
    } finally {
      await killAndWait(owner);
    }
  });

  (hasPty() ? test : test.skip)('on a terminal, cleanup --force lists what it drops and asks; only yes drops', async () => {
    const owner = sleeper();
    try {
      const persistent = box.run(['allocate', '-s', 'dev', '-n', 'keep', '--persistent', '--json']).json;
      box.run(['allocate', '-s', 'dev', '-n', 'served', '--pid', String(owner.pid), '--json']);
      const no = runInPty(box, ['cleanup', '--force'], { prompt: '[y/N]', answer: 'n' });
      expect(no.answered).toBe(true);
      expect(no.code).toBe(7);
      expect(no.output).toContain('would drop 2 allocation(s)');
      expect(no.output).toMatch(new RegExp(`${persistent.port}\\s+dev/keep\\s+persistent`));
      expect(no.output).toMatch(new RegExp(`dev/served\\s+owner PID ${owner.pid} \\(sleep 600\\), still running`));
      expect(box.readState().allocations).toHaveLength(2);
      const yes = runInPty(box, ['cleanup', '--force'], { prompt: '[y/N]', answer: 'y' });
      expect(yes.code).toBe(0);
      expect(yes.output).toContain(`Dropped port ${persistent.port} (dev/keep): nothing listening`);
      expect(box.readState().allocations).toEqual([]);
    } finally {
      await killAndWait(owner);
    }
  });
});

describe('the small ones (issue 14 item 14)', () => {
  const longest = (text: string) => Math.max(...text.split('\n').map((l) => l.length));

  test('a checkout without its build says it is not built and how to build, not a stack', () => {
    // What npm ci --ignore-scripts leaves: bin/ and no dist/.
    fs.mkdirSync(path.join(box.dir, 'checkout', 'bin'), { recursive: true });
    const bin = path.join(box.dir, 'checkout', 'bin', 'styxy');
    fs.copyFileSync(BIN, bin);
    const r = spawnSync(process.execPath, [bin, 'list'], { env: box.env, encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^styxy: not built: /);
    expect(r.stderr).toContain(`cd ${path.join(box.dir, 'checkout')} && npm run build`);
    expect(r.stderr).not.toMatch(/Cannot find module|\n\s+at /);
  });

  test('help piped with no terminal is not wrapped; COLUMNS sets a width', () => {
    const piped = box.run(['run', '--help'], { env: { COLUMNS: undefined } });
    expect(piped.code).toBe(0);
    expect(longest(piped.stdout)).toBeGreaterThan(200); // the epilog is one paragraph, one line
    const narrow = box.run(['run', '--help'], { env: { COLUMNS: '70' } });
    expect(longest(narrow.stdout)).toBeLessThanOrEqual(70);
  });

  (hasPty() ? test : test.skip)('help on a terminal uses its whole width, never narrower than 60', () => {
    const wide = runInPty(box, ['run', '--help'], { cols: 150, env: { COLUMNS: undefined } });
    expect(wide.code).toBe(0);
    expect(longest(wide.output)).toBeGreaterThan(100);
    expect(longest(wide.output)).toBeLessThanOrEqual(150);
    const tiny = runInPty(box, ['run', '--help'], { cols: 30, env: { COLUMNS: undefined } });
    expect(longest(tiny.output)).toBeGreaterThan(30);
    expect(longest(tiny.output)).toBeLessThanOrEqual(60);
  });

  test('-p outside the type range is granted and said so, on stderr and in --json', () => {
    const r = box.run(['allocate', '-s', 'dev', '-p', '5555', '--json']);
    expect(r.json).toMatchObject({ success: true, port: 5555, requestedPort: 5555, requestedPortNote: expect.stringContaining('outside the range') });
    const q = box.run(['allocate', '-s', 'dev', '-p', '5556', '-q']);
    expect(q.stdout).toBe('5556\n');
    expect(q.stderr).toBe("styxy: port 5556 is outside the range of 'dev' (3000-3099); allocated it as asked\n");
    // Inside the range nothing is said.
    expect(box.run(['allocate', '-s', 'dev', '-p', '3050', '-q']).stderr).toBe('');
  });

  test('doctor reports a home whose filesystem is full (a 256 KB tmpfs, as root)', () => {
    withTmpfs(box.dir, (mount) => {
      const env = { STYXY_HOME: path.join(mount, 'home') };
      expect(box.run(['allocate', '-s', 'api', '--persistent', '-q'], { env }).code).toBe(0);
      expect(box.run(['doctor', '--json'], { env }).json.checks).toContainEqual(expect.objectContaining({ name: 'disk', status: 'ok' }));
      const filler = fillDisk(mount);
      const r = box.run(['doctor', '--json'], { env });
      expect(r.code).toBe(15);
      expect(r.json.error.code).toBe('NEEDS_ATTENTION');
      expect(r.json.error.details.checks).toContainEqual(expect.objectContaining({ name: 'disk', status: 'fail' }));
      // What doctor foretells: an allocation fails.
      expect(box.run(['allocate', '-s', 'api', '--json'], { env }).json.error.code).toBe('WRITE_FAILED');
      fs.unlinkSync(filler);
      expect(box.run(['doctor', '--json'], { env }).code).toBe(0);
    });
  });
});
