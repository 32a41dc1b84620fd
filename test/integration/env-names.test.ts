import * as fs from 'fs';
import * as path from 'path';
import { useSandbox } from '../helpers/cli';

// A project's .styxy.json names the variables a type's port and URL are exported as, and the
// value is the URL: a loader or shell variable there would run code the project chose.
const box = useSandbox();

function writeProjectConfig(config: unknown): void {
  fs.writeFileSync(path.join(box.cwd, '.styxy.json'), JSON.stringify(config));
}

function allocations(): unknown[] {
  const file = path.join(box.home, 'state.json');
  return fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')).allocations ?? []) : [];
}

describe("a type's own variable names", () => {
  test('BASH_ENV as a URL name: INVALID_CONFIG, nothing allocated, the command never runs', () => {
    writeProjectConfig({ service_types: { api: { port_range: [47311, 47312], env: { url: 'BASH_ENV' } } } });
    // What bash would source if BASH_ENV were http://localhost:47311.
    fs.mkdirSync(path.join(box.cwd, 'http:'));
    fs.writeFileSync(path.join(box.cwd, 'http:', 'localhost:47311'), 'echo PWNED >&2\n');
    fs.writeFileSync(path.join(box.cwd, 'http:', 'localhost:47312'), 'echo PWNED >&2\n');
    const r = box.run(['run', '-s', 'api', '--json', '--', 'bash', '-c', 'echo my command']);
    expect(r.stderr + r.stdout).not.toContain('PWNED');
    expect(r.stdout).not.toContain('my command');
    // run's own failures exit 125; the code is in --json.
    expect([r.code, r.json.error.code]).toEqual([125, 'INVALID_CONFIG']);
    expect(allocations()).toEqual([]);
    const a = box.run(['allocate', '-s', 'api', '--json']);
    expect([a.code, a.json.error.code]).toEqual([9, 'INVALID_CONFIG']);
    expect(allocations()).toEqual([]);
  });

  test.each([
    ['BASH_ENV', { url: 'BASH_ENV' }],
    ['PATH', { port: 'PATH' }],
    ['LD_PRELOAD', { url: 'LD_PRELOAD' }],
    ['NODE_OPTIONS', { url: 'NODE_OPTIONS' }],
    ['PROMPT_COMMAND', { port: 'PROMPT_COMMAND' }],
    ['a lower-case suffix', { url: 'backend_url' }],
    ['a loader name with a good suffix', { url: 'LD_LIBRARY_URL' }],
    ['a shell name with a good suffix', { url: 'BASH_FUNC_URL' }],
    ['a git name with a good suffix', { url: 'GIT_PROXY_URL' }],
    ['a package index', { url: 'PIP_INDEX_URL' }],
    ['a docker daemon', { url: 'DOCKER_HOST' }],
    ['a name of 65 characters', { url: `${'A'.repeat(61)}_URL` }],
    ['a name of 70 characters', { url: `${'A'.repeat(66)}_URL` }],
    ['one name for port and url', { port: 'BACKEND_URL', url: 'BACKEND_URL' }],
  ])('%s: INVALID_CONFIG from allocate and run, nothing allocated', (_what, env) => {
    writeProjectConfig({ service_types: { api: { port_range: [47311, 47319], env } } });
    const a = box.run(['allocate', '-s', 'api', '-n', 'x', '--env']);
    expect(a.code).toBe(9);
    const j = box.run(['allocate', '-s', 'api', '-n', 'x', '--json']);
    expect([j.code, j.json.error.code]).toEqual([9, 'INVALID_CONFIG']);
    const r = box.run(['run', '-s', 'api', '--json', '--', 'true']);
    expect([r.code, r.json.error.code]).toEqual([125, 'INVALID_CONFIG']);
    expect(allocations()).toEqual([]);
  });

  test.each([
    ['_URL', 'BACKEND_URL'],
    ['_PORT', 'BACKEND_PORT'],
    ['_HOST', 'BACKEND_HOST'],
    ['_ORIGIN', 'BACKEND_ORIGIN'],
    ['64 characters', `${'A'.repeat(60)}_URL`],
  ])('a name ending in %s is exported', (_what, name) => {
    writeProjectConfig({ service_types: { api: { port_range: [47311, 47319], env: { url: name } } } });
    const r = box.run(['run', '-s', 'api', '--', 'sh', '-c', `echo "$${name}"`]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toMatch(/^http:\/\/localhost:4731[1-9]$/);
  });

  test("--env-name naming another type's own variable in a batch: INVALID_ARGUMENT before anything is allocated", () => {
    writeProjectConfig({ service_types: { api: { env: { url: 'BACKEND_URL' } } } });
    // --env cannot go with --json; exit status 3 is INVALID_ARGUMENT's alone.
    const e = box.run(['allocate', '-s', 'dev', '-s', 'api', '--env', '--env-name', 'BACKEND_URL']);
    expect(e.code).toBe(3);
    const r = box.run(['run', '-s', 'dev', '-s', 'api', '--env-name', 'BACKEND_URL', '--json', '--', 'true']);
    expect([r.code, r.json.error.code]).toEqual([125, 'INVALID_ARGUMENT']);
    expect(allocations()).toEqual([]);
  });
});
