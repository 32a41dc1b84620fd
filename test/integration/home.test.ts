import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { BIN, persistentAllocations, sandbox, type Sandbox } from '../helpers/cli';
import { canMakeUsers, makeScratchUser, type ScratchUser } from '../helpers/users';

// Where $STYXY_HOME is, and who may read and write it: a home that does not move with the working
// directory, files its owner cannot read, and root never writing a home inside another user's.

let box: Sandbox;
beforeEach(() => {
  box = sandbox();
});
afterEach(() => box.cleanup());

const asRootTest = canMakeUsers ? test : test.skip;

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  json: any;
}

/** A real account (useradd) whose home lies in the sandbox, that can run the built CLI as itself. */
function scratchUser(): ScratchUser & { run(args: string[], env: NodeJS.ProcessEnv, cwd: string): RunResult } {
  const user = makeScratchUser(box.dir, 'shs');
  return Object.assign(user, {
    run(args: string[], env: NodeJS.ProcessEnv, cwd: string): RunResult {
      const r = user.spawn(process.execPath, [BIN, ...args], { env, cwd, encoding: 'utf8', timeout: 60_000 });
      let json: any;
      try {
        json = JSON.parse(r.stdout);
      } catch {
        json = undefined;
      }
      return { code: r.status, stdout: r.stdout, stderr: r.stderr, json };
    },
  });
}

describe('a home that does not move with the working directory', () => {
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
    const user = scratchUser();
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
    const user = scratchUser();
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

describe('root never writes a home inside another user’s home', () => {
  /** A `styxy` on PATH, as an installed one would be, so that a hint can be run as printed. */
  function installShim(): string {
    const bin = path.join(box.dir, 'bin');
    fs.mkdirSync(bin, { mode: 0o755 });
    fs.writeFileSync(path.join(bin, 'styxy'), `#!/bin/sh\nexec ${process.execPath} ${BIN} "$@"\n`, { mode: 0o755 });
    return `${bin}:${process.env.PATH}`;
  }
  const hintCommand = (hint: string) => hint.slice(hint.indexOf(': ') + 2);

  asRootTest('sudo -E: refused with UNSAFE_HOME, nothing created; the hint, run as the user, works', () => {
    const user = scratchUser();
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
    const user = scratchUser();
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
    const user = scratchUser();
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
