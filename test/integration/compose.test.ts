import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { closeServer, freePortBlock, listen, useSandbox } from '../helpers/cli';

// styxy compose with real compose files: the published ports read (short and long syntax,
// ranges, interpolation from the shell and .env, profiles), allocated in one batch, and handed
// to docker compose in an override file. No Docker engine runs here: the file handling is tested
// with --dry-run, and against the real `docker compose config` where the plugin is installed.

const box = useSandbox();

const COMPOSE = `name: shop
x-restart: &restart
  restart: unless-stopped
services:
  web:
    <<: *restart
    image: nginx
    ports:
      - "\${WEB_HOST_PORT:-3000}:80"
      - "9229"
  db:
    image: postgres
    ports:
      - target: 5432
        published: "\${DB_PORT}"
        host_ip: 127.0.0.1
  metrics:
    image: prom/prometheus
    ports: ["127.0.0.1:9090-9091:9090-9091/tcp"]
  debug:
    image: busybox
    profiles: [debug]
    ports: ["4000:4000"]
`;

function worktree(name: string, text = COMPOSE): string {
  const dir = path.join(box.dir, name);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'compose.yaml'), text);
  fs.writeFileSync(path.join(dir, '.env'), 'DB_PORT=5432\n');
  return dir;
}

const TYPES = ['-t', 'web=dev', '-t', 'db=database', '-t', 'metrics=monitoring', '-t', 'debug=dev'];

/** Docker Compose v2 at 2.24.4 or later (for !override), if installed. */
function composeVersion(): number[] | null {
  const r = spawnSync('docker', ['compose', 'version', '--short'], { encoding: 'utf8' });
  const m = /(\d+)\.(\d+)\.(\d+)/.exec(r.stdout ?? '');
  return r.status === 0 && m ? [Number(m[1]), Number(m[2]), Number(m[3])] : null;
}

test('--dry-run reads every published port and prints the override, changing nothing', async () => {
  const dir = worktree('a');
  // Something else listens on the file's 5432: db gets a port of the database range instead.
  const taken = await listen(5432, '127.0.0.1');
  const r = box.run(['compose', '--dry-run', '--json', ...TYPES, '--', 'up', '-d'], { cwd: dir, env: { WEB_HOST_PORT: '3005' } });
  expect(r.code).toBe(0);
  expect(r.json).toMatchObject({ success: true, dryRun: true, composeFile: path.join(dir, 'compose.yaml'), inactive: ['debug'] });
  expect(r.json.ports.map((p: any) => [p.service, p.published, p.target, p.serviceType, p.instanceId])).toEqual([
    ['web', 3005, 80, 'dev', 'web'],
    ['db', 5432, 5432, 'database', 'db'],
    ['metrics', 9090, 9090, 'monitoring', 'metrics-9090'],
    ['metrics', 9091, 9091, 'monitoring', 'metrics-9091'],
  ]);
  await closeServer(taken);
  const ports: number[] = r.json.ports.map((p: any) => p.port);
  // The file's own host ports where they are free (and apart: a range's ports are each their own).
  expect([ports[0], ports[2], ports[3]]).toEqual([3005, 9090, 9091]);
  expect(ports[1]! >= 5430 && ports[1]! <= 5499 && ports[1] !== 5432).toBe(true);
  expect(r.json.projectName).toMatch(/^a-[0-9a-f]{8}$/);
  expect(r.json.env).toEqual({ COMPOSE_PROJECT_NAME: r.json.projectName });
  expect(r.json.overridePath).toBe(path.join(box.home, 'compose', `${r.json.projectName}.override.yaml`));
  expect(r.json.command).toEqual(['docker', 'compose', '-f', path.join(dir, 'compose.yaml'), '-f', r.json.overridePath, 'up', '-d']);
  expect(r.json.override).toContain('- "127.0.0.1:9090:9090/tcp"');
  expect(r.json.override).toContain(`{"target":5432,"published":"${ports[1]}","host_ip":"127.0.0.1"}`);
  expect(r.json.override).toContain('- "9229"');
  // Nothing was allocated or written, in the home or in the project.
  expect(fs.existsSync(r.json.overridePath)).toBe(false);
  expect(box.run(['list', '--json']).json.allocations).toEqual([]);
  expect(fs.readdirSync(dir).sort()).toEqual(['.env', 'compose.yaml']);

  // Human output: the override itself, then the project name and the command as comments.
  const human = box.run(['compose', '--dry-run', ...TYPES, '--', '--profile', 'debug', 'up'], { cwd: dir });
  expect(human.stdout).toMatch(/^services:$/m);
  expect(human.stdout).toMatch(/^ {2}"debug":$/m);
  expect(human.stdout).toMatch(/^# COMPOSE_PROJECT_NAME=a-[0-9a-f]{8}$/m);
});

test('two worktrees of one project get two compose project names', () => {
  const one = box.run(['compose', '--dry-run', '--json', ...TYPES], { cwd: worktree('wt1/shop') });
  const two = box.run(['compose', '--dry-run', '--json', ...TYPES], { cwd: worktree('wt2/shop') });
  expect(one.json.projectName).toMatch(/^shop-/);
  expect(two.json.projectName).toMatch(/^shop-/);
  expect(one.json.projectName).not.toBe(two.json.projectName);
});

test('the override is what the real docker compose config reads (where Compose v2 is installed)', () => {
  const version = composeVersion();
  if (!version || version[0]! < 2 || (version[0] === 2 && (version[1]! < 24 || (version[1] === 24 && version[2]! < 4)))) {
    return console.warn(`skipped: docker compose ≥ 2.24.4 is not installed (found ${version?.join('.') ?? 'none'})`);
  }
  const dir = worktree('real');
  const r = box.run(['compose', '--dry-run', '--json', ...TYPES], { cwd: dir });
  const override = path.join(box.dir, 'override.yaml');
  fs.writeFileSync(override, r.json.override);
  const config = spawnSync('docker', ['compose', '-f', path.join(dir, 'compose.yaml'), '-f', override, 'config', '--format', 'json'], {
    cwd: dir,
    encoding: 'utf8',
  });
  expect(config.status).toBe(0);
  const services = JSON.parse(config.stdout).services;
  expect(services.web.ports.map((p: any) => Number(p.published))).toEqual([r.json.ports[0].port]);
  expect(services.db.ports.map((p: any) => Number(p.published))).toEqual([r.json.ports[1].port]);
});

test('without a usable docker compose: COMPOSE_UNAVAILABLE, and nothing is written', () => {
  const dir = worktree('nodocker');
  const empty = path.join(box.dir, 'empty-bin');
  fs.mkdirSync(empty);
  const r = box.run(['compose', '--json', ...TYPES, '--', 'up', '-d'], { cwd: dir, env: { PATH: empty } });
  expect(r.code).toBe(23);
  expect(r.json.error.code).toBe('COMPOSE_UNAVAILABLE');
  expect(fs.existsSync(box.home)).toBe(false);
  expect(fs.readdirSync(dir).sort()).toEqual(['.env', 'compose.yaml']);
  // This machine's own docker, a client without the compose plugin, is refused the same way.
  if (composeVersion() === null && spawnSync('docker', ['--version']).status === 0) {
    const real = box.run(['compose', '--json', ...TYPES, '--', 'up', '-d'], { cwd: dir });
    expect(real.json.error.code).toBe('COMPOSE_UNAVAILABLE');
    expect(fs.existsSync(box.home)).toBe(false);
  }
});

test.each([
  ['YAML that does not parse', 'services:\n  web:\n    ports: [\n', 'INVALID_ARGUMENT', 3],
  ['a required variable unset', 'services:\n  web:\n    ports: ["${NEEDED:?set NEEDED}:80"]\n', 'INVALID_ARGUMENT', 3],
  ['a port that is not one', 'services:\n  web:\n    ports: ["99999:80"]\n', 'INVALID_ARGUMENT', 3],
  // Each port of a range is a persistent allocation: a cloned repo's file must not ask for thousands.
  ['a range of more than 100 ports', 'services:\n  web:\n    ports: ["3000-3100:3000-3100"]\n', 'INVALID_ARGUMENT', 3],
  [
    'more than 1000 fixed host ports in one file',
    `services:\n  web:\n    ports: [${Array.from({ length: 11 }, (_, i) => `"${20000 + i * 100}-${20099 + i * 100}:${20000 + i * 100}-${20099 + i * 100}"`).join(', ')}]\n`,
    'INVALID_ARGUMENT',
    3,
  ],
  // Billion laughs: each level an alias of nine of the one before.
  [
    'a YAML alias bomb',
    `a: &a ["x","x","x","x","x","x","x","x","x"]\n${['b', 'c', 'd', 'e', 'f', 'g'].map((n, i) => `${n}: &${n} [${Array(9).fill(`*${'abcdef'[i]}`).join(',')}]`).join('\n')}\nservices:\n  web:\n    ports: ["3000:80"]\n    x: *g\n`,
    'INVALID_ARGUMENT',
    3,
  ],
])('%s is refused with its code, and nothing is written', (_what, text, code, status) => {
  const dry = box.run(['compose', '--dry-run', '--json'], { cwd: worktree('bad', text) });
  expect(dry.code).toBe(status);
  expect(dry.json.error.code).toBe(code);
  expect(dry.json.error.details.file).toBe(path.join(box.dir, 'bad', 'compose.yaml'));
  expect(fs.existsSync(box.home)).toBe(false);
});

test('the entry over a limit is named', () => {
  const ranges = Array.from({ length: 11 }, (_, i) => `"${20000 + i * 100}-${20099 + i * 100}:${8000 + i}"`);
  // Ranges of one container port take one host port each: within the limits, allowed.
  expect(box.run(['compose', '--dry-run', '--json'], { cwd: worktree('one-each', `services:\n  web:\n    ports: [${ranges.join(', ')}]\n`) }).code).toBe(0);
  const wide = box.run(['compose', '--dry-run', '--json'], { cwd: worktree('wide', 'services:\n  web:\n    ports: ["80:80", "3000-3100:3000-3100"]\n') });
  expect(wide.json.error.details.problems.map((p: { at: string }) => p.at)).toEqual(['services.web.ports[1]']);
  const many = Array.from({ length: 11 }, (_, i) => `"${20000 + i * 100}-${20099 + i * 100}:${20000 + i * 100}-${20099 + i * 100}"`);
  const over = box.run(['compose', '--dry-run', '--json'], { cwd: worktree('many', `services:\n  web:\n    ports: [${many.join(', ')}]\n`) });
  expect(over.json.error.details.problems.map((p: { at: string }) => p.at)).toEqual(['services.web.ports[10]']);
});

test.each([['../../x'], ['Upper'], ['-dash'], ['a/b']])('COMPOSE_PROJECT_NAME %j is INVALID_ARGUMENT, and nothing is written', (name) => {
  const dir = worktree('named', 'services:\n  web:\n    ports: ["3000:80"]\n');
  const r = box.run(['compose', '--dry-run', '--json', '--', 'up', '-d'], { cwd: dir, env: { COMPOSE_PROJECT_NAME: name } });
  expect(r.code).toBe(3);
  expect(r.json.error.code).toBe('INVALID_ARGUMENT');
  expect(fs.existsSync(box.home)).toBe(false);
  expect(box.run(['compose', '--dry-run', '--json', '--', 'up', '-d'], { cwd: dir, env: { COMPOSE_PROJECT_NAME: 'my_app-2' } }).json.projectName).toBe(
    'my_app-2',
  );
});

test('no compose file is NOT_FOUND', () => {
  const r = box.run(['compose', '--dry-run', '--json']);
  expect(r.code).toBe(8);
  expect(r.json.error.code).toBe('NOT_FOUND');
  expect(box.run(['compose', '-f', 'nope.yaml', '--dry-run', '--json']).json.error.code).toBe('NOT_FOUND');
});

test('a run without --dry-run: ports kept per worktree, the override and project name handed over, released on down', async () => {
  // No Compose v2 here: a `docker` stand-in answers `compose version` as 2.29.0 and records each
  // call (its arguments, COMPOSE_PROJECT_NAME and the override it was handed), so that the path a
  // real run takes through Styxy is exercised whole. What compose itself makes of the override is
  // the test above, against the real `docker compose config`, where it is installed.
  const bin = path.join(box.dir, 'bin');
  fs.mkdirSync(bin);
  const calls = path.join(box.dir, 'calls.jsonl');
  fs.writeFileSync(
    path.join(bin, 'docker'),
    `#!${process.execPath}
const fs = require('fs');
const args = process.argv.slice(2);
if (args[0] === 'compose' && args[1] === 'version') { console.log('2.29.0'); process.exit(0); }
const override = args[args.indexOf('-f', args.indexOf('-f') + 1) + 1];
fs.appendFileSync(${JSON.stringify(calls)}, JSON.stringify({ args, project: process.env.COMPOSE_PROJECT_NAME, override: fs.readFileSync(override, 'utf8') }) + '\\n');
process.exit(args.includes('fail') ? 4 : 0);
`,
    { mode: 0o755 },
  );
  // The file's host ports: four that are free here (the shell's variables win over .env).
  const base = await freePortBlock(4);
  const env = { PATH: `${bin}:${process.env.PATH}`, WEB_HOST_PORT: String(base), DB_PORT: String(base + 1) };
  const text = COMPOSE.replace('9090-9091:9090-9091', `${base + 2}-${base + 3}:9090-9091`);
  const recorded = () =>
    fs
      .readFileSync(calls, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
  const one = worktree('one', text);
  const two = worktree('two', text);

  const up1 = box.run(['compose', '--json', ...TYPES, '--', 'up', '-d'], { cwd: one, env });
  expect(up1.code).toBe(0);
  expect(up1.json).toMatchObject({ success: true, status: 0 });
  const up2 = box.run(['compose', '--json', ...TYPES, '--', 'up', '-d'], { cwd: two, env });
  const ports1 = up1.json.ports.map((p: any) => p.port);
  const ports2 = up2.json.ports.map((p: any) => p.port);
  // The first worktree keeps the file's ports; the second, side by side, gets others.
  expect(ports1).toEqual([base, base + 1, base + 2, base + 3]);
  expect(ports2.filter((p: number) => ports1.includes(p))).toEqual([]);
  const [call1, call2] = recorded();
  expect(call1.args).toEqual(['compose', '-f', path.join(one, 'compose.yaml'), '-f', up1.json.overridePath, 'up', '-d']);
  expect(call1.project).toBe(up1.json.projectName);
  expect(call2.project).toBe(up2.json.projectName);
  expect(call1.project).not.toBe(call2.project);
  expect(call2.override).toBe(up2.json.override);
  expect(call2.override).toContain(`- "${ports2[0]}:80/tcp"`);
  // The override lives under the home, not in the project.
  expect(up1.json.overridePath.startsWith(path.join(box.home, 'compose') + path.sep)).toBe(true);
  expect(fs.readdirSync(one).sort()).toEqual(['.env', 'compose.yaml']);
  // Persistent and sticky: the containers outlive the command, and the next call gets the same ports.
  const held = box.run(['list', '--json']).json.allocations;
  expect(held).toHaveLength(8);
  expect(held.every((a: any) => a.owner.kind === 'persistent')).toBe(true);
  expect(box.run(['compose', '--json', ...TYPES, '--', 'ps'], { cwd: one, env }).json.ports.map((p: any) => p.port)).toEqual(ports1);

  // docker compose's own status is compose's; a failed down releases nothing.
  const failed = box.run(['compose', '--json', ...TYPES, '--', 'down', 'fail'], { cwd: one, env });
  expect(failed.code).toBe(4);
  expect(box.run(['list', '--json']).json.allocations).toHaveLength(8);

  const down = box.run(['compose', '--json', ...TYPES, '--', 'down'], { cwd: one, env });
  expect(down.code).toBe(0);
  expect(down.json.released).toHaveLength(4);
  expect(fs.existsSync(up1.json.overridePath)).toBe(false);
  expect(box.run(['list', '--json']).json.allocations.map((a: any) => a.project)).toEqual([two, two, two, two]);
});

/** A `docker` stand-in that says it is Compose 2.29.0 and succeeds (the test above records what it is handed). */
function okDocker(): NodeJS.ProcessEnv {
  const bin = path.join(box.dir, 'bin');
  fs.mkdirSync(bin);
  fs.writeFileSync(path.join(bin, 'docker'), `#!${process.execPath}\nif (process.argv[3] === 'version') console.log('2.29.0');\n`, { mode: 0o755 });
  return { PATH: `${bin}:${process.env.PATH}` };
}

test("down releases every port this worktree's compose project holds: a profile's, a service since removed", () => {
  const env = okDocker();
  const dir = worktree('one');
  const up = box.run(['compose', '--json', ...TYPES, '--', '--profile', 'debug', 'up', '-d'], { cwd: dir, env });
  expect(up.json?.success).toBe(true);
  expect(up.json.ports.map((p: any) => p.service)).toContain('debug');
  // The file loses a service while its container runs; `down` then names neither it nor the profile.
  fs.writeFileSync(path.join(dir, 'compose.yaml'), COMPOSE.replace(/ {2}metrics:\n.*\n.*\n/, ''));
  const down = box.run(['compose', '--json', ...TYPES, '--', 'down'], { cwd: dir, env });
  expect(down.code).toBe(0);
  expect(down.json.released.sort()).toEqual(up.json.ports.map((p: any) => p.lockId).sort());
  expect(box.run(['list', '--json']).json.allocations).toEqual([]);
});

test('down with service names releases those services alone: the others still publish theirs', () => {
  const env = okDocker();
  const dir = worktree('some');
  const up = box.run(['compose', '--json', ...TYPES, '--', 'up', '-d'], { cwd: dir, env });
  expect(up.json?.success).toBe(true);
  const ports = up.json.ports as Array<{ service: string; lockId: string }>;
  const first = ports[0]!.service;
  const down = box.run(['compose', '--json', ...TYPES, '--', 'down', '-t', '3', first], { cwd: dir, env });
  expect(down.code).toBe(0);
  expect(down.json.released.sort()).toEqual(
    ports
      .filter((p) => p.service === first)
      .map((p) => p.lockId)
      .sort(),
  );
  const others = ports.filter((p) => p.service !== first);
  expect(others.length).toBeGreaterThan(0);
  expect(
    box
      .run(['list', '--json'])
      .json.allocations.map((a: { lockId: string }) => a.lockId)
      .sort(),
  ).toEqual(others.map((p) => p.lockId).sort());
  // The override stays for the services still up; the whole project's down then frees the rest.
  expect(fs.existsSync(up.json.overridePath)).toBe(true);
  expect(box.run(['compose', '--json', ...TYPES, '--', 'down'], { cwd: dir, env }).json.released).toHaveLength(others.length);
  expect(box.run(['list', '--json']).json.allocations).toEqual([]);
});

test('a down where nothing was up allocates nothing and gives no new type a range', () => {
  const env = okDocker();
  const dir = worktree('fresh');
  // No -t: every service would be a new type, with a range written to config.json.
  const down = box.run(['compose', '--json', '--', 'down'], { cwd: dir, env });
  expect(down.code).toBe(0);
  expect(down.json.released).toEqual([]);
  expect(fs.existsSync(path.join(box.home, 'config.json'))).toBe(false);
  expect(box.run(['audit', '--json']).json.events).toEqual([]);
});

test('a file that publishes no fixed host port gets an override whose services are an empty mapping, not null', () => {
  const dir = worktree('none', 'services:\n  web:\n    image: nginx\n    ports: ["80"]\n  worker:\n    image: busybox\n');
  const r = box.run(['compose', '--dry-run', '--json', '--', 'up', '-d'], { cwd: dir });
  expect(r.json?.success).toBe(true);
  expect(r.json.ports).toEqual([]);
  const YAML = require('yaml') as typeof import('yaml');
  expect(YAML.parse(r.json.override)).toEqual({ services: {} });
});

test('-f given twice reads both files, as Compose merges them, and hands both to it before the override', () => {
  const dir = worktree('two-files', 'services:\n  web:\n    image: nginx\n    ports: ["3000:80"]\n');
  fs.writeFileSync(
    path.join(dir, 'compose.db.yaml'),
    'services:\n  db:\n    image: postgres\n    ports: ["5432:5432"]\n  web:\n    ports: ["3000:80", "9229:9229"]\n',
  );
  const r = box.run(['compose', '-f', 'compose.yaml', '-f', 'compose.db.yaml', '--dry-run', '--json', '--', 'up', '-d'], { cwd: dir });
  expect(r.json?.success).toBe(true);
  expect(r.json.ports.map((p: any) => [p.service, p.published])).toEqual([
    ['web', 3000],
    ['web', 9229],
    ['db', 5432],
  ]);
  const files = [path.join(dir, 'compose.yaml'), path.join(dir, 'compose.db.yaml')];
  expect(r.json.composeFiles).toEqual(files);
  expect(r.json.command).toEqual(['docker', 'compose', '-f', files[0], '-f', files[1], '-f', r.json.overridePath, 'up', '-d']);
});

test("without -f, the project's own compose.override.yaml is read and handed on, as Compose itself would", () => {
  const dir = worktree('own-override', 'services:\n  web:\n    image: nginx\n    ports: ["3000:80"]\n');
  fs.writeFileSync(path.join(dir, 'compose.override.yaml'), 'services:\n  web:\n    environment: [DEBUG=1]\n    ports: ["9229:9229"]\n');
  const r = box.run(['compose', '--dry-run', '--json', '--', 'up', '-d'], { cwd: dir });
  expect(r.json?.success).toBe(true);
  expect(r.json.ports.map((p: any) => p.published)).toEqual([3000, 9229]);
  const files = [path.join(dir, 'compose.yaml'), path.join(dir, 'compose.override.yaml')];
  expect(r.json.command).toEqual(['docker', 'compose', '-f', files[0], '-f', files[1], '-f', r.json.overridePath, 'up', '-d']);
});

test("an override's ports tagged !override replace the file's, and !reset drops them, as Compose merges them", () => {
  const dir = worktree(
    'tags',
    'services:\n  web:\n    image: nginx\n    ports: ["3000:80", "3443:443"]\n  db:\n    image: postgres\n    ports: ["5432:5432"]\n',
  );
  fs.writeFileSync(path.join(dir, 'compose.override.yaml'), 'services:\n  web:\n    ports: !override ["3001:8080"]\n  db:\n    ports: !reset []\n');
  const r = box.run(['compose', '--dry-run', '--json', '--', 'up', '-d'], { cwd: dir });
  expect(r.json?.success).toBe(true);
  expect(r.json.ports.map((p: any) => [p.service, p.published])).toEqual([['web', 3001]]);
  // Untagged, an override's ports are added to the file's own.
  fs.writeFileSync(path.join(dir, 'compose.override.yaml'), 'services:\n  web:\n    ports: ["3001:8080"]\n');
  const plain = box.run(['compose', '--dry-run', '--json', '--', 'up', '-d'], { cwd: dir });
  expect(plain.json.ports.map((p: any) => [p.service, p.published])).toEqual([
    ['web', 3000],
    ['web', 3443],
    ['web', 3001],
    ['db', 5432],
  ]);
});
