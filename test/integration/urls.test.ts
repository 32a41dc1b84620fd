import { spawn, spawnSync, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as path from 'path';
import { BIN, killAndWait, useSandbox, waitFor } from '../helpers/cli';

const box = useSandbox();
const servers: ChildProcess[] = [];
afterEach(async () => {
  for (const child of servers.splice(0)) await killAndWait(child);
});

const hasCurl = spawnSync('sh', ['-c', 'command -v curl']).status === 0;

function sh(script: string, env: NodeJS.ProcessEnv = {}) {
  return spawnSync('sh', ['-c', script], { cwd: box.cwd, env: { ...box.env, STYXY: BIN, ...env }, encoding: 'utf8', timeout: 60_000 });
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function pythonServer(port: number): Promise<void> {
  servers.push(spawn('python3', ['-m', 'http.server', String(port), '--bind', '127.0.0.1'], { stdio: 'ignore' }));
  await waitFor(`python on ${port}`, () => accepts(port));
}

function writeProjectConfig(config: unknown): void {
  fs.writeFileSync(path.join(box.cwd, '.styxy.json'), JSON.stringify(config));
}

describe('allocate', () => {
  test('--json has the url, --env has STYXY_URL next to the port', () => {
    const json = box.run(['allocate', '-s', 'dev', '-n', 'web', '--json']).json;
    expect(json.url).toBe(`http://localhost:${json.port}`);
    const r = sh(`eval "$("$STYXY" allocate -s dev -n web --env)"; echo "$STYXY_URL"`);
    expect(r.stdout.trim()).toBe(`http://localhost:${json.port}`);
  });

  test('--host-style subdomain names the instance and the project; the URL reaches the server', async () => {
    const json = box.run(['allocate', '-s', 'dev', '-n', 'web', '--host-style', 'subdomain', '--json']).json;
    expect(json.url).toBe(`http://web.project.localhost:${json.port}`);
    if (!hasCurl) return;
    await pythonServer(json.port);
    // curl, like browsers, sends every *.localhost name to the loopback address itself.
    expect(spawnSync('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', json.url], { encoding: 'utf8' }).stdout).toBe('200');
  });

  test('a project sets the subdomain style in .styxy.json; the flag wins over it', () => {
    writeProjectConfig({ urls: { host_style: 'subdomain' } });
    const plain = box.run(['allocate', '-s', 'api', '--json']).json;
    expect(plain.url).toBe(`http://api.project.localhost:${plain.port}`);
    const flag = box.run(['allocate', '-s', 'api', '--host-style', 'localhost', '--json']).json;
    expect(flag.url).toBe(`http://localhost:${flag.port}`);
  });

  test('a bad --host-style or urls.host_style is refused and writes nothing', () => {
    const r = box.run(['allocate', '-s', 'dev', '--host-style', 'fancy', '--json']);
    expect([r.code, r.json.error.code]).toEqual([3, 'INVALID_ARGUMENT']);
    writeProjectConfig({ urls: { host_style: 'fancy' } });
    const bad = box.run(['allocate', '-s', 'dev', '--json']);
    expect(bad.json.error.code).toBe('INVALID_CONFIG');
    expect(fs.existsSync(path.join(box.home, 'state.json'))).toBe(false);
  });

  test('config set urls.host-style subdomain is taken by the next allocate', () => {
    expect(box.run(['config', 'set', 'urls.host-style', 'subdomain']).code).toBe(0);
    const json = box.run(['allocate', '-s', 'dev', '-n', 'web', '--json']).json;
    expect(json.url).toBe(`http://web.project.localhost:${json.port}`);
    expect(box.run(['config', 'set', 'urls.host-style', 'nope', '--json']).json.error.code).toBe('INVALID_ARGUMENT');
  });

  test("run's command gets STYXY_URL", () => {
    const r = box.run(['run', '-s', 'dev', '--', 'sh', '-c', 'echo "$STYXY_URL $PORT"']);
    const [url, port] = r.stdout.trim().split(' ');
    expect(url).toBe(`http://localhost:${port}`);
  });
});

describe('siblings in a batch', () => {
  test('every service gets each sibling’s port and URL; a project names them in .styxy.json; a real server is reached by that name', async () => {
    writeProjectConfig({ service_types: { api: { env: { url: 'BACKEND_URL', port: 'BACKEND_PORT' } } } });
    const r = sh(`eval "$("$STYXY" allocate -s dev -s api -n app --persistent --env)" || exit 9; env`);
    expect(r.status).toBe(0);
    const vars = Object.fromEntries(
      r.stdout
        .split('\n')
        .filter((l) => l.includes('='))
        .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
    );
    const apiPort = Number(vars.API_PORT);
    expect(vars).toMatchObject({
      DEV_URL: `http://localhost:${vars.DEV_PORT}`,
      API_URL: `http://localhost:${apiPort}`,
      BACKEND_URL: `http://localhost:${apiPort}`,
      BACKEND_PORT: String(apiPort),
      STYXY_URL: `http://localhost:${vars.DEV_PORT}`,
    });
    await pythonServer(apiPort);
    const fetched = sh(
      `eval "$("$STYXY" allocate -s dev -s api -n app --env)"; python3 -c 'import os, urllib.request; print(urllib.request.urlopen(os.environ["BACKEND_URL"]).status)'`,
    );
    expect(fetched.stdout.trim()).toBe('200');
  });

  test("run -s dev -s api: the command sees its sibling's URL under the project's name", () => {
    writeProjectConfig({ service_types: { api: { env: { url: 'BACKEND_URL' } } } });
    const r = box.run(['run', '-s', 'dev', '-s', 'api', '--', 'sh', '-c', 'echo "$BACKEND_URL $API_PORT"']);
    const [url, port] = r.stdout.trim().split(' ');
    expect(url).toBe(`http://localhost:${port}`);
  });

  test.each([
    ['a name that is not a variable', { api: { env: { url: 'BACKEND-URL' } } }],
    ['a STYXY_ name', { api: { env: { url: 'STYXY_BACKEND' } } }],
    ['PORT', { api: { env: { port: 'PORT' } } }],
    ['an unknown key', { api: { env: { host: 'X' } } }],
    ["another type's variable", { api: { env: { url: 'DEV_URL' } } }],
  ])('%s in env is INVALID_CONFIG, and nothing is allocated', (_name, types) => {
    writeProjectConfig({ service_types: types });
    const r = box.run(['allocate', '-s', 'dev', '-s', 'api', '--json']);
    expect([r.code, r.json.error.code]).toEqual([9, 'INVALID_CONFIG']);
    expect(fs.existsSync(path.join(box.home, 'state.json'))).toBe(false);
  });
});

describe('styxy url', () => {
  test("prints the URL of this project's live allocation", () => {
    const made = box.run(['allocate', '-s', 'dev', '-n', 'web', '--persistent', '--json']).json;
    const r = box.run(['url', '-s', 'dev', '-n', 'web']);
    expect([r.code, r.stdout]).toEqual([0, `${made.url}\n`]);
    expect(box.run(['url', '-s', 'dev', '-n', 'web', '--host-style', 'subdomain']).stdout).toBe(`http://web.project.localhost:${made.port}\n`);
    expect(box.run(['url', '-s', 'dev', '--json']).json).toMatchObject({ success: true, url: made.url, allocations: [{ port: made.port, instanceId: 'web' }] });
  });

  test('none: NOT_FOUND; another project’s does not count', () => {
    const other = path.join(box.dir, 'other');
    fs.mkdirSync(other);
    box.run(['allocate', '-s', 'dev', '-n', 'web', '--persistent'], { cwd: other });
    const r = box.run(['url', '-s', 'dev', '-n', 'web', '--json']);
    expect([r.code, r.json.error.code]).toEqual([8, 'NOT_FOUND']);
  });

  test('several: each on its line; --open then asks for one', () => {
    box.run(['allocate', '-s', 'dev', '-n', 'a', '--persistent']);
    box.run(['allocate', '-s', 'dev', '-n', 'b', '--persistent']);
    expect(box.run(['url', '-s', 'dev']).stdout.trim().split('\n')).toHaveLength(2);
    const r = box.run(['url', '-s', 'dev', '--open', '--json']);
    expect(r.json.error.code).toBe('INVALID_ARGUMENT');
  });

  test('--open hands the URL to $BROWSER', async () => {
    const made = box.run(['allocate', '-s', 'dev', '-n', 'web', '--persistent', '--json']).json;
    const opened = path.join(box.dir, 'opened');
    const browser = path.join(box.dir, 'browser.sh');
    fs.writeFileSync(browser, `#!/bin/sh\necho "$1" > ${JSON.stringify(opened)}\n`, { mode: 0o755 });
    const r = box.run(['url', '-s', 'dev', '-n', 'web', '--open', '--json'], { env: { BROWSER: browser } });
    expect(r.json).toMatchObject({ success: true, url: made.url, open: { opened: true } });
    await waitFor('the browser to be called', () => fs.existsSync(opened));
    expect(fs.readFileSync(opened, 'utf8').trim()).toBe(made.url);
  });

  test('--open without a browser says so and still succeeds', () => {
    box.run(['allocate', '-s', 'dev', '-n', 'web', '--persistent']);
    const r = box.run(['url', '-s', 'dev', '-n', 'web', '--open'], { env: { BROWSER: '', PATH: path.dirname(process.execPath) } });
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^http:\/\/localhost:\d+\n$/);
    expect(r.stderr).toContain('could not open a browser');
  });
});
