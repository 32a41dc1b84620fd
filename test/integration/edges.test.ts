import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { BIN, persistentAllocations, sandbox, type Sandbox } from '../helpers/cli';

// Issue 14: nothing a cloned repository, another version or a typo can do harms the user.

let box: Sandbox;
beforeEach(() => {
  box = sandbox();
});
afterEach(() => box.cleanup());

const statePath = () => path.join(box.home, 'state.json');
const homeFiles = () => fs.readdirSync(box.home).sort();

const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const canSwitchUser = asRoot && spawnSync('setpriv', ['--version']).status === 0 && spawnSync('useradd', ['--help']).status === 0;
const asRootTest = canSwitchUser ? test : test.skip;

interface ScratchUser {
  name: string;
  uid: number;
  gid: number;
  /** Its home directory (from the passwd entry), created and owned by it. */
  home: string;
  /** Runs styxy as this user (setpriv), with exactly the environment given. */
  run(args: string[], env: NodeJS.ProcessEnv, cwd: string): { code: number | null; stdout: string; stderr: string; json: any };
  remove(): void;
}

let scratchCount = 0;
/** A real account (useradd) whose home lies in the sandbox; removed with remove(). */
function scratchUser(dir: string): ScratchUser {
  const name = `styxyt${process.pid % 100000}x${scratchCount++}`;
  const home = path.join(dir, `home-of-${name}`);
  fs.chmodSync(dir, 0o755);
  const added = spawnSync('useradd', ['-M', '-d', home, '-s', '/bin/sh', '-U', name], { encoding: 'utf8' });
  if (added.status !== 0) throw new Error(`useradd failed: ${added.stderr}`);
  const id = (flag: string) => Number(spawnSync('id', [flag, name], { encoding: 'utf8' }).stdout.trim());
  const uid = id('-u');
  const gid = id('-g');
  fs.mkdirSync(home, { mode: 0o755 });
  fs.chownSync(home, uid, gid);
  return {
    name,
    uid,
    gid,
    home,
    run(args, env, cwd) {
      const r = spawnSync('setpriv', [`--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', process.execPath, BIN, ...args], {
        env,
        cwd,
        encoding: 'utf8',
        timeout: 60_000,
      });
      let json: any;
      try {
        json = JSON.parse(r.stdout);
      } catch {
        json = undefined;
      }
      return { code: r.status, stdout: r.stdout, stderr: r.stderr, json };
    },
    remove() {
      spawnSync('userdel', [name]);
    },
  };
}

function writeHomeFile(name: string, text: string): void {
  fs.mkdirSync(box.home, { recursive: true, mode: 0o700 });
  fs.writeFileSync(path.join(box.home, name), text, { mode: 0o600 });
}

describe("another version's state (item 2)", () => {
  const known = {
    lockId: 'dev-kept-000001',
    serviceType: 'dev',
    instanceId: 'kept',
    port: 3007,
    allocatedAt: '2026-01-01T00:00:00.000Z',
  };

  test('unknown fields on an allocation, its owner and the top level are kept and written back unchanged', () => {
    const extraAllocation = { ...known, project: box.cwd, owner: { kind: 'persistent', since: 'boot-7', tags: ['x'] }, badge: { colour: 'blue' } };
    const plain = {
      ...known,
      lockId: 'dev-plain-000002',
      instanceId: 'plain',
      port: 3008,
      project: box.cwd,
      owner: { kind: 'lease', expiresAt: '2999-01-01T00:00:00.000Z' },
    };
    const state = { version: 1, generator: 'styxy 0.9', allocations: [extraAllocation, plain], recentlyReleased: [{ port: 3001, at: 'then' }] };
    writeHomeFile('state.json', JSON.stringify(state));

    const listed = box.run(['list', '--json']);
    expect(listed.code).toBe(0);
    expect(listed.stderr).not.toMatch(/unusable/);
    expect(listed.json.allocations.map((a: { lockId: string }) => a.lockId)).toEqual([known.lockId, plain.lockId]);

    const added = box.run(['allocate', '-s', 'api', '--persistent', '--json']);
    expect(added.code).toBe(0);
    const released = box.run(['release', plain.lockId, '--json']);
    expect(released.code).toBe(0);

    expect(homeFiles().filter((f) => f.includes('corrupt'))).toEqual([]);
    const after = box.readState();
    expect(after.generator).toBe('styxy 0.9');
    expect(after.recentlyReleased).toEqual(state.recentlyReleased);
    expect(after.allocations[0]).toEqual(extraAllocation);
    expect(after.allocations.map((a: { lockId: string }) => a.lockId)).toEqual([known.lockId, added.json.lockId]);
    // Written back in its own line, key order and all.
    expect(fs.readFileSync(statePath(), 'utf8')).toContain(`    ${JSON.stringify(extraAllocation)},\n`);
  });

  test('a state from a newer version fails every command that needs it with STATE_TOO_NEW, and stays byte-identical', () => {
    const text = `{"version": 4, "leases": {"dev-x": {"port": 3000}}, "allocations": "kept elsewhere"}\n`;
    writeHomeFile('state.json', text);
    const before = homeFiles();
    const commands = [
      ['allocate', '-s', 'dev', '--json'],
      ['allocate', '-s', 'brand-new-type', '--json'],
      ['list', '--json'],
      ['release', 'dev-x-000000', '--json'],
      ['release', '-s', 'dev', '--json'],
      ['check', '3000', '--json'],
      ['scan', '--start', '3000', '--end', '3010', '--json'],
      ['cleanup', '--json'],
      ['config', 'set', 'auto-allocation.gap-size', '5', '--json'],
    ];
    for (const args of commands) {
      const r = box.run(args);
      expect({ args, code: r.code, error: r.json?.error?.code }).toEqual({ args, code: 17, error: 'STATE_TOO_NEW' });
      expect(r.json.error.details).toMatchObject({ stateVersion: 4, knownVersion: 3 });
      expect(r.json.error.message).toContain('state version 4');
      expect(r.json.error.message).toContain('state versions 1 to 3');
      expect(fs.readFileSync(statePath(), 'utf8')).toBe(text);
    }
    const run = box.run(['run', '-s', 'dev', '--', process.execPath, '-e', 'require("fs").writeFileSync("ran", "")']);
    expect(run.code).toBe(125);
    expect(box.run(['run', '-s', 'dev', '--json', '--', 'true']).json.error.code).toBe('STATE_TOO_NEW');
    expect(run.stderr).toContain('state version 4');
    expect(fs.existsSync(path.join(box.cwd, 'ran'))).toBe(false);
    expect(homeFiles()).toEqual(before);

    const doctor = box.run(['doctor', '--json']);
    expect(doctor.json.error.code).toBe('NEEDS_ATTENTION');
    const state = doctor.json.error.details.checks.find((c: { name: string }) => c.name === 'state');
    expect(state.status).toBe('fail');
    expect(state.message).toContain('state version 4');
    expect(fs.readFileSync(statePath(), 'utf8')).toBe(text);
  });
});

describe('port_docs_path: never from a project, never outside $STYXY_HOME (item 1)', () => {
  function writeProject(layer: unknown): string {
    const file = path.join(box.cwd, '.styxy.json');
    fs.writeFileSync(file, JSON.stringify(layer));
    return file;
  }

  test.each([
    ['an absolute path', (dir: string) => path.join(dir, 'victim.txt')],
    ['a path climbing out', () => '../../victim.txt'],
    ['a path in the home directory', () => '~/victim.txt'],
  ])("a project's .styxy.json setting it (%s) is INVALID_CONFIG naming the file and key; nothing is written", (_name, docs) => {
    const victim = path.join(box.dir, 'victim.txt');
    fs.writeFileSync(victim, 'SECRET=1\n');
    const file = writeProject({ auto_allocation: { port_docs_path: docs(box.dir) } });
    // HOME is the test's own directory, so that `~/victim.txt` is the victim there.
    const r = box.run(['allocate', '-s', 'grafana', '--json'], { env: { HOME: box.dir } });
    expect(r.code).toBe(9);
    expect(r.json.error.code).toBe('INVALID_CONFIG');
    expect(r.json.error.details.problems).toContainEqual(expect.objectContaining({ file, path: '/auto_allocation/port_docs_path' }));
    expect(fs.readFileSync(victim, 'utf8')).toBe('SECRET=1\n');
    expect(fs.existsSync(path.join(box.home, 'config.json'))).toBe(false);
    // config validate of that file says the same.
    const validate = box.run(['config', 'validate', file, '--json']);
    expect(validate.json.error.details.problems).toContainEqual(expect.objectContaining({ file, path: '/auto_allocation/port_docs_path' }));
  });

  test('a project may still set service types, rules and other settings, and null for the path', () => {
    writeProject({
      service_types: { web: { port_range: [12000, 12009] } },
      auto_allocation: { gap_size: 3, port_docs_path: null },
      auto_allocation_rules: { 'x-*': { chunk_size: 4 } },
    });
    expect(box.run(['allocate', '-s', 'web', '--json']).json.port).toBe(12000);
  });

  test("a project's .styxy.json may not set lifetime: it would decide how long every project's allocations live", () => {
    // Another project's allocation, reserved after its detected owner ended.
    box.writeConfig({ lifetime: { reservation_grace_seconds: 60 } });
    const other = path.join(box.dir, 'other');
    fs.mkdirSync(other);
    const reserved = box.run(['allocate', '-s', 'dev', '-n', 'web', '-q'], { cwd: other });
    expect(reserved.code).toBe(0);
    const before = fs.readFileSync(statePath(), 'utf8');
    const file = writeProject({ lifetime: { reservation_grace_seconds: 0 } });
    const r = box.run(['allocate', '-s', 'dev', '--json']);
    expect(r.json.error.code).toBe('INVALID_CONFIG');
    expect(r.json.error.details.problems).toContainEqual(expect.objectContaining({ file, path: '/lifetime' }));
    expect(fs.readFileSync(statePath(), 'utf8')).toBe(before);
    // The same setting in the user's own config.json is honoured.
    fs.rmSync(file);
    expect(box.run(['config', 'set', 'lifetime.reservation-grace-seconds', '0', '--json']).code).toBe(0);
  });

  test.each(['/etc/styxy-ports.md', '../PORTS.md', 'docs/../../PORTS.md', '~/PORTS.md'])('config.json may not point it outside the home: %s', (docs) => {
    const set = box.run(['config', 'set', 'auto-allocation.port-docs-path', docs, '--json'], { env: { HOME: box.dir } });
    expect(set.json.error.code).toBe('INVALID_CONFIG');
    expect(fs.existsSync(path.join(box.home, 'config.json'))).toBe(false);
    box.writeConfig({ auto_allocation: { port_docs_path: docs } });
    const r = box.run(['allocate', '-s', 'grafana', '--json'], { env: { HOME: box.dir } });
    expect(r.json.error.code).toBe('INVALID_CONFIG');
    expect(r.json.error.details.problems).toContainEqual(
      expect.objectContaining({ file: path.join(box.home, 'config.json'), path: '/auto_allocation/port_docs_path' }),
    );
    expect(fs.existsSync(path.join(box.dir, 'PORTS.md'))).toBe(false);
  });

  test("from config.json it is honoured inside the home, by Styxy's writer: directories made, the file private", () => {
    box.writeConfig({ auto_allocation: { port_docs_path: 'docs/ports/PORTS.md' } });
    expect(box.run(['allocate', '-s', 'grafana', '--json']).code).toBe(0);
    box.writeConfig({
      ...JSON.parse(fs.readFileSync(path.join(box.home, 'config.json'), 'utf8')),
      auto_allocation: { port_docs_path: path.join(box.home, 'docs/ports/PORTS.md') },
    });
    expect(box.run(['allocate', '-s', 'jaeger', '--json']).code).toBe(0);
    const file = path.join(box.home, 'docs', 'ports', 'PORTS.md');
    const text = fs.readFileSync(file, 'utf8');
    expect(text.match(/\| grafana \|/g)).toHaveLength(1);
    expect(text.match(/\| jaeger \|/g)).toHaveLength(1);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
  });

  test.each([
    ['the document', 'PORTS.md'],
    ['a directory on the way', 'docs'],
  ])('a symlink planted as %s is refused, its target untouched; the allocation itself is made', (_name, link) => {
    const outside = path.join(box.dir, 'outside');
    fs.mkdirSync(outside);
    fs.writeFileSync(path.join(outside, 'PORTS.md'), 'mine\n');
    box.writeConfig({ auto_allocation: { port_docs_path: link === 'docs' ? 'docs/PORTS.md' : 'PORTS.md' } });
    fs.symlinkSync(link === 'docs' ? outside : path.join(outside, 'PORTS.md'), path.join(box.home, link));
    const r = box.run(['allocate', '-s', 'grafana', '--json']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/the change was made, but .* symbolic link/);
    expect(fs.readdirSync(outside)).toEqual(['PORTS.md']);
    expect(fs.readFileSync(path.join(outside, 'PORTS.md'), 'utf8')).toBe('mine\n');
  });
});

describe('nothing is removed, rotated or read through a symlink (item 4)', () => {
  const deadPid = () => spawnSync('true').pid as number;

  test('backups/ as a symlink to another directory: config changes refused with UNSAFE_HOME, that directory untouched', () => {
    const other = path.join(box.dir, 'other');
    fs.mkdirSync(other);
    for (let n = 10; n < 22; n++) fs.writeFileSync(path.join(other, `config.json.2020-01-${n}`), `keep ${n}`);
    box.writeConfig({ auto_allocation: { gap_size: 4 } });
    const config = fs.readFileSync(path.join(box.home, 'config.json'), 'utf8');
    fs.symlinkSync(other, path.join(box.home, 'backups'));
    const before = fs.readdirSync(other).sort();
    for (const args of [
      ['config', 'set', 'auto-allocation.gap-size', '5', '--json'],
      ['allocate', '-s', 'grafana', '--json'],
    ]) {
      const r = box.run(args);
      expect({ args, code: r.code, error: r.json.error?.code }).toEqual({ args, code: 11, error: 'UNSAFE_HOME' });
      expect(r.json.error.message).toContain(path.join(box.home, 'backups'));
    }
    expect(fs.readdirSync(other).sort()).toEqual(before);
    expect(fs.readFileSync(path.join(box.home, 'config.json'), 'utf8')).toBe(config);
  });

  test("a dead caller's lock leftover planted as a symlink to a directory: UNSAFE_HOME, nothing in it removed", () => {
    box.run(['list']);
    const other = path.join(box.dir, 'other');
    fs.mkdirSync(other);
    fs.writeFileSync(path.join(other, 'holder'), 'x');
    fs.writeFileSync(path.join(other, 'precious.txt'), 'x');
    const link = path.join(box.home, `state.json.lock.old-${deadPid()}-abcd`);
    fs.symlinkSync(other, link);
    const r = box.run(['allocate', '-s', 'dev', '--json']);
    expect(r.code).toBe(11);
    expect(r.json.error.code).toBe('UNSAFE_HOME');
    expect(r.json.error.message).toContain(link);
    expect(fs.readdirSync(other).sort()).toEqual(['holder', 'precious.txt']);
    // A real leftover directory is still swept.
    fs.unlinkSync(link);
    const real = path.join(box.home, `state.json.lock.new-${deadPid()}-abcd`);
    fs.mkdirSync(real);
    fs.writeFileSync(path.join(real, 'holder'), 'x');
    expect(box.run(['allocate', '-s', 'dev', '--json']).code).toBe(0);
    expect(fs.existsSync(real)).toBe(false);
  });

  test('a rotation of audit.log planted as a symlink: not rotated, not read; the change is made and the warning says what was not', () => {
    expect(box.run(['allocate', '-s', 'dev', '--persistent', '--json']).code).toBe(0);
    const audit = path.join(box.home, 'audit.log');
    fs.truncateSync(audit, 10 * 1024 * 1024);
    const secret = path.join(box.dir, 'secret.jsonl');
    fs.writeFileSync(secret, '{"action":"secret","timestamp":"2026-01-01T00:00:00.000Z"}\n');
    fs.symlinkSync(secret, `${audit}.2`);
    const r = box.run(['allocate', '-s', 'api', '--persistent', '--json']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/the change was made, but writing the audit log failed: .*audit\.log\.2 is a symbolic link/);
    expect(fs.lstatSync(`${audit}.2`).isSymbolicLink()).toBe(true);
    expect(fs.existsSync(`${audit}.1`)).toBe(false);
    expect(fs.existsSync(`${audit}.3`)).toBe(false);
    expect(box.readState().allocations).toHaveLength(2);
    const read = box.run(['audit', '--json']);
    expect(read.code).toBe(11);
    expect(read.json.error.code).toBe('UNSAFE_HOME');
    expect(read.stdout).not.toContain('secret');
  });
});

describe('a home that does not move with the working directory (item 5)', () => {
  test.each(['rel-home', './styxy', '~/.styxy'])('a relative STYXY_HOME (%s) is refused naming it; nothing is created', (value) => {
    for (const args of [
      ['allocate', '-s', 'dev', '--json'],
      ['list', '--json'],
    ]) {
      const r = box.run(args, { env: { STYXY_HOME: value } });
      expect(r.code).toBe(3);
      expect(r.json.error.code).toBe('INVALID_ARGUMENT');
      expect(r.json.error.message).toContain('STYXY_HOME');
      expect(r.json.error.details).toEqual({ variable: 'STYXY_HOME', value });
    }
    expect(fs.readdirSync(box.cwd)).toEqual([]);
  });

  asRootTest("an empty HOME falls back to the account's home: two directories share one state", () => {
    const user = scratchUser(box.dir);
    try {
      const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, NO_COLOR: '1', HOME: '' };
      const dirs = ['a', 'b'].map((d) => path.join(user.home, d));
      for (const d of dirs) {
        fs.mkdirSync(d);
        fs.chownSync(d, user.uid, user.gid);
      }
      const ports = dirs.map((d) => {
        const r = user.run(['allocate', '-s', 'dev', '--persistent', '--json'], env, d);
        expect(r.code).toBe(0);
        return r.json.port;
      });
      expect(new Set(ports).size).toBe(2);
      for (const d of dirs) expect(fs.readdirSync(d)).toEqual([]);
      const state = JSON.parse(fs.readFileSync(path.join(user.home, '.styxy', 'state.json'), 'utf8'));
      expect(state.allocations).toHaveLength(2);
    } finally {
      user.remove();
    }
  });
});

describe('a file of its home its owner cannot read', () => {
  asRootTest('state.json, a settled file and config.json at mode 000: UNSAFE_HOME or INVALID_CONFIG naming the file and the remedy; nothing changed', () => {
    const user = scratchUser(box.dir);
    try {
      const home = path.join(user.home, '.styxy');
      const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, NO_COLOR: '1', HOME: user.home, STYXY_HOME: home };
      expect(user.run(['allocate', '-s', 'dev', '-q'], env, user.home).code).toBe(0);
      const state = path.join(home, 'state.json');
      const text = fs.readFileSync(state, 'utf8');
      fs.chmodSync(state, 0);
      for (const args of [
        ['allocate', '-s', 'dev', '--json'],
        ['list', '--json'],
      ]) {
        const r = user.run(args, env, user.home);
        expect([r.code, r.json.error.code, r.json.error.message]).toEqual([
          11,
          'UNSAFE_HOME',
          `${state} cannot be read: permission denied; nothing was changed`,
        ]);
        expect(r.json.error.suggestions).toEqual([`Give it back to yourself, readable: chmod u+rw ${state}`]);
      }
      fs.chmodSync(state, 0o600);
      expect(fs.readFileSync(state, 'utf8')).toBe(text);

      // 2 500 persistent allocations, settled by the next call into a file of their own (see settled.test.ts).
      const allocations = persistentAllocations(
        Array.from({ length: 2500 }, () => 'dev'),
        user.home,
      );
      fs.writeFileSync(state, JSON.stringify({ version: 1, allocations }), { mode: 0o600 });
      expect(user.run(['allocate', '-s', 'api', '-q'], env, user.home).code).toBe(0);
      const settled = path.join(
        home,
        fs.readdirSync(home).find((n) => /^state\.settled-[0-9a-f]{16}\.json$/.test(n))!,
      );
      fs.chmodSync(settled, 0);
      const listed = user.run(['list', '--json'], env, user.home);
      expect([listed.code, listed.json.error.code, listed.json.error.message]).toEqual([
        11,
        'UNSAFE_HOME',
        `${settled} cannot be read: permission denied; nothing was changed`,
      ]);
      fs.chmodSync(settled, 0o600);
      expect(user.run(['list', '--json'], env, user.home).json.allocations).toHaveLength(2501);

      const config = path.join(home, 'config.json');
      fs.writeFileSync(config, '{}', { mode: 0 });
      fs.chownSync(config, user.uid, user.gid);
      const r = user.run(['allocate', '-s', 'dev', '--json'], env, user.home);
      expect([r.code, r.json.error.code]).toEqual([9, 'INVALID_CONFIG']);
      expect(JSON.stringify(r.json.error)).toContain(`cannot read: permission denied (chmod u+rw ${config})`);
    } finally {
      user.remove();
    }
  });
});

describe('a broken config.json blocks only what needs it (item 10)', () => {
  const broken = '{\n  "auto_allocation": { "gap_size": 3, },\n  "colour": "blue",\n  "service_types": { "web": { "port_range": [12000, 12009] }, },\n}\n';

  test('list, check, scan, audit, release and cleanup work and warn; allocate, run and config changes refuse with every problem at once', () => {
    const kept = box.run(['allocate', '-s', 'dev', '--persistent', '--json']).json;
    const other = box.run(['allocate', '-s', 'api', '--persistent', '--json']).json;
    writeHomeFile('config.json', broken);
    const config = path.join(box.home, 'config.json');
    // Each trailing comma, as [line, column]: two on line 4 (inside and after service_types).
    const lines = broken.split('\n');
    const commas = [
      [2, (lines[1] as string).indexOf(', }') + 1],
      [4, (lines[3] as string).indexOf(', }') + 1],
      [4, (lines[3] as string).length],
    ];
    const works: string[][] = [
      ['list', '--json'],
      ['check', String(kept.port), '--json'],
      ['scan', '--start', '2990', '--end', '3100', '--json'],
      ['audit', '--json'],
      ['cleanup', '--json'],
      ['release', other.lockId, '--json'],
    ];
    for (const args of works) {
      const r = box.run(args);
      expect({ args, code: r.code }).toEqual({ args, code: 0 });
      expect(r.json.success).toBe(true);
      if (args[0] !== 'audit') expect(r.stderr).toContain(`warning: the config is invalid`);
      if (args[0] !== 'audit') expect(r.stderr).toContain(`${config}:2:${commas[0]?.[1]}`);
    }
    expect(box.run(['list', '--json']).json.allocations.map((a: { lockId: string }) => a.lockId)).toEqual([kept.lockId]);

    const refuses: string[][] = [
      ['allocate', '-s', 'dev', '--json'],
      ['allocate', '-s', 'brand-new', '--json'],
      ['config', 'set', 'auto-allocation.gap-size', '5', '--json'],
      ['config', 'auto-allocation', 'set-rule', 'x-*', '--chunk-size', '4', '--json'],
      ['config', 'auto-allocation', 'disable', '--json'],
    ];
    for (const args of refuses) {
      const r = box.run(args);
      expect({ args, code: r.code, error: r.json?.error?.code }).toEqual({ args, code: 9, error: 'INVALID_CONFIG' });
      // Every problem at once: both trailing commas with line and column, and the unknown key.
      expect(r.json.error.details.problems).toEqual([
        ...commas.map(([line, column]) => ({
          file: config,
          layer: 'user config',
          path: '/',
          line,
          column,
          message: 'not valid JSON: trailing comma (remove it)',
        })),
        expect.objectContaining({ file: config, path: '/colour', message: "unknown key 'colour'" }),
      ]);
    }
    const run = box.run(['run', '-s', 'dev', '--json', '--', process.execPath, '-e', 'require("fs").writeFileSync("ran", "")']);
    expect([run.code, run.json.error.code]).toEqual([125, 'INVALID_CONFIG']);
    expect(fs.existsSync(path.join(box.cwd, 'ran'))).toBe(false);
    expect(fs.readFileSync(config, 'utf8')).toBe(broken);
  });
});

describe('an unparseable config is reported by place, never by content (item 8)', () => {
  test('.styxy.json linked to a file of secrets: INVALID_CONFIG with file, line and column, and not a byte of it', () => {
    const secrets = path.join(box.dir, 'env');
    fs.writeFileSync(secrets, 'SHELL=/bin/bash\nAWS_SECRET_ACCESS_KEY=hunter2hunter2\n');
    const link = path.join(box.cwd, '.styxy.json');
    fs.symlinkSync(secrets, link);
    for (const args of [
      ['allocate', '-s', 'dev', '--json'],
      ['allocate', '-s', 'dev'],
      ['config', 'validate'],
      ['config', 'validate', link, '--json'],
      ['doctor', '--json'],
    ]) {
      const r = box.run(args);
      expect(r.code).not.toBe(0);
      const out = r.stdout + r.stderr;
      expect(out).not.toMatch(/SHELL|bash|AWS|hunter2/);
      expect(out).toContain(`${link}:1:1`);
    }
    const r = box.run(['allocate', '-s', 'dev', '--json']);
    expect(r.json.error.code).toBe('INVALID_CONFIG');
    expect(r.json.error.details.problems).toEqual([
      { file: link, layer: 'project config', path: '/', line: 1, column: 1, message: 'not valid JSON: unexpected character where a value should start' },
    ]);
  });
});

describe('a problem is blamed on the file and layer that introduced it (item 11)', () => {
  test('config.json widening dev over monitoring blames config.json, and the hint names only files you can fix', () => {
    box.writeConfig({ service_types: { dev: { port_range: [3000, 3199] } } });
    const config = path.join(box.home, 'config.json');
    const r = box.run(['allocate', '-s', 'dev', '--json']);
    expect(r.json.error.code).toBe('INVALID_CONFIG');
    expect(r.json.error.details.problems).toEqual([
      {
        file: config,
        layer: 'user config',
        path: '/service_types/dev/port_range',
        message: "range 3000-3199 of 'dev' overlaps 3100-3199 of 'monitoring' (from built-in defaults)",
      },
    ]);
    expect(r.json.error.suggestions).toEqual([`Fix ${config} and check it with: styxy config validate`]);
    const human = box.run(['allocate', '-s', 'dev']);
    expect(human.stderr).toContain(`${config} (user config): /service_types/dev/port_range`);
    expect(human.stderr).not.toMatch(/Fix built-in/);
  });

  test('a project range overlapped by config.json blames config.json; preferred ports and bounds blame the layer that set them', () => {
    const project = path.join(box.cwd, '.styxy.json');
    fs.writeFileSync(project, JSON.stringify({ service_types: { web: { port_range: [12000, 12099] } }, auto_allocation: { max_port: 20000 } }));
    box.writeConfig({ service_types: { zeta: { port_range: [11990, 12005] }, dev: { preferred_ports: [5000] } }, auto_allocation: { min_port: 30000 } });
    const config = path.join(box.home, 'config.json');
    const problems = box.run(['allocate', '-s', 'dev', '--json']).json.error.details.problems;
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ file: config, layer: 'user config', path: '/service_types/zeta/port_range' }),
        expect.objectContaining({ file: config, layer: 'user config', path: '/service_types/dev/preferred_ports/0' }),
        expect.objectContaining({ file: config, layer: 'user config', path: '/auto_allocation/min_port' }),
      ]),
    );
    expect(problems).toHaveLength(3);
  });
});

describe('a failed audit append leaves whole lines (item 6)', () => {
  test('the disk fills mid-append: the log is as it was, the warning says the change was made and what was not logged, the next event is read', () => {
    expect(box.run(['allocate', '-s', 'dev', '--persistent', '--json']).code).toBe(0);
    const audit = path.join(box.home, 'audit.log');
    const before = fs.readFileSync(audit, 'utf8');
    const r = box.run(['allocate', '-s', 'api', '--persistent', '--json'], { env: { STYXY_TEST_FULL_AT: 'during-audit' } });
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(
      /the change was made, but writing the audit log failed: could not append to .*audit\.log \(the disk is full\); it was left as it was, without 1 event \(allocate\)/,
    );
    expect(r.stderr).not.toMatch(/nothing was changed/);
    expect(box.readState().allocations).toHaveLength(2);
    expect(fs.readFileSync(audit, 'utf8')).toBe(before);
    const next = box.run(['allocate', '-s', 'ui', '--persistent', '--json']).json;
    const events = box.run(['audit', '--json']).json.events;
    expect(events.map((e: { action: string; lockId: string }) => e.lockId)).toContain(next.lockId);
    expect(fs.readFileSync(audit, 'utf8').endsWith('\n')).toBe(true);
  });

  test('a log left mid-line by a killed writer: the next event starts a line of its own and is read', () => {
    expect(box.run(['allocate', '-s', 'dev', '--persistent', '--json']).code).toBe(0);
    const audit = path.join(box.home, 'audit.log');
    fs.appendFileSync(audit, '{"action":"allocate","serviceType":"to');
    const next = box.run(['allocate', '-s', 'api', '--persistent', '--json']).json;
    const events = box.run(['audit', '--json']).json.events;
    expect(events.map((e: { lockId: string }) => e.lockId)).toContain(next.lockId);
  });
});

describe('root never writes a home inside another user’s home (item 12)', () => {
  /** A `styxy` on PATH, as an installed one would be, so that a hint can be run as printed. */
  function installShim(): string {
    const bin = path.join(box.dir, 'bin');
    fs.mkdirSync(bin, { mode: 0o755 });
    fs.writeFileSync(path.join(bin, 'styxy'), `#!/bin/sh\nexec ${process.execPath} ${BIN} "$@"\n`, { mode: 0o755 });
    return `${bin}:${process.env.PATH}`;
  }
  const hintCommand = (hint: string) => hint.slice(hint.indexOf(': ') + 2);

  asRootTest('sudo -E: refused with UNSAFE_HOME, nothing created; the hint, run as the user, works', () => {
    const user = scratchUser(box.dir);
    try {
      const PATH = installShim();
      const env: NodeJS.ProcessEnv = { PATH, NO_COLOR: '1', HOME: user.home, SUDO_USER: user.name, SUDO_UID: String(user.uid), SUDO_GID: String(user.gid) };
      const r = spawnSync(process.execPath, [BIN, 'allocate', '-s', 'dev', '--json'], { env, cwd: user.home, encoding: 'utf8' });
      const out = JSON.parse(r.stdout);
      expect(r.status).toBe(11);
      expect(out.error.code).toBe('UNSAFE_HOME');
      expect(out.error.details).toMatchObject({ path: path.join(user.home, '.styxy'), user: user.name, uid: user.uid });
      expect(fs.existsSync(path.join(user.home, '.styxy'))).toBe(false);
      const [asUser = '', asRoot = ''] = out.error.suggestions as string[];
      expect(asUser).toBe(`Run it as ${user.name}, without sudo: styxy allocate -s dev --json`);
      expect(asRoot).toMatch(/^Or give root a home of its own: sudo env STYXY_HOME=\S+ styxy allocate -s dev --json$/);
      // The user runs the first hint as printed (in their shell, without sudo).
      const shell = spawnSync('setpriv', [`--reuid=${user.uid}`, `--regid=${user.gid}`, '--clear-groups', 'sh', '-c', hintCommand(asUser)], {
        env: { PATH, HOME: user.home, NO_COLOR: '1' },
        cwd: user.home,
        encoding: 'utf8',
      });
      expect(shell.status).toBe(0);
      expect(JSON.parse(shell.stdout).success).toBe(true);
      expect(fs.statSync(path.join(user.home, '.styxy')).uid).toBe(user.uid);
    } finally {
      user.remove();
    }
  });

  asRootTest('an explicit STYXY_HOME in a user’s home, and a home root already made there: refused, unchanged; runuser hint works', () => {
    const user = scratchUser(box.dir);
    try {
      const PATH = installShim();
      const styxyHome = path.join(user.home, 'work', 'styxy');
      fs.mkdirSync(path.dirname(styxyHome));
      fs.chownSync(path.dirname(styxyHome), user.uid, user.gid);
      const env: NodeJS.ProcessEnv = { PATH, NO_COLOR: '1', HOME: '/root', STYXY_HOME: styxyHome };
      const r = spawnSync(process.execPath, [BIN, 'list', '--json'], { env, cwd: '/', encoding: 'utf8' });
      expect(JSON.parse(r.stdout).error.code).toBe('UNSAFE_HOME');
      expect(fs.existsSync(styxyHome)).toBe(false);
      const hint = JSON.parse(r.stdout).error.suggestions[0] as string;
      expect(hint).toBe(`Run it as ${user.name}: runuser -u ${user.name} -- styxy list --json`);
      const ran = spawnSync('sh', ['-c', hintCommand(hint)], { env, cwd: '/', encoding: 'utf8' });
      expect(ran.status).toBe(0);
      expect(fs.statSync(styxyHome).uid).toBe(user.uid);

      // A home an earlier sudo run left to root inside the user's home: root does not write it either.
      const left = path.join(user.home, '.styxy');
      fs.mkdirSync(left, { mode: 0o700 });
      fs.writeFileSync(path.join(left, 'state.json'), '{"version": 1, "allocations": []}\n', { mode: 0o600 });
      const again = spawnSync(process.execPath, [BIN, 'allocate', '-s', 'dev', '--json'], {
        env: { PATH, HOME: user.home, SUDO_USER: user.name, NO_COLOR: '1' },
        cwd: '/',
        encoding: 'utf8',
      });
      expect(JSON.parse(again.stdout).error.code).toBe('UNSAFE_HOME');
      expect(fs.readdirSync(left)).toEqual(['state.json']);
    } finally {
      user.remove();
    }
  });

  asRootTest('the user locked out by a root-owned home is told a command that gives it back, and it works', () => {
    const user = scratchUser(box.dir);
    try {
      const left = path.join(user.home, '.styxy');
      fs.mkdirSync(left, { mode: 0o700 });
      const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: user.home, NO_COLOR: '1' };
      const r = user.run(['allocate', '-s', 'dev', '--json'], env, user.home);
      expect(r.json.error.code).toBe('UNSAFE_HOME');
      const hint = r.json.error.suggestions[0] as string;
      expect(hint).toBe(`It was made by root (a sudo run?); give it back: sudo chown -R "$(id -u):$(id -g)" ${left}`);
      // The user's shell expands $(id -u) and $(id -g); sudo then runs the rest as root.
      const expanded = spawnSync(
        'setpriv',
        [`--reuid=${user.uid}`, `--regid=${user.gid}`, '--clear-groups', 'sh', '-c', `echo ${hintCommand(hint).replace(/^sudo /, '')}`],
        { env, encoding: 'utf8' },
      ).stdout.trim();
      expect(expanded).toBe(`chown -R ${user.uid}:${user.gid} ${left}`);
      expect(spawnSync('sh', ['-c', expanded]).status).toBe(0);
      expect(user.run(['allocate', '-s', 'dev', '--json'], env, user.home).code).toBe(0);
    } finally {
      user.remove();
    }
  });
});
