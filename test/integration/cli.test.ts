import * as fs from 'fs';
import * as path from 'path';
import { spawnSync } from 'child_process';
import { BIN, useSandbox } from '../helpers/cli';

const box = useSandbox();

const STACK = /\n\s+at /;

describe('how a failure is reported comes from the parsed arguments', () => {
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
    // Known commands outside the everyday table: their usage errors are not "Unknown command".
    [['agent', 'install', '--json']],
    [['agent', 'install', 'claude-code', '--user', '--project', '--json']],
    [['hook', '--json']],
    [['up', '--json', '--bogus']],
  ])('any other usage error: styxy %j', (args) => {
    const r = box.run(args);
    expect([r.code, r.json?.error?.code, r.stderr]).toEqual([2, 'USAGE', '']);
    expect(r.json.error.details?.command).toBeUndefined();
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

describe('styxy run without --', () => {
  test('says that the command goes after --', () => {
    const r = box.run(['run', '-s', 'dev', 'node', '-e', '1']);
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/^styxy: The command to run goes after --/);
    expect(r.stderr).toContain('styxy run -s dev -- node server.js');
    expect(box.run(['run', '-s', 'dev', 'node', '-e', '1', '--json']).json.error.code).toBe('USAGE');
  });
});

describe('a checkout without its build', () => {
  test('says it is not built and how to build, not a stack', () => {
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
});
