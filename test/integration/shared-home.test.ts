import { spawn, spawnSync, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as net from 'net';
import * as path from 'path';
import { BIN, ROOT, killAndWait, useSandbox, waitFor } from '../helpers/cli';
import { checkOutput } from '../helpers/output-schemas';

// Several Unix users on one machine (docs/shared-machines.md), with real accounts: useradd and
// groupadd here (names `sxsh` + a random suffix), userdel and groupdel in afterAll. Each user
// runs the built CLI through setpriv, with exactly the groups given. Nothing needs opening up:
// the checkout, dist/ and node are world-readable already; each test's sandbox directory (0700
// from mkdtemp) is made 0755 so that the users can reach the homes inside it.

const box = useSandbox();

const asRoot = typeof process.getuid === 'function' && process.getuid() === 0;
const tools = ['setpriv', 'useradd', 'userdel', 'groupadd', 'groupdel'].every((t) => spawnSync('which', [t]).status === 0);
const suite = asRoot && tools ? describe : describe.skip;

interface Account {
  name: string;
  uid: number;
  gid: number;
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  json: any;
}

const suffix = Math.random().toString(36).slice(2, 8);
const groupName = `sxsh${suffix}g`;
let groupId = -1;
const accounts: Record<'alice' | 'bob' | 'carol', Account> = {} as never;

function makeAccount(name: string, member: boolean): Account {
  const args = ['-M', '-N', '-s', '/bin/sh', ...(member ? ['-G', groupName] : []), name];
  const added = spawnSync('useradd', args, { encoding: 'utf8' });
  if (added.status !== 0) throw new Error(`useradd ${name}: ${added.stderr}`);
  const id = (flag: string) => Number(spawnSync('id', [flag, name], { encoding: 'utf8' }).stdout.trim());
  return { name, uid: id('-u'), gid: id('-g') };
}

beforeAll(() => {
  if (!(asRoot && tools)) return;
  const made = spawnSync('groupadd', [groupName], { encoding: 'utf8' });
  if (made.status !== 0) throw new Error(`groupadd: ${made.stderr}`);
  groupId = Number(spawnSync('getent', ['group', groupName], { encoding: 'utf8' }).stdout.split(':')[2]);
  accounts.alice = makeAccount(`sxsh${suffix}a`, true);
  accounts.bob = makeAccount(`sxsh${suffix}b`, true);
  accounts.carol = makeAccount(`sxsh${suffix}c`, false);
});

afterAll(() => {
  for (const account of Object.values(accounts)) spawnSync('userdel', ['-r', account.name]);
  if (groupId !== -1) spawnSync('groupdel', [groupName]);
});

/** setpriv's arguments to become `who`, a member of the shared group unless told otherwise. */
function become(who: Account, member: boolean): string[] {
  return [`--reuid=${who.uid}`, `--regid=${who.gid}`, ...(member ? [`--groups=${groupId}`] : ['--clear-groups'])];
}

/** A HOME of the user's own in the sandbox (for the code cache), and the environment to run with. */
function envOf(who: Account, styxyHome: string): NodeJS.ProcessEnv {
  const home = path.join(box.dir, `home-${who.name}`);
  if (!fs.existsSync(home)) {
    fs.mkdirSync(home, { mode: 0o700 });
    fs.chownSync(home, who.uid, who.gid);
  }
  return { PATH: process.env.PATH, HOME: home, NO_COLOR: '1', STYXY_HOME: styxyHome };
}

function as(who: Account, styxyHome: string, args: string[], { member = true, extraEnv = {} as NodeJS.ProcessEnv, cwd = box.cwd } = {}): Run {
  const r = spawnSync('setpriv', [...become(who, member), process.execPath, BIN, ...args], {
    env: { ...envOf(who, styxyHome), ...extraEnv },
    cwd,
    encoding: 'utf8',
    timeout: 60_000,
  });
  checkOutput(args, r.stdout, r.status);
  let json: any;
  try {
    json = JSON.parse(r.stdout);
  } catch {
    json = undefined;
  }
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, json };
}

/** A long-lived process of `who` (setpriv execs, so its PID is the process's). */
function processOf(who: Account, command: string[]): ChildProcess & { pid: number } {
  return spawn('setpriv', [...become(who, true), ...command], { stdio: 'ignore', env: envOf(who, '/nonexistent') }) as ChildProcess & { pid: number };
}

/** The shared home as an administrator makes it: root's, group-owned, setgid, 2770 (install -d -m 2770 -g G). */
function sharedHome(parentOwner?: Account): string {
  fs.chmodSync(box.dir, 0o755);
  let parent = box.dir;
  if (parentOwner) {
    // A team directory of a user's (not root's), as /srv/team might be.
    parent = path.join(box.dir, 'team');
    fs.mkdirSync(parent, { mode: 0o755 });
    fs.chownSync(parent, parentOwner.uid, parentOwner.gid);
  }
  const home = path.join(parent, 'shared');
  const made = spawnSync('install', ['-d', '-m', '2770', '-g', groupName, home], { encoding: 'utf8' });
  if (made.status !== 0) throw new Error(`install -d: ${made.stderr}`);
  return home;
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}

suite('a shared home (group-owned, setgid)', () => {
  test('members share it: each allocation records its user, a reserved port is never handed to another member, files stay the group’s', async () => {
    const home = sharedHome();
    const { alice, bob } = accounts;
    // Alice's owner is a live process of hers; nothing listens on her port (reserved, not bound).
    const owner = processOf(alice, ['sleep', '600']);
    try {
      const mine = as(alice, home, ['allocate', '-s', 'dev', '--pid', String(owner.pid), '--json']);
      expect(mine.json).toMatchObject({ success: true, user: { uid: alice.uid, name: alice.name } });
      const theirs = as(bob, home, ['allocate', '-s', 'dev', '--persistent', '--json']);
      expect(theirs.json).toMatchObject({ success: true, user: { uid: bob.uid, name: bob.name } });
      expect(theirs.json.port).not.toBe(mine.json.port);

      // Bob's calls judge Alice's owner alive (another user's process), and show whose each is.
      const listed = as(bob, home, ['list', '--json']);
      expect(listed.json.allocations.map((a: any) => [a.port, a.user.name])).toEqual(
        [
          [mine.json.port, alice.name],
          [theirs.json.port, bob.name],
        ].sort((x, y) => (x[0] as number) - (y[0] as number)),
      );
      const human = as(bob, home, ['list', '-v']).stdout;
      expect(human).toMatch(/USER/);
      expect(human).toContain(alice.name);
      const checked = as(bob, home, ['check', String(mine.json.port), '--json']);
      expect(checked.json.allocation.user).toEqual({ uid: alice.uid, name: alice.name });
      // The Node API's list, in a process of Bob's.
      const api = spawnSync(
        'setpriv',
        [
          ...become(bob, true),
          process.execPath,
          '-e',
          `require(${JSON.stringify(path.join(ROOT, 'dist', 'api.js'))}).list().then((l) => console.log(JSON.stringify(l.map((a) => a.user))))`,
        ],
        { env: envOf(bob, home), cwd: box.cwd, encoding: 'utf8' },
      );
      expect(JSON.parse(api.stdout)).toContainEqual({ uid: alice.uid, name: alice.name });

      // Every file is the group's, readable and writable by it, whoever wrote it, whatever the umask.
      for (const name of ['state.json', 'audit.log']) {
        const stat = fs.statSync(path.join(home, name));
        expect([name, stat.gid, (stat.mode & 0o777).toString(8)]).toEqual([name, groupId, '660']);
      }
      expect((fs.statSync(home).mode & 0o7777).toString(8)).toBe('2770');
      // doctor judges it as the shared home it is.
      const doctor = as(bob, home, ['doctor', '--json']).json;
      expect(doctor.checks.filter((c: any) => c.name === 'home' || c.name === 'files').map((c: any) => [c.name, c.status])).toEqual([
        ['home', 'ok'],
        ['files', 'ok'],
      ]);
    } finally {
      await killAndWait(owner);
    }
  });

  test('a member’s owner ends while her server listens: another member’s calls keep the allocation, hers hands it to the server', async () => {
    const home = sharedHome();
    const { alice, bob } = accounts;
    const owner = processOf(alice, ['sleep', '600']);
    let server: ChildProcess | undefined;
    try {
      const mine = as(alice, home, ['allocate', '-s', 'dev', '--pid', String(owner.pid), '--json']).json;
      server = processOf(alice, [process.execPath, '-e', `require('net').createServer().listen(${mine.port}, '127.0.0.1')`]);
      await waitFor('her server to listen', () => listening(mine.port));
      await killAndWait(owner);
      // Bob cannot see which process of Alice's listens (its sockets are hers): he keeps her allocation.
      expect(as(bob, home, ['list', '--json']).json.allocations.map((a: any) => a.lockId)).toEqual([mine.lockId]);
      expect(as(bob, home, ['allocate', '-s', 'dev', '-p', String(mine.port), '--json']).json.port).not.toBe(mine.port);
      // Alice's own call sees her server and lets it take the allocation over.
      const hers = as(alice, home, ['list', '--json']).json.allocations.find((a: any) => a.lockId === mine.lockId);
      expect(hers.owner.pid).toBe(server.pid);
    } finally {
      await killAndWait(owner);
      if (server) await killAndWait(server);
    }
  });

  test('another member’s server on the port of a member’s ended owner does not take her allocation over, even in root’s call', async () => {
    const home = sharedHome();
    const { alice, bob } = accounts;
    const owner = processOf(alice, ['sleep', '600']);
    let server: ChildProcess | undefined;
    try {
      const mine = as(alice, home, ['allocate', '-s', 'dev', '--pid', String(owner.pid), '--json']).json;
      await killAndWait(owner);
      server = processOf(bob, [process.execPath, '-e', `require('net').createServer().listen(${mine.port}, '127.0.0.1')`]);
      await waitFor('his server to listen', () => listening(mine.port));
      // Root sees every process: Bob's server is on the port, but it is Bob's, not Alice's heir.
      const listed = box.run(['list', '--json'], { env: { STYXY_HOME: home } }).json;
      expect(listed.allocations.map((a: any) => a.lockId)).toEqual([]);
      const dropped = box.run(['audit', '--limit', '0', '--json'], { env: { STYXY_HOME: home } }).json.events;
      expect(dropped.filter((e: any) => e.lockId === mine.lockId).map((e: any) => e.action)).not.toContain('adopt');
    } finally {
      await killAndWait(owner);
      if (server) await killAndWait(server);
    }
  });

  test('a single instance one member runs is the group’s: another member’s run starts nothing and succeeds', async () => {
    const home = sharedHome();
    const { alice, bob } = accounts;
    const serverJs = path.join(box.dir, 'server.js');
    fs.writeFileSync(serverJs, "require('net').createServer().listen(Number(process.env.PORT), '127.0.0.1');\n", { mode: 0o644 });
    const hers = spawn('setpriv', [...become(alice, true), process.execPath, BIN, 'run', '-s', 'ai', '--', process.execPath, serverJs], {
      env: envOf(alice, home),
      cwd: box.cwd,
      stdio: 'ignore',
    });
    try {
      const running = await waitFor('her ai server to listen', async () => {
        const listed = as(bob, home, ['list', '-s', 'ai', '--json']).json.allocations[0];
        return listed && (await listening(listed.port)) && listed;
      });
      expect(running.user.name).toBe(alice.name);
      const marker = path.join(box.dir, 'second-copy');
      const second = as(bob, home, ['run', '-s', 'ai', '--', 'touch', marker]);
      expect(second.code).toBe(0);
      expect(fs.existsSync(marker)).toBe(false);
    } finally {
      await killAndWait(hers, 'SIGTERM');
    }
  });

  test('a member’s run killed before its server listens: another member’s call keeps the reservation and is told it is starting', async () => {
    const home = sharedHome();
    const { alice, bob } = accounts;
    const files = path.join(box.dir, 'alice-files');
    fs.mkdirSync(files, { mode: 0o755 });
    fs.chownSync(files, alice.uid, alice.gid);
    const started = path.join(files, 'started');
    const gate = path.join(files, 'gate');
    const command = `echo $$ > ${started}; while [ ! -e ${gate} ]; do sleep 0.05; done; exec python3 -m http.server "$PORT" --bind 127.0.0.1`;
    const hers = spawn('setpriv', [...become(alice, true), process.execPath, BIN, 'run', '-s', 'ai', '-n', 'rag', '--', 'sh', '-c', command], {
      env: envOf(alice, home),
      cwd: box.cwd,
      stdio: 'ignore',
    });
    const orphan = await waitFor('her command to start', () => fs.existsSync(started) && Number(fs.readFileSync(started, 'utf8')));
    try {
      await killAndWait(hers, 'SIGKILL');
      // Her own next call finds the run ended and its command starting: a reservation.
      const reserved = as(alice, home, ['list', '--json']).json.allocations[0];
      expect(reserved.owner).toMatchObject({ via: 'run', reservedUntil: expect.any(String) });
      // Bob cannot read her processes' environment (the run's marks): that is no proof they have ended.
      expect(as(bob, home, ['list', '--json']).json.allocations.map((a: any) => a.lockId)).toEqual([reserved.lockId]);
      const asked = as(bob, home, ['allocate', '-s', 'ai', '-n', 'rag', '--json']).json;
      expect(asked).toMatchObject({ lockId: reserved.lockId, existing: true, starting: true, existingPid: null });
    } finally {
      process.kill(orphan, 'SIGKILL');
    }
  });

  test('stop of another member’s served run is NOT_PERMITTED at once, not a FORCE_REQUIRED that --force cannot pass; why says whose', async () => {
    const home = sharedHome();
    const { alice, bob } = accounts;
    const serverJs = path.join(box.dir, 'server.js');
    fs.writeFileSync(serverJs, "require('net').createServer().listen(Number(process.env.PORT), '127.0.0.1');\n", { mode: 0o644 });
    const hers = spawn('setpriv', [...become(alice, true), process.execPath, BIN, 'run', '-s', 'dev', '-n', 'web', '--', process.execPath, serverJs], {
      env: envOf(alice, home),
      cwd: box.cwd,
      stdio: 'ignore',
    });
    try {
      const running = await waitFor('her server to listen', async () => {
        const listed = as(bob, home, ['list', '-s', 'dev', '--json']).json.allocations[0];
        return listed && (await listening(listed.port)) && listed;
      });
      for (const flags of [[], ['--dry-run'], ['--force']]) {
        const r = as(bob, home, ['stop', String(running.port), '--json', ...flags]);
        expect([r.code, r.json.error.code]).toEqual([24, 'NOT_PERMITTED']);
      }
      const why = as(bob, home, ['why', String(running.port), '--json']);
      expect(why.json).toMatchObject({ kind: 'allocation', allocation: { user: { name: alice.name } } });
      expect(why.json.summary).toContain(`of user ${alice.name}`);
      expect(why.json.summary).not.toContain(`styxy stop ${running.port}`);
      expect(await listening(running.port)).toBe(true);
    } finally {
      await killAndWait(hers, 'SIGTERM');
    }
  });

  test('members start detached servers in one shared home: logs/ is the group’s', async () => {
    const home = sharedHome();
    const { alice, bob } = accounts;
    const serverJs = path.join(box.dir, 'server.js');
    fs.writeFileSync(serverJs, "require('net').createServer().listen(Number(process.env.PORT), '127.0.0.1');\n", { mode: 0o644 });
    const pids: number[] = [];
    try {
      for (const [who, name] of [
        [alice, 'hers'],
        [bob, 'his'],
      ] as const) {
        const started = as(who, home, ['start', '-s', 'dev', '-n', name, '--json', '--', process.execPath, serverJs]);
        expect(started.json).toMatchObject({ success: true, started: true });
        pids.push(started.json.pid);
      }
      const logs = fs.statSync(path.join(home, 'logs'));
      expect([logs.gid, (logs.mode & 0o7777).toString(8)]).toEqual([groupId, '2770']);
    } finally {
      for (const pid of pids) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          /* ended */
        }
      }
    }
  });

  test('release of another member’s allocation is NOT_PERMITTED and changes nothing; its user and root may', () => {
    const home = sharedHome(accounts.alice);
    const { alice, bob } = accounts;
    const first = as(alice, home, ['allocate', '-s', 'api', '-n', 'one', '--persistent', '--json']).json;
    const second = as(alice, home, ['allocate', '-s', 'api', '-n', 'two', '--persistent', '--json']).json;
    const before = fs.readFileSync(path.join(home, 'state.json'), 'utf8');

    const refused = as(bob, home, ['release', first.lockId, '--json']);
    expect(refused.code).toBe(24);
    expect(refused.json.error.code).toBe('NOT_PERMITTED');
    expect(refused.json.error.details.users).toEqual([{ uid: alice.uid, name: alice.name }]);
    const byName = as(bob, home, ['release', '-s', 'api', '-n', 'two', '--json']);
    expect(byName.json.error.code).toBe('NOT_PERMITTED');
    expect(fs.readFileSync(path.join(home, 'state.json'), 'utf8')).toBe(before);
    // Several lock ids, one of them his own: refused as a whole; his stays too.
    const his = as(bob, home, ['allocate', '-s', 'api', '-n', 'his', '--persistent', '--json']).json;
    const mixed = as(bob, home, ['release', his.lockId, second.lockId, '--json']);
    expect(mixed.json.error).toMatchObject({ code: 'NOT_PERMITTED', details: { lockIds: [second.lockId] } });
    expect(as(bob, home, ['release', his.lockId, '--json']).json.released.map((a: any) => a.lockId)).toEqual([his.lockId]);

    // stop too: refused before anything is signalled.
    expect(as(bob, home, ['stop', first.lockId, '--json']).json.error.code).toBe('NOT_PERMITTED');
    expect(as(alice, home, ['release', first.lockId, '--json']).json.released.map((a: any) => a.lockId)).toEqual([first.lockId]);
    // Root may release anyone's; the files it rewrote stay the group's, and members' doctor is content.
    const byRoot = box.run(['release', second.lockId, '--json'], { env: { STYXY_HOME: home } });
    expect(byRoot.json.released.map((a: any) => a.lockId)).toEqual([second.lockId]);
    const state = fs.statSync(path.join(home, 'state.json'));
    expect([state.uid, state.gid, (state.mode & 0o777).toString(8)]).toEqual([0, groupId, '660']);
    expect(as(bob, home, ['doctor', '--json']).code).toBe(0);
  });

  test('one project, one instance id, two members: a sticky allocation each; release by name takes one’s own', () => {
    const home = sharedHome();
    const { alice, bob } = accounts;
    const hers = as(alice, home, ['allocate', '-s', 'dev', '-n', 'web', '--persistent', '--json']).json;
    const his = as(bob, home, ['allocate', '-s', 'dev', '-n', 'web', '--persistent', '--json']).json;
    expect(his).toMatchObject({ success: true, reused: false });
    expect(his.port).not.toBe(hers.port);
    expect(as(alice, home, ['allocate', '-s', 'dev', '-n', 'web', '--json']).json).toMatchObject({ reused: true, lockId: hers.lockId });
    expect(as(bob, home, ['release', '-s', 'dev', '-n', 'web', '--json']).json.released.map((a: any) => a.lockId)).toEqual([his.lockId]);
    // Only Alice's is left: by name it is hers, not Bob's to release.
    expect(as(bob, home, ['release', '-s', 'dev', '-n', 'web', '--json']).json.error.code).toBe('NOT_PERMITTED');
  });

  test('cleanup --force drops only the caller’s own idle allocations; root’s drops any', () => {
    const home = sharedHome();
    const { alice, bob } = accounts;
    const hers = as(alice, home, ['allocate', '-s', 'dev', '--persistent', '--json']).json;
    const his = as(bob, home, ['allocate', '-s', 'dev', '--persistent', '--json']).json;
    const cleaned = as(bob, home, ['cleanup', '--force', '--yes', '--json']);
    expect(cleaned.json.unused.map((a: any) => a.lockId)).toEqual([his.lockId]);
    expect(as(bob, home, ['list', '--json']).json.allocations.map((a: any) => a.lockId)).toEqual([hers.lockId]);
    const byRoot = box.run(['cleanup', '--force', '--yes', '--json'], { env: { STYXY_HOME: home } });
    expect(byRoot.json.unused.map((a: any) => a.lockId)).toEqual([hers.lockId]);
  });

  test('cleanup --gone drops only the caller’s own allocations of deleted projects; root’s drops any', () => {
    const home = sharedHome();
    const { alice, bob } = accounts;
    const projectOf = (who: Account) => {
      const dir = path.join(box.dir, `project-${who.name}`);
      fs.mkdirSync(dir, { mode: 0o755 });
      fs.chownSync(dir, who.uid, who.gid);
      return dir;
    };
    const [herProject, hisProject] = [projectOf(alice), projectOf(bob)];
    const hers = as(alice, home, ['allocate', '-s', 'dev', '-n', 'web', '--persistent', '--json'], { cwd: herProject }).json;
    const his = as(bob, home, ['allocate', '-s', 'dev', '-n', 'web', '--persistent', '--json'], { cwd: hisProject }).json;
    fs.rmSync(herProject, { recursive: true });
    fs.rmSync(hisProject, { recursive: true });
    const cleaned = as(bob, home, ['cleanup', '--gone', '--json']);
    expect(cleaned.json.gone.map((a: any) => a.lockId)).toEqual([his.lockId]);
    expect(as(bob, home, ['list', '--json']).json.allocations.map((a: any) => a.lockId)).toEqual([hers.lockId]);
    const byRoot = box.run(['cleanup', '--gone', '--json'], { env: { STYXY_HOME: home } });
    expect(byRoot.json.gone.map((a: any) => a.lockId)).toEqual([hers.lockId]);
  });

  test('an allocation an older Styxy wrote (no user) is the home owner’s: root’s here, so a member may not release it', () => {
    const home = sharedHome();
    const old = {
      lockId: 'dev-old-000001',
      serviceType: 'dev',
      instanceId: 'old',
      port: 3007,
      project: box.cwd,
      owner: { kind: 'persistent' },
      allocatedAt: '2026-01-01T00:00:00.000Z',
    };
    fs.writeFileSync(path.join(home, 'state.json'), JSON.stringify({ version: 1, allocations: [old] }), { mode: 0o660 });
    fs.chownSync(path.join(home, 'state.json'), 0, groupId);
    fs.chmodSync(path.join(home, 'state.json'), 0o660);
    const listed = as(accounts.bob, home, ['list', '--json']);
    expect(listed.json.allocations[0].user).toEqual({ uid: 0, name: 'root' });
    expect(as(accounts.bob, home, ['release', old.lockId, '--json']).json.error.code).toBe('NOT_PERMITTED');
  });

  test('a member killed while holding the lock: another member takes the lock over', () => {
    const home = sharedHome();
    const killed = as(accounts.alice, home, ['allocate', '-s', 'dev', '--persistent', '--json'], { extraEnv: { STYXY_TEST_KILL_AT: 'after-lock' } });
    expect(killed.code).toBe(null);
    expect(fs.existsSync(path.join(home, 'state.json.lock'))).toBe(true);
    const after = as(accounts.bob, home, ['allocate', '-s', 'dev', '--persistent', '--json']);
    expect(after.json).toMatchObject({ success: true, user: { name: accounts.bob.name } });
    expect(fs.existsSync(path.join(home, 'state.json.lock'))).toBe(false);
  });

  test('a non-member, a file writable by others or of another group: UNSAFE_HOME, nothing changed', () => {
    const home = sharedHome();
    const { alice, bob, carol } = accounts;
    const outsider = as(carol, home, ['list', '--json'], { member: false });
    expect(outsider.json.error.code).toBe('UNSAFE_HOME');
    expect(outsider.json.error.details).toMatchObject({ gid: groupId, group: groupName });
    // Bob without his supplementary group (a login before he was added): not a member either.
    expect(as(bob, home, ['list', '--json'], { member: false }).json.error.code).toBe('UNSAFE_HOME');

    as(alice, home, ['allocate', '-s', 'dev', '--persistent', '--json']);
    const state = path.join(home, 'state.json');
    const before = fs.readFileSync(state, 'utf8');
    fs.chmodSync(state, 0o666);
    expect(as(bob, home, ['allocate', '-s', 'dev', '--json']).json.error.code).toBe('UNSAFE_HOME');
    fs.chmodSync(state, 0o660);
    fs.chownSync(state, alice.uid, alice.gid);
    expect(as(bob, home, ['allocate', '-s', 'dev', '--json']).json.error.code).toBe('UNSAFE_HOME');
    expect(fs.readFileSync(state, 'utf8')).toBe(before);
  });

  test('a group-writable home without the setgid bit, or writable by others, is still refused', () => {
    const home = sharedHome();
    fs.chmodSync(home, 0o770);
    // Root's group directory without the bit: what is missing is named, not "chown it to you".
    const plain = as(accounts.alice, home, ['list', '--json']);
    expect(plain.json.error.code).toBe('UNSAFE_HOME');
    expect(plain.json.error.suggestions.join('\n')).toContain(`chmod g+s ${home}`);
    expect(plain.json.error.suggestions.join('\n')).not.toContain('chown');
    fs.chownSync(home, accounts.alice.uid, groupId);
    expect(as(accounts.alice, home, ['list', '--json']).json.error.suggestions.join('\n')).toContain(`chmod g+s ${home}`);
    fs.chmodSync(home, 0o2777);
    expect(as(accounts.alice, home, ['list', '--json']).json.error.code).toBe('UNSAFE_HOME');
    expect(fs.readdirSync(home)).toEqual([]);
  });
});

suite('users with homes of their own', () => {
  /** A private home of `who`'s own, made by its first call. */
  function ownHome(who: Account): string {
    fs.chmodSync(box.dir, 0o755);
    // Its directory is open to others, as home directories often are; the home in it is 0700.
    const dir = path.join(box.dir, `own-${who.name}`);
    fs.mkdirSync(dir, { mode: 0o755 });
    fs.chownSync(dir, who.uid, who.gid);
    return path.join(dir, '.styxy');
  }

  test("run does not take another user's server on its port for its own service (PORT_TAKEN, nothing started)", async () => {
    const { alice, bob } = accounts;
    const aliceHome = ownHome(alice);
    const bobHome = ownHome(bob);
    // Alice reserves a port (sticky, nothing bound yet); Bob's home knows nothing of it.
    const reserved = as(alice, aliceHome, ['allocate', '-s', 'dev', '-n', 'web', '--persistent', '--json']).json;
    expect(reserved.success).toBe(true);
    const handed = as(bob, bobHome, ['allocate', '-s', 'dev', '-p', String(reserved.port), '--persistent', '--json']).json;
    expect(handed.port).toBe(reserved.port);
    const server = processOf(bob, [process.execPath, '-e', `require('net').createServer().listen(${reserved.port}, '127.0.0.1')`]);
    try {
      await waitFor('the server to listen', () => listening(reserved.port));
      const marker = path.join(box.dir, `own-${alice.name}`, 'started');
      const run = as(alice, aliceHome, ['run', '-s', 'dev', '-n', 'web', '--json', '--', 'touch', marker]);
      // Not "already running" (exit 0): run's own failure before the command starts (125), PORT_TAKEN.
      expect(run.code).toBe(125);
      expect(run.json.error).toMatchObject({ code: 'PORT_TAKEN', details: { port: reserved.port, uid: bob.uid, user: bob.name } });
      expect(fs.existsSync(marker)).toBe(false);
      // Her reservation is left as it was: hers to release.
      expect(as(alice, aliceHome, ['list', '--json']).json.allocations.map((a: any) => a.lockId)).toEqual([reserved.lockId]);
    } finally {
      await killAndWait(server);
    }
  });

  test("a home of another user's: the hints say to use one's own or a shared home, never to take it", () => {
    const { alice, bob } = accounts;
    const aliceHome = ownHome(alice);
    expect(as(alice, aliceHome, ['list', '--json']).json.success).toBe(true);
    const r = as(bob, aliceHome, ['list', '--json']);
    expect(r.json.error.code).toBe('UNSAFE_HOME');
    const hints: string[] = r.json.error.suggestions;
    expect(hints.filter((h) => /chown/.test(h))).toEqual([]);
    expect(hints.some((h) => h.includes('unset STYXY_HOME'))).toBe(true);
    expect(hints.some((h) => h.includes('docs/shared-machines.md'))).toBe(true);
  });
});
