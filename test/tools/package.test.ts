import { spawnSync, type SpawnSyncOptions } from 'child_process';
import * as crypto from 'crypto';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ROOT, sandbox, type Sandbox } from '../helpers/cli';

// The package as a user gets it: `npm pack`'s tarball, installed globally into a scratch prefix,
// and, apart from that, merely extracted and run with no node_modules anywhere; every command
// and the API run from each, from directories other than the package's.

const PACKAGE = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
const QUIET_NPM = { npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' };

let scratch: string;
let tarball: string;
let packed: { files: { path: string; size: number }[]; size: number; unpackedSize: number };

beforeAll(() => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'styxy-package-'));
  // The bundles are those `npm run build` made (the tests' precondition); prepack would rebuild them.
  const r = spawnSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', scratch], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, ...QUIET_NPM },
  });
  expect(r.status).toBe(0);
  packed = JSON.parse(r.stdout)[0];
  tarball = path.join(scratch, `styxy-${PACKAGE.version}.tgz`);
  expect(fs.existsSync(tarball)).toBe(true);
}, 60_000);
afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

let box: Sandbox;
beforeEach(() => {
  box = sandbox();
});
afterEach(() => box.cleanup());

function sh(cmd: string, args: string[], options: SpawnSyncOptions = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: { ...box.env, ...QUIET_NPM }, cwd: box.cwd, timeout: 60_000, ...options });
  return {
    status: r.status,
    stdout: String(r.stdout),
    stderr: String(r.stderr),
    json: (() => {
      try {
        return JSON.parse(String(r.stdout));
      } catch {
        return undefined;
      }
    })(),
  };
}

function extract(into: string): string {
  fs.mkdirSync(into, { recursive: true });
  expect(sh('tar', ['xzf', tarball, '-C', into]).status).toBe(0);
  return path.join(into, 'package');
}

/** Runs every command of `styxy` (a command line that starts it) and checks each answer. */
function everyCommand(styxy: string[], cwd: string, env: NodeJS.ProcessEnv = box.env) {
  const run = (args: string[]) => {
    const r = sh(styxy[0]!, [...styxy.slice(1), ...args], { cwd, env: { ...env, ...QUIET_NPM } });
    return { ...r, args };
  };
  const ok = (args: string[], status = 0) => {
    const r = run(args);
    expect({ args, status: r.status, stderr: r.stderr }).toEqual({ args, status, stderr: '' });
    return r;
  };
  expect(ok(['--version']).stdout.trim()).toBe(PACKAGE.version);
  expect(ok(['--help']).stdout).toContain('styxy allocate');
  expect(ok(['allocate', '--help']).stdout).toContain('--service-type');
  const dev = ok(['allocate', '-s', 'dev', '--persistent', '--json']).json;
  expect(dev).toMatchObject({ success: true, port: 3000 });
  expect(ok(['allocate', '-s', 'api', '-n', 'web', '--persistent', '--env']).stdout).toContain("export PORT='8000'");
  expect(ok(['allocate', '-s', 'grafana', '--persistent', '--json']).json).toMatchObject({ autoAllocated: true });
  expect(ok(['run', '-s', 'test', '--', process.execPath, '-e', 'console.log("port " + process.env.PORT)']).stdout).toContain('port 9200');
  expect(ok(['list', '--json']).json.allocations.map((a: { port: number }) => a.port)).toEqual(expect.arrayContaining([3000, 8000]));
  expect(ok(['list']).stdout).toContain('3000');
  expect(ok(['check', '3000', '--json']).json).toMatchObject({ success: true });
  expect(ok(['scan', '--start', '3000', '--end', '3002', '--json']).json).toMatchObject({ success: true });
  expect(ok(['release', dev.lockId, '--json']).json.released).toHaveLength(1);
  expect(ok(['release', '-s', 'api', '-n', 'web', '--json']).json.released).toHaveLength(1);
  expect(ok(['cleanup', '--json']).json).toMatchObject({ success: true });
  expect(ok(['audit', '--json']).json.events.length).toBeGreaterThan(3);
  expect(ok(['config', 'show', '--json']).json).toMatchObject({ success: true });
  expect(ok(['config', 'validate', '--json']).json).toMatchObject({ success: true });
  expect(ok(['config', 'path']).stdout).toContain(box.home);
  expect(ok(['config', 'auto-allocation', 'status', '--json']).json).toMatchObject({ success: true });
  expect(ok(['config', 'undo-auto-allocation', 'grafana', '--force', '--json']).json).toMatchObject({ success: true });
  expect(ok(['completion']).stdout).toContain('styxy');
  const doctor = run(['doctor', '--json']);
  expect(doctor.stderr).toBe('');
  expect(doctor.json).toHaveProperty('checks');
  // A failure is the CLI's code and exit status.
  const bad = run(['allocate', '-s', 'no spaces', '--json']);
  expect([bad.status, bad.json.error.code]).toEqual([3, 'INVALID_ARGUMENT']);
}

/** The API from a project that has `styxy` in its node_modules: require, import, and the exports map. */
function apiFrom(project: string) {
  const cjs = sh(
    process.execPath,
    [
      '-e',
      `
    const { allocate, list, withPort, release, StyxyError } = require('styxy');
    (async () => {
      const a = await allocate({ serviceType: 'dev' });
      const inner = await withPort({ serviceType: 'test' }, async (port) => port);
      const err = await release('dev-nothing-000000').catch((e) => e);
      const listed = (await list()).map((x) => x.port);
      await a.release();
      let deep = 'importable';
      try { require('styxy/dist/api.js'); } catch (e) { deep = e.code; }
      console.log(JSON.stringify({ port: a.port, owner: a.owner.pid === process.pid, inner, listed, code: err.code, isError: err instanceof StyxyError, deep, version: require('styxy/package.json').version }));
    })();
  `,
    ],
    { cwd: project },
  );
  expect(cjs.stderr).toBe('');
  // The CLI calls before freed 3000, 8000 and 9200 in another project: they are cooling down after their release,
  // so the API is given the next free port of each range.
  const { port, inner, listed, ...rest } = cjs.json;
  expect(rest).toEqual({ owner: true, code: 'NOT_FOUND', isError: true, deep: 'ERR_PACKAGE_PATH_NOT_EXPORTED', version: PACKAGE.version });
  expect([port >= 3000 && port <= 3099, inner >= 9200 && inner <= 9299, listed]).toEqual([true, true, [port]]);
  const esm = sh(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `
    import { allocate, release, list, withPort, StyxyError } from 'styxy';
    const port = await withPort({ serviceType: 'api' }, (p) => p);
    console.log(JSON.stringify({ port, left: (await list()).length, cls: typeof StyxyError, fns: [allocate, release].map((f) => typeof f) }));
  `,
    ],
    { cwd: project },
  );
  expect(esm.stderr).toBe('');
  expect(esm.json).toEqual({ port: expect.any(Number), left: 0, cls: 'function', fns: ['function', 'function'] });
  expect(esm.json.port >= 8000 && esm.json.port <= 8099).toBe(true);
}

test('the tarball holds what runs and nothing else, and the package is publishable', () => {
  expect(packed.files.map((f) => f.path).sort()).toEqual(
    [
      'LICENSE',
      'README.md',
      'bin/styxy',
      'dist/api.d.ts',
      'dist/api.js',
      'dist/api.mjs',
      'dist/boot.js',
      'dist/hook-gate.txt',
      'dist/hook.js',
      'dist/mcp.js',
      'dist/minimatch.js',
      'dist/styxy.js',
      'dist/toml.js',
      'dist/validators.js',
      'dist/yaml.js',
      'dist/yargs.js',
      'package.json',
      'schemas/config.schema.json',
      'schemas/state.schema.json',
      // The schemas of the --json documents (docs/cli.md, JSON output).
      ...fs.readdirSync(path.join(ROOT, 'schemas', 'output')).map((name) => `schemas/output/${name}`),
      // The manual the README links to travels with it.
      ...fs.readdirSync(path.join(__dirname, '..', '..', 'docs')).map((name) => `docs/${name}`),
    ].sort(),
  );
  console.log(`tarball: ${packed.files.length} files, ${(packed.size / 1024).toFixed(1)} kB packed, ${(packed.unpackedSize / 1024).toFixed(1)} kB unpacked`);
  const manifest = JSON.parse(fs.readFileSync(path.join(extract(path.join(box.dir, 'x')), 'package.json'), 'utf8'));
  expect(manifest.private).toBeUndefined();
  expect(manifest.dependencies ?? {}).toEqual({});
  expect(manifest).toMatchObject({ license: 'MIT', bin: { styxy: 'bin/styxy' }, types: 'dist/api.d.ts', engines: { node: '>=18' } });
  expect(Object.keys(manifest.exports)).toEqual(['.', './package.json', './schemas/*']);
  expect(manifest.description.length).toBeGreaterThan(20);
  expect(manifest.keywords.length).toBeGreaterThan(3);
  // No script runs when a user installs it.
  expect(Object.keys(manifest.scripts ?? {}).filter((s) => /^(pre|post)?install$|^prepare$/.test(s))).toEqual([]);
  expect(fs.readFileSync(path.join(ROOT, 'LICENSE'), 'utf8')).toMatch(/^MIT License/);
});

test('npm install -g from the tarball: no warning, then every command and the API from another directory', () => {
  const prefix = path.join(box.dir, 'prefix');
  const install = sh('npm', ['install', '-g', '--prefix', prefix, tarball], { cwd: box.dir });
  expect(install.status).toBe(0);
  expect(install.stderr).toBe('');
  expect(install.stdout).not.toMatch(/warn|script/i);
  const bin = path.join(prefix, 'bin', 'styxy');
  expect(fs.lstatSync(bin).isSymbolicLink()).toBe(true);
  // On the PATH, as after a real global install.
  const env = { ...box.env, PATH: `${path.join(prefix, 'bin')}:${process.env.PATH}` };
  everyCommand(['sh', '-c', 'exec styxy "$@"', 'styxy'], box.cwd, env);
  expect(sh('sh', ['-c', 'cd / && styxy --version'], { env }).stdout.trim()).toBe(PACKAGE.version);
  const project = path.join(box.dir, 'app');
  fs.mkdirSync(path.join(project, 'node_modules'), { recursive: true });
  fs.symlinkSync(path.join(prefix, 'lib', 'node_modules', 'styxy'), path.join(project, 'node_modules', 'styxy'));
  apiFrom(project);
}, 120_000);

test('extracted with no node_modules anywhere: every command and the API run', () => {
  const pkg = extract(path.join(box.dir, 'plain'));
  for (let dir = pkg; dir !== path.dirname(dir); dir = path.dirname(dir)) expect(fs.existsSync(path.join(dir, 'node_modules'))).toBe(false);
  everyCommand([process.execPath, path.join(pkg, 'bin', 'styxy')], box.cwd);
  const r = sh(process.execPath, ['-e', `require(${JSON.stringify(pkg)}).withPort({ serviceType: 'dev' }, (p) => console.log(p))`], { cwd: '/' });
  // 3000 was freed by the commands above from another project: still cooling, so the next one.
  expect([r.stderr, Number(r.stdout.trim()) > 3000 && Number(r.stdout.trim()) <= 3099]).toEqual(['', true]);
}, 120_000);

test('the --json schemas resolve from the installed package, and a real document conforms to them', () => {
  const project = path.join(box.dir, 'reader');
  fs.mkdirSync(path.join(project, 'node_modules'), { recursive: true });
  const pkg = extract(path.join(box.dir, 'y'));
  fs.symlinkSync(pkg, path.join(project, 'node_modules', 'styxy'));
  const document = sh(process.execPath, [path.join(pkg, 'bin', 'styxy'), 'allocate', '-s', 'dev', '-n', 'web', '--json'], { cwd: box.cwd });
  expect(document.status).toBe(0);
  // As a program that reads Styxy's output would: each schema by its package path, ajv as it comes.
  const reader = `
    const fs = require('fs'), path = require('path');
    const Ajv = require(${JSON.stringify(require.resolve('ajv'))}).default;
    const ajv = new Ajv({ allErrors: true });
    const main = require.resolve('styxy/schemas/output/allocate.schema.json');
    for (const dir of [path.dirname(main), path.dirname(path.dirname(main))])
      for (const f of fs.readdirSync(dir).filter((f) => f.endsWith('.schema.json'))) ajv.addSchema(JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')));
    const validate = ajv.getSchema('https://styxy.dev/schemas/output/allocate.schema.json');
    const doc = JSON.parse(process.argv[1]);
    console.log(JSON.stringify([validate(doc), validate({ ...doc, port: String(doc.port) })]));
  `;
  const r = sh(process.execPath, ['-e', reader, document.stdout], { cwd: project });
  expect({ stderr: r.stderr, json: r.json }).toEqual({ stderr: '', json: [true, false] });
});

test('npx styxy from the tarball works from any directory', () => {
  for (const cwd of [box.cwd, '/', os.tmpdir()]) {
    const r = sh('npx', ['--yes', `--package=${tarball}`, 'styxy', 'allocate', '-s', 'dev', '--dry-run', '--json'], { cwd });
    expect({ cwd, stderr: r.stderr, status: r.status }).toEqual({ cwd, stderr: '', status: 0 });
    expect(r.json).toMatchObject({ success: true, port: 3000, dryRun: true });
  }
}, 120_000);

test('TypeScript users compile against the declarations, from ESM and CommonJS (moduleResolution node16)', () => {
  const project = path.join(box.dir, 'ts');
  fs.mkdirSync(path.join(project, 'node_modules'), { recursive: true });
  fs.symlinkSync(extract(path.join(box.dir, 'x')), path.join(project, 'node_modules', 'styxy'));
  const usage = (from: string) => `
    ${from}
    async function main(): Promise<number> {
      const a = await allocate({ serviceType: 'dev', instanceId: 'web', ttl: '30m', home: '/tmp/h', cwd: '/tmp' });
      const port: number = a.port;
      const flags: boolean[] = [a.existing, a.reused, a.autoAllocated];
      const range: [number, number] | undefined = a.newRange;
      const id: string = a.lockId + a.serviceType + a.instanceId;
      await a.release();
      await release(a.lockId);
      await release({ serviceType: 'dev', instanceId: 'web' });
      const live = await list({ serviceType: 'dev' });
      const ports: number[] = live.map((x) => x.port);
      const doubled: string = await withPort({ serviceType: 'test', yes: true }, async (p, allocation) => String(p * 2 + allocation.port));
      try {
        await allocate({ serviceType: 'x', pid: 1 });
      } catch (err) {
        if (err instanceof StyxyError && err.code === 'RANGE_EXHAUSTED') return err.suggestions.length + err.exitCode;
      }
      // @ts-expect-error serviceType is required
      await allocate({ instanceId: 'web' });
      // @ts-expect-error port is a number
      await allocate({ serviceType: 'dev', port: '3000' });
      // @ts-expect-error not an error code
      const never: StyxyError['code'] = 'NOPE';
      return port + flags.length + (range?.[0] ?? 0) + id.length + ports.length + doubled.length + String(never).length;
    }
    void main;
  `;
  fs.writeFileSync(path.join(project, 'esm.mts'), usage(`import { allocate, release, list, withPort, StyxyError } from 'styxy';`));
  fs.writeFileSync(path.join(project, 'cjs.cts'), usage(`import { allocate, release, list, withPort, StyxyError } from 'styxy';`));
  fs.writeFileSync(
    path.join(project, 'default.mts'),
    `import styxy from 'styxy';\nconst p: Promise<unknown> = styxy.allocate({ serviceType: 'dev' });\nvoid p;\n`,
  );
  const tsconfig = {
    compilerOptions: { module: 'node16', moduleResolution: 'node16', target: 'es2022', strict: true, noEmit: true, types: [], esModuleInterop: true },
    files: ['esm.mts', 'cjs.cts', 'default.mts'],
  };
  fs.writeFileSync(path.join(project, 'tsconfig.json'), JSON.stringify(tsconfig));
  const tsc = sh(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', project], { cwd: project });
  expect(tsc.stdout + tsc.stderr).toBe('');
  expect(tsc.status).toBe(0);
  // And a misuse is an error there: the check is not vacuous.
  fs.writeFileSync(path.join(project, 'esm.mts'), `import { allocate } from 'styxy';\nvoid allocate({ serviceType: 3 });\n`);
  expect(sh(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', project], { cwd: project }).stdout).toContain('esm.mts');
}, 60_000);

test('the same commit builds byte-identical bundles, named by a hash of the CLI bundle', () => {
  // A second build, in a copy of the sources, beside this worktree's.
  const copy = path.join(box.dir, 'src');
  for (const entry of ['lib', 'scripts', 'schemas', 'types', 'bin', 'package.json', 'tsconfig.json']) {
    fs.cpSync(path.join(ROOT, entry), path.join(copy, entry), { recursive: true });
  }
  fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(copy, 'node_modules'));
  const build = sh(process.execPath, [path.join(copy, 'scripts', 'build.js')], { cwd: copy });
  expect(build.status).toBe(0);
  const digest = (dir: string) =>
    Object.fromEntries(
      fs
        .readdirSync(dir)
        .filter((n) => /\.(js|mjs|d\.ts)$/.test(n))
        .sort()
        .map((n) => [
          n,
          crypto
            .createHash('sha256')
            .update(fs.readFileSync(path.join(dir, n)))
            .digest('hex'),
        ]),
    );
  const mine = digest(path.join(ROOT, 'dist'));
  expect(Object.keys(mine)).toEqual(
    expect.arrayContaining(['api.js', 'api.mjs', 'api.d.ts', 'boot.js', 'styxy.js', 'yargs.js', 'minimatch.js', 'validators.js', 'yaml.js']),
  );
  expect(digest(path.join(copy, 'dist'))).toEqual(mine);
  const bundle = fs.readFileSync(path.join(ROOT, 'dist', 'styxy.js'));
  const id = /^\/\*styxy-build:([0-9a-f]{16})\*\//.exec(bundle.toString('utf8', 0, 64))?.[1];
  const rest = bundle.subarray(`/*styxy-build:${id}*/`.length);
  expect(crypto.createHash('sha256').update(rest).digest('hex').slice(0, 16)).toBe(id);
}, 120_000);
