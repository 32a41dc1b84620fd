import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { closeServer, listen, useSandbox } from '../helpers/cli';

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
  expect(r.code).toBe(21);
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
])('%s is refused with its code, and nothing is written', (_what, text, code, status) => {
  const dry = box.run(['compose', '--dry-run', '--json'], { cwd: worktree('bad', text) });
  expect(dry.code).toBe(status);
  expect(dry.json.error.code).toBe(code);
  expect(dry.json.error.details.file).toBe(path.join(box.dir, 'bad', 'compose.yaml'));
  expect(fs.existsSync(box.home)).toBe(false);
});

test('no compose file is NOT_FOUND', () => {
  const r = box.run(['compose', '--dry-run', '--json']);
  expect(r.code).toBe(8);
  expect(r.json.error.code).toBe('NOT_FOUND');
  expect(box.run(['compose', '-f', 'nope.yaml', '--dry-run', '--json']).json.error.code).toBe('NOT_FOUND');
});
