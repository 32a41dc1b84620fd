import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { parse as parseDotenv } from 'dotenv';
import { BIN, useSandboxAndStrays } from '../helpers/cli';
import { readPowershellAssignments } from '../helpers/powershell';

/**
 * `--format` is the one output axis; `--json`, `--env` and `-q` are its shorthands. Each command
 * has the formats docs/cli.md lists, every reader gets the same variables, and a line whose
 * flags disagree is refused before anything is allocated.
 */

const { box, strays: servers } = useSandboxAndStrays();

const styxy = `node ${BIN}`;
const allocations = () => box.run(['list', '--json']).json.allocations as { port: number; lockId: string; owner: { pid?: number } }[];
const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;

/** The variables a POSIX shell has after `eval "$(…)"` of `statements`, by name. */
function readByShell(shell: string[], source: string, names: readonly string[]): Record<string, string> {
  const print = names.map((n) => `printf '%s\\0' "$${n}"`).join('; ');
  const r = spawnSync(shell[0] as string, [...shell.slice(1), `${source}; ${print}`], { encoding: 'utf8', env: box.env, cwd: box.cwd });
  expect(r.stderr).toBe('');
  const values = r.stdout.split('\0').slice(0, -1);
  return Object.fromEntries(names.map((n, i) => [n, values[i] as string]));
}

describe('allocate: every format, and the shorthands say the same', () => {
  beforeEach(() => {
    // The first call makes the sticky allocation; every call after it gets it back alike.
    expect(box.run(['allocate', '-s', 'dev', '-n', 'web', '--json']).code).toBe(0);
  });

  test('--format json is --json, --format port is -q, --format env and posix are --env, --format url is the URL', () => {
    const json = box.run(['allocate', '-s', 'dev', '-n', 'web', '--json']);
    const formatJson = box.run(['allocate', '-s', 'dev', '-n', 'web', '--format', 'json']);
    expect(formatJson.code).toBe(0);
    expect(formatJson.json).toEqual({ ...json.json, pruned: formatJson.json.pruned });
    const port = String(json.json.port);
    expect(box.run(['allocate', '-s', 'dev', '-n', 'web', '--format', 'port']).stdout).toBe(`${port}\n`);
    expect(box.run(['allocate', '-s', 'dev', '-n', 'web', '-q']).stdout).toBe(`${port}\n`);
    expect(box.run(['allocate', '-s', 'dev', '-n', 'web', '--format=url']).stdout).toBe(`${json.json.url}\n`);
    const env = box.run(['allocate', '-s', 'dev', '-n', 'web', '--env']).stdout;
    expect(env).toContain(`export PORT='${port}';`);
    expect(box.run(['allocate', '-s', 'dev', '-n', 'web', '--format', 'env']).stdout).toBe(env);
    expect(box.run(['allocate', '-s', 'dev', '-n', 'web', '--format', 'posix']).stdout).toBe(env);
    expect(allocations()).toHaveLength(1);
  });

  test('a shorthand with the --format it stands for agrees', () => {
    const port = String(allocations()[0]?.port);
    expect(box.run(['allocate', '-s', 'dev', '-n', 'web', '--json', '--format', 'json']).json.port).toBe(Number(port));
    expect(box.run(['allocate', '-s', 'dev', '-n', 'web', '-q', '--format', 'port']).stdout).toBe(`${port}\n`);
    expect(box.run(['allocate', '-s', 'dev', '-n', 'web', '--env', '--format', 'posix']).stdout).toContain(`export STYXY_PORT='${port}';`);
  });

  test('env, fish, powershell and dotenv carry the same variables with the same values, each read back by its reader', () => {
    const text = (format: string) => {
      const r = box.run(['allocate', '-s', 'dev', '-n', 'web', '--format', format, '--env-name', 'WEB_PORT']);
      expect(r.code).toBe(0);
      return r.stdout;
    };
    const dotenv = parseDotenv(text('dotenv'));
    const names = Object.keys(dotenv);
    expect(names).toEqual(expect.arrayContaining(['WEB_PORT', 'STYXY_PORT', 'STYXY_URL', 'STYXY_LOCK_ID', 'STYXY_SERVICE_TYPE', 'STYXY_INSTANCE_ID']));
    expect(names).toHaveLength(9);
    expect(Object.fromEntries(readPowershellAssignments(text('powershell').trimEnd()))).toEqual(dotenv);
    expect(readByShell(['bash', '-c'], `eval "$(${styxy} allocate -s dev -n web --format env --env-name WEB_PORT)"`, names)).toEqual(dotenv);
    if (has('fish')) expect(readByShell(['fish', '-c'], `${styxy} allocate -s dev -n web --format fish --env-name WEB_PORT | source`, names)).toEqual(dotenv);
    else console.warn('skipped the fish reader: fish is not installed');
  });
});

test('a batch: --format port and --format url give one line per type, in the order asked', () => {
  const json = box.run(['allocate', '-s', 'dev', '-s', 'api', '-n', 'b', '--json']).json;
  const [dev, api] = json.allocations;
  expect(box.run(['allocate', '-s', 'dev', '-s', 'api', '-n', 'b', '--format', 'port']).stdout).toBe(`${dev.port}\n${api.port}\n`);
  expect(box.run(['allocate', '-s', 'dev', '-s', 'api', '-n', 'b', '--format', 'url']).stdout).toBe(`${dev.url}\n${api.url}\n`);
});

describe('flags that disagree are a usage error, told as --json asks, and nothing is allocated', () => {
  test.each([
    [['--json', '--format', 'env']],
    [['--format', 'port', '--json']],
    [['-q', '--json']],
    [['--env', '--format=json']],
    // Combined short flags go to yargs, which checks the same way.
    [['-yq', '--json']],
  ])('allocate %j: one JSON document with USAGE', (flags) => {
    const r = box.run(['allocate', '-s', 'dev', ...flags]);
    expect(r.code).toBe(2);
    expect(r.json.success).toBe(false);
    expect(r.json.error.code).toBe('USAGE');
    expect(allocations()).toEqual([]);
  });

  test.each([
    [['--env', '--format', 'fish'], 'false;\n'],
    [['--format', 'url', '-q'], ''],
    [['--env', '-q'], 'false;\n'],
  ])('allocate %j: exit 2, stdout %j, nothing allocated', (flags, stdout) => {
    const r = box.run(['allocate', '-s', 'dev', ...flags]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe(stdout);
    expect(r.stderr).toContain('ask for different outputs');
    expect(allocations()).toEqual([]);
  });
});

describe('a format a command does not have is INVALID_ARGUMENT', () => {
  test.each([
    [['list', '--format', 'env']],
    [['list', '--format', 'url']],
    [['here', '--format', 'fish']],
    [['url', '-s', 'dev', '--format', 'dotenv']],
    [['allocate', '-s', 'dev', '--format', 'csh']],
  ])('%j', (args) => {
    const r = box.run([...args, '--json']);
    // With --json beside a format the command lacks, the format is named first.
    expect(r.json.error.code).toBe('INVALID_ARGUMENT');
    expect(r.code).toBe(3);
    expect(r.json.error.details.formats).toEqual(expect.arrayContaining(['json']));
  });

  test('a command with only --json has no --format', () => {
    const r = box.run(['release', 'dev-x-000000', '--format', 'json']);
    expect(r.code).toBe(2);
  });
});

test('failures print nothing on stdout for port and url', () => {
  for (const format of ['port', 'url']) {
    const r = box.run(['allocate', '-s', 'bad;name', '--format', format]);
    expect(r.code).toBe(3);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('service type');
  }
});

describe('list and url', () => {
  test('list -q and --format port: the ports, one a line; --format json is --json', () => {
    const a = box.run(['allocate', '-s', 'dev', '-n', 'a', '--persistent', '-q']).stdout.trim();
    const b = box.run(['allocate', '-s', 'api', '-n', 'b', '--persistent', '-q']).stdout.trim();
    expect(box.run(['list', '-q']).stdout).toBe(`${a}\n${b}\n`);
    expect(box.run(['list', '-s', 'api', '--format', 'port']).stdout).toBe(`${b}\n`);
    expect(box.run(['here', '-q']).stdout).toBe(`${a}\n${b}\n`);
    expect(box.run(['list', '--format', 'json']).json).toEqual(box.run(['list', '--json']).json);
    expect(box.run(['list', '-s', 'database', '-q']).stdout).toBe('');
  });

  test('url -q is the port, --format url the URL, --format json --json', () => {
    const made = box.run(['allocate', '-s', 'dev', '-n', 'web', '--persistent', '--json']).json;
    expect(box.run(['url', '-s', 'dev', '-n', 'web', '-q']).stdout).toBe(`${made.port}\n`);
    expect(box.run(['url', '-s', 'dev', '-n', 'web', '--format', 'url']).stdout).toBe(`${made.url}\n`);
    expect(box.run(['url', '-s', 'dev', '-n', 'web', '--format', 'json']).json).toEqual(box.run(['url', '-s', 'dev', '-n', 'web', '--json']).json);
  });
});

describe('start (run --detach)', () => {
  const SERVER = ['--', 'python3', '-m', 'http.server', '--bind', '127.0.0.1'];

  test('--format env: the started server is reached at $STYXY_URL from the shell that evals it; -q the same port again', () => {
    const r = spawnSync(
      'bash',
      [
        '-c',
        `eval "$(${styxy} start -s dev -n web --format env ${SERVER.join(' ')})" && ` +
          `python3 -c 'import os, urllib.request; print(os.environ["PORT"], os.environ["STYXY_LISTENING"], os.environ["STYXY_EXISTING"], urllib.request.urlopen(os.environ["STYXY_URL"]).status)'`,
      ],
      { env: box.env, cwd: box.cwd, encoding: 'utf8' },
    );
    const listed = allocations();
    for (const a of listed) if (a.owner.pid) servers.push(a.owner.pid);
    expect(r.status).toBe(0);
    const [port, listening, existing, status] = r.stdout.trim().split(' ');
    expect(Number(port)).toBe(listed[0]?.port);
    expect([listening, existing, status]).toEqual(['1', '0', '200']);
    // Already running: nothing is started, and -q names the same port.
    const again = box.run(['run', '--detach', '-s', 'dev', '-n', 'web', '-q', ...SERVER]);
    expect(again.code).toBe(0);
    expect(again.stdout).toBe(`${port}\n`);
    expect(allocations()).toHaveLength(1);
  });

  test("--format env carries the type's own variable names, as allocate's does", () => {
    fs.writeFileSync(
      path.join(box.cwd, '.styxy.json'),
      JSON.stringify({ service_types: { web: { port_range: [4700, 4799], env: { port: 'MY_PORT', url: 'MY_URL' } } } }),
    );
    const started = box.run(['start', '-s', 'web', '-n', 'srv', '--format', 'env', ...SERVER]);
    for (const a of allocations()) if (a.owner.pid) servers.push(a.owner.pid);
    expect(started.code).toBe(0);
    const port = allocations()[0]!.port;
    expect(started.stdout).toContain(`export MY_PORT='${port}';`);
    expect(started.stdout).toContain(`export MY_URL='http://localhost:${port}';`);
    expect(box.run(['start', '-s', 'web', '-n', 'srv', '--json', ...SERVER]).json.envNames).toEqual({ port: 'MY_PORT', url: 'MY_URL' });
  });

  test('run without --detach has only --json: another format is refused before anything starts', () => {
    for (const flags of [['--format', 'env'], ['-q'], ['--env']]) {
      const r = box.run(['run', '-s', 'dev', ...flags, '--', 'node', '-e', 'require("fs").writeFileSync("ran", "")']);
      expect(r.code).toBe(125);
      expect(r.stderr).toContain('goes with --detach');
    }
    const json = box.run(['run', '-s', 'dev', '--format', 'json', '--json', '--', 'node', '-e', 'process.exit(3)']);
    expect(json.code).toBe(3);
    expect(allocations()).toEqual([]);
    expect(spawnSync('test', ['-e', `${box.cwd}/ran`]).status).not.toBe(0);
  });
});
