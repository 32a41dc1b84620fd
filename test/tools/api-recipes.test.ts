import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as http from 'http';
import * as path from 'path';
import { ROOT, killAndWait, sandbox, type Sandbox } from '../helpers/cli';
import { readmeRecipe } from '../helpers/readme';

// The README's API recipes, each run as printed (the file name is the recipe's first line), with
// the real Vitest, Jest and Playwright from devDependencies and `styxy` resolved as a user's
// project resolves it: node_modules/styxy is this package, through its exports map.

let box: Sandbox;
beforeEach(() => {
  box = sandbox();
});
afterEach(() => box.cleanup());

const nodeMajor = Number(process.versions.node.split('.')[0]);
/** Vitest 4 and Playwright need Node 20 or later. */
const onModernNode = nodeMajor >= 20 ? test : (test.skip as typeof test);
if (nodeMajor < 20) console.log(`Node ${process.versions.node}: the Vitest and Playwright recipes are skipped (both need Node >= 20)`);

/** A project directory whose node_modules has styxy and the named devDependencies. */
function project(name: string, packages: string[]): string {
  const dir = path.join(box.dir, name);
  fs.mkdirSync(path.join(dir, 'node_modules', '@playwright'), { recursive: true });
  fs.symlinkSync(ROOT, path.join(dir, 'node_modules', 'styxy'));
  for (const pkg of packages) fs.symlinkSync(path.join(ROOT, 'node_modules', pkg), path.join(dir, 'node_modules', pkg));
  return dir;
}

/** Writes a recipe into `dir` under the name its first line gives (`// name.mjs`). */
function writeRecipe(dir: string, recipe: string): string {
  const text = readmeRecipe(recipe);
  const name = /^\/\/ (\S+)\n/.exec(text)?.[1];
  if (!name) throw new Error(`recipe ${recipe} does not start with // FILE`);
  fs.writeFileSync(path.join(dir, name), text);
  return name;
}

/** The environment of a test runner started from here: none of this Jest's own variables. */
function runnerEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...box.env, CI: '1', NO_COLOR: '1', ...extra };
  for (const key of Object.keys(env)) if (key.startsWith('JEST_') || key === 'NODE_ENV') delete env[key];
  return env;
}

const cli = (args: string[]) => box.run(args).json;

/** Replays the audit log: every allocate of `type` must name a port no live allocation of it holds. */
function auditedHolds(type: string): { allocations: number; mostAtOnce: number; doubles: string[] } {
  const held = new Map<number, string>();
  let allocations = 0;
  let mostAtOnce = 0;
  const doubles: string[] = [];
  for (const e of cli(['audit', '--json']).events as Array<{ action: string; serviceType: string; port: number; lockId: string }>) {
    if (e.serviceType !== type) continue;
    if (e.action === 'allocate') {
      allocations++;
      if (held.has(e.port)) doubles.push(`${e.port}: ${held.get(e.port)} and ${e.lockId}`);
      held.set(e.port, e.lockId);
      mostAtOnce = Math.max(mostAtOnce, held.size);
    } else if (held.get(e.port) === e.lockId) held.delete(e.port);
  }
  return { allocations, mostAtOnce, doubles };
}

onModernNode(
  'Vitest: globalSetup allocates the suite’s port, each test takes its own with withPort, across parallel workers',
  () => {
    const dir = project('vitest-app', ['vitest']);
    writeRecipe(dir, 'vitest-config');
    writeRecipe(dir, 'vitest-global-setup');
    const testFile = writeRecipe(dir, 'vitest-test');
    // Six copies of the recipe's test, and three of a test of ours that holds its port until some
    // worker has seen three ports held at once: the run cannot pass unless three workers overlap.
    for (let i = 1; i <= 6; i++) fs.copyFileSync(path.join(dir, testFile), path.join(dir, `server-${i}.test.mjs`));
    fs.rmSync(path.join(dir, testFile));
    const barrier = `
    import fs from 'node:fs';
    import { test } from 'vitest';
    import { list, withPort } from 'styxy';
    test('three workers hold ports at once', () => withPort({ serviceType: 'test' }, async () => {
      const deadline = Date.now() + 30000;
      while (!fs.existsSync('seen-three')) {
        if ((await list({ serviceType: 'test' })).length >= 3) fs.writeFileSync('seen-three', '');
        if (Date.now() > deadline) throw new Error('never three at once');
        await new Promise((r) => setTimeout(r, 20));
      }
    }), 40000);
  `;
    for (let i = 1; i <= 3; i++) fs.writeFileSync(path.join(dir, `barrier-${i}.test.mjs`), barrier);
    const r = spawnSync(process.execPath, [path.join(ROOT, 'node_modules', 'vitest', 'vitest.mjs'), 'run', '--pool=forks', '--maxWorkers=3'], {
      cwd: dir,
      env: runnerEnv(),
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect({ status: r.status, out: r.status === 0 ? '' : r.stdout + r.stderr }).toEqual({ status: 0, out: '' });
    expect(r.stdout).toMatch(/Tests\s+9 passed/);
    const tests = auditedHolds('test');
    expect(tests).toMatchObject({ allocations: 9, doubles: [] });
    expect(tests.mostAtOnce).toBeGreaterThanOrEqual(3);
    // The suite's port: allocated once, released by the teardown the setup returned.
    expect(auditedHolds('api').allocations).toBe(1);
    expect(
      cli(['audit', '--json'])
        .events.filter((e: { action: string; instanceId?: string }) => e.instanceId === 'vitest-api')
        .map((e: { action: string }) => e.action),
    ).toEqual(['allocate', 'release']);
    expect(cli(['list', '--json']).allocations).toEqual([]);
  },
  150_000,
);

test('Jest: globalSetup allocates, the workers see the port, globalTeardown releases', () => {
  const dir = project('jest-app', ['jest']);
  writeRecipe(dir, 'jest-config');
  writeRecipe(dir, 'jest-global-setup');
  writeRecipe(dir, 'jest-global-teardown');
  const seen = path.join(box.dir, 'seen');
  fs.mkdirSync(seen);
  for (let i = 1; i <= 3; i++) {
    fs.writeFileSync(
      path.join(dir, `api-${i}.test.js`),
      `test('the suite port reaches worker ${i}', () => {
        const listed = JSON.parse(require('child_process').execFileSync(process.execPath, [${JSON.stringify(path.join(ROOT, 'bin', 'styxy'))}, 'list', '--json'], { encoding: 'utf8' }));
        require('fs').writeFileSync(${JSON.stringify(seen)} + '/${i}', JSON.stringify({ port: process.env.API_PORT, listed: listed.allocations.map((a) => a.port) }));
      });`,
    );
  }
  const r = spawnSync(process.execPath, [path.join(ROOT, 'node_modules', 'jest', 'bin', 'jest.js'), '--maxWorkers=2', '--ci'], {
    cwd: dir,
    env: runnerEnv(),
    encoding: 'utf8',
    timeout: 120_000,
  });
  expect({ status: r.status, out: r.status === 0 ? '' : r.stdout + r.stderr }).toEqual({ status: 0, out: '' });
  const reports = fs.readdirSync(seen).map((f) => JSON.parse(fs.readFileSync(path.join(seen, f), 'utf8')));
  expect(reports).toHaveLength(3);
  const port = Number(reports[0].port);
  expect(port).toBeGreaterThanOrEqual(8000);
  expect(port).toBeLessThanOrEqual(8099);
  for (const report of reports) expect(report).toEqual({ port: String(port), listed: [port] });
  expect(cli(['audit', '--json']).events.map((e: { action: string; instanceId?: string }) => `${e.action}:${e.instanceId}`)).toEqual([
    'allocate:jest-api',
    'release:jest-api',
  ]);
}, 150_000);

onModernNode(
  'Playwright: the config takes its port from Styxy and the webServer starts on it (no browser)',
  () => {
    const dir = project('playwright-app', ['@playwright/test', 'playwright', 'playwright-core']);
    writeRecipe(dir, 'playwright-config');
    fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'web', private: true, type: 'module', scripts: { dev: 'node server.js' } }));
    fs.writeFileSync(
      path.join(dir, 'server.js'),
      `import http from 'node:http';\nhttp.createServer((req, res) => res.end('port ' + process.env.PORT)).listen(Number(process.env.PORT), '127.0.0.1');\n`,
    );
    // The request fixture needs no browser; a page test would.
    fs.writeFileSync(
      path.join(dir, 'web.spec.mjs'),
      `import { test, expect } from '@playwright/test';
     test('the web server answers on the Styxy port', async ({ request, baseURL }) => {
       expect(baseURL).toBe('http://127.0.0.1:' + process.env.WEB_PORT);
       const res = await request.get('/');
       expect(await res.text()).toBe('port ' + process.env.WEB_PORT);
     });`,
    );
    const r = spawnSync(process.execPath, [path.join(ROOT, 'node_modules', '@playwright', 'test', 'cli.js'), 'test', '--reporter=list', '--workers=2'], {
      cwd: dir,
      env: runnerEnv({ npm_config_update_notifier: 'false' }),
      encoding: 'utf8',
      timeout: 120_000,
    });
    expect({ status: r.status, out: r.status === 0 ? '' : r.stdout + r.stderr }).toEqual({ status: 0, out: '' });
    expect(r.stdout).toMatch(/1 passed/);
    // One allocation for the whole run (the workers took it from the environment), in the dev range.
    const events = cli(['audit', '--json']).events.filter((e: { instanceId?: string }) => e.instanceId === 'e2e');
    expect(events.map((e: { action: string }) => e.action)).toEqual(['allocate']);
    expect(events[0].port).toBeGreaterThanOrEqual(3000);
    expect(events[0].port).toBeLessThanOrEqual(3099);
    // Its owner, Playwright's main process, has ended: the allocation is forgotten.
    expect(cli(['list', '--json']).allocations).toEqual([]);
  },
  150_000,
);

test('a node:http server takes its port from allocate and releases it on close', async () => {
  const dir = project('http-app', []);
  const file = writeRecipe(dir, 'node-http');
  const server = spawn(process.execPath, [file], { cwd: dir, env: box.env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  server.stderr.on('data', (d) => (stderr += d));
  try {
    const url = await new Promise<string>((resolve, reject) => {
      let out = '';
      server.stdout.on('data', (d) => {
        out += d;
        const match = /listening on (http:\S+)/.exec(out);
        if (match) resolve(match[1]!);
      });
      server.once('exit', () => reject(new Error(`server ended: ${out}${stderr}`)));
    });
    const body = await new Promise<string>((resolve, reject) => {
      http
        .get(url, (res) => {
          let text = '';
          res.on('data', (d) => (text += d));
          res.on('end', () => resolve(text));
        })
        .on('error', reject);
    });
    expect(body).toBe('hello\n');
    const [allocation] = cli(['list', '--json']).allocations;
    expect(allocation).toMatchObject({ serviceType: 'api', instanceId: 'hello', owner: { pid: server.pid } });
    expect(url).toBe(`http://127.0.0.1:${allocation.port}`);
    const exited = new Promise<number | null>((resolve) => server.once('exit', (code) => resolve(code)));
    server.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(stderr).toBe('');
    // Released by the server itself, not forgotten after its death.
    expect(box.readState().allocations).toEqual([]);
    expect(cli(['audit', '--json']).events.map((e: { action: string }) => e.action)).toEqual(['allocate', 'release']);
  } finally {
    await killAndWait(server);
  }
});
