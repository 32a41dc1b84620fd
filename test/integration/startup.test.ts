import { spawnSync, type SpawnSyncOptionsWithStringEncoding, type SpawnSyncReturns } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { codeCachePath, commandKey, splitUserCache, userCacheHeader } from '../../lib/boot';
import { BIN, ROOT, useSandbox } from '../helpers/cli';
import { asRoot, canMakeUsers, makeScratchUser, type ScratchUser } from '../helpers/users';

// What keeps a one-shot call close to Node's own start-up, held as behaviour rather than
// timings: the built code cache is taken, a bad one changes nothing, and the everyday commands
// load none of Node's heavier modules.

const box = useSandbox();

const DIST = path.join(ROOT, 'dist');

type Spawn = (command: string, args: string[], options: SpawnSyncOptionsWithStringEncoding) => SpawnSyncReturns<string>;

/**
 * What became of the code cache when `dist` is loaded, as lib/boot.ts reports it (`accepted:build`,
 * ...), and with `withRefusal` why a cache was not trusted (`absent:null:root`).
 */
function cacheFate(dist: string, env: NodeJS.ProcessEnv = box.env, spawn: Spawn = spawnSync, withRefusal = false): string {
  const r = spawn(
    process.execPath,
    [
      '-e',
      `const c = require(${JSON.stringify(path.join(dist, 'boot.js'))}).loadCli(${JSON.stringify(dist)}); process.stdout.write(c.cache + ':' + c.cacheFrom${withRefusal ? " + ':' + c.refused" : ''})`,
    ],
    {
      encoding: 'utf8',
      env,
      cwd: box.cwd,
    },
  );
  expect(r.stderr).toBe('');
  return r.stdout;
}

/**
 * Who a test of a user's own cache runs as: root reads no user's cache (lib/boot.ts), so when the
 * suite runs as root, a scratch user (useradd) whose home holds the cache; otherwise the caller,
 * with a cache directory of the test's own. (Root's own cache has a test of its own.)
 */
let scratch: ScratchUser | undefined;
afterEach(() => {
  scratch?.remove();
  scratch = undefined;
});
function cacheOwner(): { env: NodeJS.ProcessEnv; xdg: string; spawn: Spawn } {
  if (!asRoot) return { env: { ...box.env, XDG_CACHE_HOME: path.join(box.dir, 'xdg') }, xdg: path.join(box.dir, 'xdg'), spawn: spawnSync };
  if (!canMakeUsers) throw new Error('as root, these tests need useradd and setpriv');
  scratch = makeScratchUser(box.dir, 'sxhd');
  const xdg = path.join(scratch.home, 'xdg');
  return { env: { ...box.env, HOME: scratch.home, STYXY_HOME: path.join(scratch.home, 'styxy'), XDG_CACHE_HOME: xdg }, xdg, spawn: scratch.spawn };
}

/** A copy of bin/ and dist/ to spoil. */
function copyInstall(): { bin: string; dist: string } {
  const root = path.join(box.dir, 'install');
  fs.cpSync(path.join(ROOT, 'bin'), path.join(root, 'bin'), { recursive: true });
  fs.cpSync(DIST, path.join(root, 'dist'), { recursive: true });
  return { bin: path.join(root, 'bin', 'styxy'), dist: path.join(root, 'dist') };
}

function allocateWith(bin: string): any {
  const r = spawnSync(process.execPath, [bin, 'allocate', '-s', 'api', '--json'], { env: box.env, cwd: box.cwd, encoding: 'utf8' });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return JSON.parse(r.stdout);
}

describe('the code cache', () => {
  test('the build makes one for its own bundle, and V8 takes it', () => {
    const source = fs.readFileSync(path.join(DIST, 'styxy.js'), 'utf8');
    const file = codeCachePath(DIST, source);
    expect(file).not.toBeNull();
    const built = fs.readdirSync(DIST).filter((n) => n.endsWith('.cache'));
    const alone = { ...box.env, XDG_CACHE_HOME: path.join(box.dir, 'xdg') };
    expect(built).toHaveLength(1);
    if (built[0] !== path.basename(file!)) {
      // CI runs the suite on other Nodes against the bundle Node 20 built: no cache for this one.
      console.log(`Node ${process.versions.node}: the build's cache is ${built[0]}, for another Node`);
      expect(cacheFate(DIST, alone)).toBe('absent:null');
      return;
    }
    expect(fs.statSync(file!).size).toBeGreaterThan(10_000);
    expect(cacheFate(DIST, alone)).toBe('accepted:build');
  });

  test('on a Node the build made no cache for, the first call saves one for this user, which later calls take', () => {
    const install = copyInstall();
    for (const name of fs.readdirSync(install.dist)) if (name.endsWith('.cache')) fs.rmSync(path.join(install.dist, name));
    const { env, xdg, spawn } = cacheOwner();
    const mine = path.join(xdg, 'styxy', path.basename(codeCachePath(install.dist, fs.readFileSync(path.join(install.dist, 'styxy.js'), 'utf8'))!));
    expect(mine).toContain(`-node${process.versions.node}-${process.arch}.cache`);
    const first = spawn(process.execPath, [install.bin, 'allocate', '-s', 'api', '--json'], { env, cwd: box.cwd, encoding: 'utf8' });
    expect([first.status, first.stderr, JSON.parse(first.stdout).port]).toEqual([0, '', 8000]);
    expect(fs.statSync(mine).size).toBeGreaterThan(10_000);
    expect(cacheFate(install.dist, env, spawn)).toBe('accepted:user');
    // A cache of another build on this Node is replaced, not kept beside it.
    const stale = path.join(path.dirname(mine), `styxy-0123456789abcdef-node${process.versions.node}-${process.arch}.cache`);
    fs.writeFileSync(stale, 'old');
    fs.rmSync(mine);
    expect(cacheFate(install.dist, env, spawn)).toBe('absent:null');
    expect(fs.readdirSync(path.dirname(mine))).toEqual([path.basename(mine)]);
    // A user cache V8 refuses is made again.
    fs.writeFileSync(mine, Buffer.alloc(fs.statSync(mine).size, 0x5a));
    expect(cacheFate(install.dist, env, spawn)).toBe('rejected:user');
    expect(cacheFate(install.dist, env, spawn)).toBe('accepted:user');
  });

  test("this user's cache learns the commands run: a first list, then allocate adds its code, once", () => {
    const install = copyInstall();
    for (const name of fs.readdirSync(install.dist)) if (name.endsWith('.cache')) fs.rmSync(path.join(install.dist, name));
    const { env, xdg, spawn } = cacheOwner();
    const mine = path.join(xdg, 'styxy', path.basename(codeCachePath(install.dist, fs.readFileSync(path.join(install.dist, 'styxy.js'), 'utf8'))!));
    const call = (...args: string[]) => {
      const r = spawn(process.execPath, [install.bin, ...args], { env, cwd: box.cwd, encoding: 'utf8' });
      if (args[0] !== 'allocat') expect([r.status, r.stderr]).toEqual([0, '']);
      return r;
    };
    const saved = () => ({ ...splitUserCache(fs.readFileSync(mine)), size: fs.statSync(mine).size, inode: fs.statSync(mine).ino });
    // allocate --help runs none of allocate's code, and a typo fails: neither counts as allocate, or as a command.
    call('allocate', '--help');
    expect(saved().commands).toEqual(['-']);
    expect(call('allocat', '-s', 'dev').status).not.toBe(0);
    expect(saved().commands).toEqual(['-']);
    call('list');
    const afterList = saved();
    expect(afterList.commands).toEqual(['-', 'list']);
    call('allocate', '-s', 'dev', '-q');
    const afterAllocate = saved();
    expect(afterAllocate.commands).toEqual(['-', 'list', 'allocate']);
    // Saved again (a new file renamed over it), with the code allocate compiled added.
    expect(afterAllocate.inode).not.toBe(afterList.inode);
    expect(afterAllocate.size).toBeGreaterThan(afterList.size);
    expect(cacheFate(install.dist, env, spawn)).toBe('accepted:user');
    call('allocate', '-s', 'dev', '-q');
    call('list', '--json');
    call('--help');
    expect(saved()).toEqual(afterAllocate);
  });

  test('a user cache without the line naming its commands (or with garbage for one) is only V8 data, refused or taken as such', () => {
    const data = Buffer.from([1, 2, 3, 0x0a, 4]);
    expect(splitUserCache(data)).toEqual({ commands: [], data });
    expect(splitUserCache(Buffer.from('styxy-cache \nXYZ'))).toEqual({ commands: [], data: Buffer.from('XYZ') });
    expect(splitUserCache(Buffer.from('styxy-cache run,list\n\u0000\u0001'))).toEqual({ commands: ['run', 'list'], data: Buffer.from([0, 1]) });
    // However many commands a user runs, the line keeps the newest that fit, and is read back as a line.
    const names = Array.from({ length: 64 }, (_, i) => `command-${String(i).padStart(2, '0')}-${'x'.repeat(20)}`);
    const line = userCacheHeader(names);
    expect(line.length).toBeLessThanOrEqual(1024);
    const back = splitUserCache(Buffer.concat([Buffer.from(line), Buffer.from([9])]));
    expect(back.data).toEqual(Buffer.from([9]));
    expect(back.commands).toEqual(names.slice(-back.commands.length));
    expect(back.commands.length).toBeGreaterThan(20);
    expect(commandKey(['allocate', '-s', 'dev'])).toBe('allocate');
    expect(commandKey(['allocate', '-s', 'dev', '-h'])).toBe('-');
    expect(commandKey(['run', '-s', 'dev', '--', 'vite', '--help'])).toBe('run');
    expect(commandKey(['--help'])).toBe('-');
    expect(commandKey([])).toBe('-');
    expect(commandKey(['a'.repeat(40)])).toBe('-');
  });

  test('a cache directory that cannot be written (a file in its place, no HOME) is never a failure', () => {
    const install = copyInstall();
    for (const name of fs.readdirSync(install.dist)) if (name.endsWith('.cache')) fs.rmSync(path.join(install.dist, name));
    const blocker = path.join(box.dir, 'not-a-dir');
    fs.writeFileSync(blocker, '');
    for (const env of [
      { ...box.env, XDG_CACHE_HOME: blocker },
      { ...box.env, XDG_CACHE_HOME: '', HOME: '' },
    ]) {
      const r = spawnSync(process.execPath, [install.bin, 'allocate', '-s', 'dev', '-q'], { env, cwd: box.cwd, encoding: 'utf8' });
      expect([r.status, r.stderr]).toEqual([0, '']);
      expect(cacheFate(install.dist, env)).toBe('absent:null');
    }
    expect(fs.readFileSync(blocker, 'utf8')).toBe('');
  });

  test('a cache V8 refuses (garbage in its place) is set aside and the call is the same', () => {
    const install = copyInstall();
    const file = codeCachePath(install.dist, fs.readFileSync(path.join(install.dist, 'styxy.js'), 'utf8'))!;
    fs.writeFileSync(file, Buffer.alloc(200_000, 0x5a));
    expect(cacheFate(install.dist, { ...box.env, XDG_CACHE_HOME: path.join(box.dir, 'xdg') })).toBe('rejected:build');
    expect(allocateWith(install.bin)).toMatchObject({ success: true, port: 8000, serviceType: 'api' });
    expect(allocateWith(BIN)).toMatchObject({ success: true, port: 8001, serviceType: 'api' });
  });

  test("a bundle from another build does not take this build's cache, even at the same length", () => {
    const install = copyInstall();
    const bundle = path.join(install.dist, 'styxy.js');
    const source = fs.readFileSync(bundle, 'utf8');
    const other = source.replace(/^\/\*styxy-build:([0-9a-f]+)\*\//, (_, id: string) => `/*styxy-build:${'0'.repeat(id.length)}*/`);
    expect(other.length).toBe(source.length);
    expect(other).not.toBe(source);
    fs.writeFileSync(bundle, other);
    expect(cacheFate(install.dist, { ...box.env, XDG_CACHE_HOME: path.join(box.dir, 'xdg') })).toBe('absent:null');
    expect(allocateWith(install.bin)).toMatchObject({ success: true, port: 8000 });
  });

  test('the bundle has no import() left: run from the cache it has no module loader for one', () => {
    expect(fs.readFileSync(path.join(DIST, 'styxy.js'), 'utf8')).not.toMatch(/\bimport\(/);
  });

  test('a bundle with no build id (an unbannered build) runs without a cache', () => {
    expect(codeCachePath('/d', '"use strict";var a=1;')).toBeNull();
    expect(codeCachePath('/d', '/*styxy-build:00ff*/"use strict";')).toBe(path.join('/d', `styxy-00ff-node${process.versions.node}-${process.arch}.cache`));
  });
});

describe('a code cache someone else could have written is never run', () => {
  // V8 checks a cache against its source's length only: a cache compiled from another bundle of
  // the same length runs that bundle's code. These plant exactly that, a bundle that writes a
  // marker file, and show who runs it.
  const bundle = fs.readFileSync(path.join(DIST, 'styxy.js'), 'utf8');
  const cacheName = path.basename(codeCachePath(DIST, bundle)!);
  // CI runs the suite on other Nodes against the bundle Node 20 built: there the build made no
  // cache for this Node, and which file a call takes differs; the rules are the same code, proven
  // on the Node that built the bundle.
  const buildsNode = fs.existsSync(path.join(DIST, cacheName));
  const rootTest = canMakeUsers && buildsNode ? test : test.skip;
  const buildTest = buildsNode ? test : test.skip;

  /** Writes to `file` V8's cache of a bundle as long as dist/styxy.js that writes `uid=<euid>` to `marker`. */
  function plantAlteredCache(file: string, marker: string): void {
    const script = `
      const fs = require('fs'), vm = require('vm');
      const source = fs.readFileSync(${JSON.stringify(path.join(DIST, 'styxy.js'))}, 'utf8');
      const code = "require('fs').writeFileSync(" + JSON.stringify(${JSON.stringify(marker)}) + ", 'uid=' + process.geteuid());/*";
      const altered = code + ' '.repeat(source.length - code.length - 2) + '*/';
      const wrapped = '(function (exports, require, module, __filename, __dirname) { ' + altered + '\\n});';
      fs.writeFileSync(${JSON.stringify(file)}, Buffer.concat([Buffer.from('styxy-cache list\\n'), new vm.Script(wrapped).createCachedData()]));
    `;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
  }

  /** A scratch user whose ~/.cache/styxy holds a planted cache for this build; its paths. */
  function victim() {
    scratch = makeScratchUser(box.dir, 'sxhd');
    const user = scratch;
    const dotCache = path.join(user.home, '.cache');
    const dir = path.join(dotCache, 'styxy');
    const file = path.join(dir, cacheName);
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    // The marker goes where anyone may write it (as /tmp), so that whoever runs the plant leaves it.
    const marks = path.join(box.dir, 'marks');
    fs.mkdirSync(marks, { mode: 0o1777 });
    fs.chmodSync(marks, 0o1777);
    plantAlteredCache(file, path.join(marks, 'marker'));
    for (const each of [dotCache, dir, file]) fs.chownSync(each, user.uid, user.gid);
    fs.chmodSync(file, 0o600);
    // Its own home for styxy's state, so that only the cache is at stake.
    const env: NodeJS.ProcessEnv = { ...box.env, HOME: user.home, STYXY_HOME: path.join(user.home, 'styxy') };
    delete env.XDG_CACHE_HOME;
    return { user, dotCache, dir, file, env, marker: path.join(marks, 'marker') };
  }

  rootTest("root (sudo -E: HOME is the user's) runs no cache of the user's, and leaves none in the user's home", () => {
    const v = victim();
    // The plant is real: the user who owns it runs it.
    const own = v.user.spawn(process.execPath, [BIN, 'list', '--json'], { env: v.env, cwd: box.cwd, encoding: 'utf8' });
    expect(own.status).not.toBe(0);
    expect(fs.readFileSync(v.marker, 'utf8')).toBe(`uid=${v.user.uid}`);
    fs.rmSync(v.marker);
    const planted = fs.readFileSync(v.file);
    // Root, with the user's HOME, runs the real bundle and not the planted code.
    const asRootEnv = { ...v.env, STYXY_HOME: path.join(box.dir, 'root-home') };
    const r = spawnSync(process.execPath, [BIN, 'allocate', '-s', 'dev', '--json'], { env: asRootEnv, cwd: box.cwd, encoding: 'utf8' });
    expect([r.status, r.stderr, JSON.parse(r.stdout).success]).toEqual([0, '', true]);
    expect(fs.existsSync(v.marker)).toBe(false);
    expect(cacheFate(DIST, asRootEnv, spawnSync, true)).toMatch(/^(accepted:build|absent:null):owner$/);
    // A call that compiles everything itself (no build cache) saves nothing in the user's home either.
    const install = copyInstall();
    for (const name of fs.readdirSync(install.dist)) if (name.endsWith('.cache')) fs.rmSync(path.join(install.dist, name));
    const bare = spawnSync(process.execPath, [install.bin, 'list', '--json'], { env: asRootEnv, cwd: box.cwd, encoding: 'utf8' });
    expect([bare.status, bare.stderr]).toEqual([0, '']);
    const rootOwned: string[] = [];
    const walk = (dir: string): void => {
      for (const name of fs.readdirSync(dir)) {
        const full = path.join(dir, name);
        const st = fs.lstatSync(full);
        if (st.uid !== v.user.uid) rootOwned.push(full);
        if (st.isDirectory()) walk(full);
      }
    };
    walk(v.user.home);
    expect(rootOwned).toEqual([]);
    expect(fs.readFileSync(v.file)).toEqual(planted);
    expect(fs.existsSync(v.marker)).toBe(false);
  });

  const asRootTest = asRoot ? test : test.skip;

  asRootTest('root in a home of its own (a container) saves a cache there and takes it', () => {
    const install = copyInstall();
    for (const name of fs.readdirSync(install.dist)) if (name.endsWith('.cache')) fs.rmSync(path.join(install.dist, name));
    const home = path.join(box.dir, 'root-own');
    fs.mkdirSync(home, { mode: 0o700 });
    const env: NodeJS.ProcessEnv = { ...box.env, HOME: home };
    delete env.XDG_CACHE_HOME;
    const call = (e: NodeJS.ProcessEnv) => spawnSync(process.execPath, [install.bin, 'list', '--json'], { env: e, cwd: box.cwd, encoding: 'utf8' });
    expect(cacheFate(install.dist, env, spawnSync, true)).toBe('absent:null:null');
    expect([call(env).status, fs.readdirSync(path.join(home, '.cache', 'styxy'))]).toEqual([0, [expect.stringMatching(/\.cache$/)]]);
    expect(cacheFate(install.dist, env, spawnSync, true)).toBe('accepted:user:null');
    // Below a sticky directory anyone may write (as /tmp), others cannot move root's directory: it is made.
    const sticky = path.join(box.dir, 'sticky');
    fs.mkdirSync(sticky);
    fs.chmodSync(sticky, 0o1777);
    expect(call({ ...env, XDG_CACHE_HOME: path.join(sticky, 'xdg') }).status).toBe(0);
    expect(fs.readdirSync(path.join(sticky, 'xdg', 'styxy'))).toHaveLength(1);
  });

  asRootTest("root makes and takes no cache where a user could have made a part of the way: a user's home, their symlink, a 0777 directory", () => {
    const install = copyInstall();
    for (const name of fs.readdirSync(install.dist)) if (name.endsWith('.cache')) fs.rmSync(path.join(install.dist, name));
    const nobody = 65534;
    const call = (e: NodeJS.ProcessEnv) => spawnSync(process.execPath, [install.bin, 'list', '--json'], { env: e, cwd: box.cwd, encoding: 'utf8' });
    const envWith = (home: string, xdg?: string): NodeJS.ProcessEnv => {
      const env: NodeJS.ProcessEnv = { ...box.env, HOME: home, ...(xdg && { XDG_CACHE_HOME: xdg }) };
      if (!xdg) delete env.XDG_CACHE_HOME;
      return env;
    };
    // A user's home (sudo -E) whose ~/.cache is root's (left by an earlier sudo): still the user's home.
    const userHome = path.join(box.dir, 'user-home');
    fs.mkdirSync(path.join(userHome, '.cache'), { recursive: true });
    fs.chownSync(userHome, nobody, nobody);
    expect(call(envWith(userHome)).status).toBe(0);
    expect(fs.readdirSync(path.join(userHome, '.cache'))).toEqual([]);
    expect(cacheFate(install.dist, envWith(userHome), spawnSync, true)).toBe('absent:null:owner');
    // The user's symlink as ~/.cache, to a directory of root's.
    const rootDir = path.join(box.dir, 'root-dir');
    fs.mkdirSync(rootDir, { mode: 0o755 });
    const linkHome = path.join(box.dir, 'link-home');
    fs.mkdirSync(linkHome, { mode: 0o755 });
    fs.symlinkSync(rootDir, path.join(linkHome, '.cache'));
    fs.lchownSync(path.join(linkHome, '.cache'), nobody, nobody);
    expect(call(envWith(linkHome)).status).toBe(0);
    expect(fs.readdirSync(rootDir)).toEqual([]);
    // A directory anyone may write, without the sticky bit: someone could rename root's directory away.
    const open = path.join(box.dir, 'open');
    fs.mkdirSync(open);
    fs.chmodSync(open, 0o777);
    expect(call(envWith(box.dir, path.join(open, 'xdg'))).status).toBe(0);
    expect(fs.readdirSync(open)).toEqual([]);
    // A relative HOME: judged from the working directory, whose parents would go unseen.
    expect(call(envWith('relative-home')).status).toBe(0);
    expect(fs.existsSync(path.join(box.cwd, 'relative-home'))).toBe(false);
  });

  rootTest('a user runs no cache that group or others could write, or that is not theirs; their own, yes', () => {
    const v = victim();
    const call = () => v.user.spawn(process.execPath, [BIN, 'list', '--json'], { env: v.env, cwd: box.cwd, encoding: 'utf8' });
    const refusedFor = (): string => {
      const r = call();
      expect([r.status, r.stderr, fs.existsSync(v.marker)]).toEqual([0, '', false]);
      return cacheFate(DIST, v.env, v.user.spawn, true).split(':')[2]!;
    };
    fs.chmodSync(v.dir, 0o770);
    expect(refusedFor()).toBe('writable');
    fs.chmodSync(v.dir, 0o700);
    fs.chmodSync(v.dotCache, 0o757);
    expect(refusedFor()).toBe('writable');
    fs.chmodSync(v.dotCache, 0o700);
    fs.chmodSync(v.file, 0o620);
    expect(refusedFor()).toBe('writable');
    fs.chmodSync(v.file, 0o644);
    fs.chownSync(v.file, 0, 0);
    expect(refusedFor()).toBe('owner');
    fs.chownSync(v.dir, 0, 0);
    fs.chownSync(v.file, v.user.uid, v.user.gid);
    // A directory owned by root (and by nobody else) can be trusted, as ssh does.
    fs.chmodSync(v.dir, 0o777);
    expect(refusedFor()).toBe('writable');
    // Nothing was saved into a directory it refused.
    expect(fs.readdirSync(v.dir)).toEqual([cacheName]);
    fs.chownSync(v.dir, v.user.uid, v.user.gid);
    fs.chmodSync(v.dir, 0o700);
    // All in order: the user's own cache is taken (and this one is the planted code).
    expect(call().status).not.toBe(0);
    expect(fs.readFileSync(v.marker, 'utf8')).toBe(`uid=${v.user.uid}`);
  });

  buildTest("the build's cache is taken only if it is the caller's or root's and nobody else can write it", () => {
    const install = copyInstall();
    const file = codeCachePath(install.dist, fs.readFileSync(path.join(install.dist, 'styxy.js'), 'utf8'))!;
    // No HOME and no XDG_CACHE_HOME: no user's cache to take or to make, only the build's.
    const env = { ...box.env };
    delete env.HOME;
    delete env.XDG_CACHE_HOME;
    expect(cacheFate(install.dist, env, spawnSync, true)).toBe('accepted:build:null');
    fs.chmodSync(file, 0o664);
    expect(cacheFate(install.dist, env, spawnSync, true)).toBe('absent:null:writable');
    fs.chmodSync(file, 0o644);
    if (canMakeUsers) {
      scratch = makeScratchUser(box.dir, 'sxhd');
      fs.chownSync(file, scratch.uid, scratch.gid);
      expect(cacheFate(install.dist, env, spawnSync, true)).toBe('absent:null:owner');
    }
  });
});

describe("the everyday commands load none of Node's heavier modules", () => {
  // Each of these costs 3–7 ms to load in a call of ~70 ms: crypto (ids come from /dev/urandom),
  // net, stream and tty (output is written to the descriptors), cluster, dgram and child_process
  // (which net.Server#listen loads; the port probe uses the TCP handle).
  const HEAVY = ['crypto', 'net', 'stream', 'tty', 'cluster', 'dgram', 'child_process'];

  /**
   * What this Node loads for a program that requires only what lib/boot.ts needs. On Node 18 that
   * alone loads `stream`: requiring a built-in there reads every export for its ES-module face,
   * `fs.promises` among them (node -e "require('fs')" does the same). Styxy answers for the rest.
   */
  function nodeFloor(): string[] {
    const script = path.join(box.dir, 'floor.js');
    fs.writeFileSync(script, "require('fs'); require('path'); require('vm'); require('module'); require('os');");
    return modulesLoadedBy([], 'pipe', script);
  }

  function modulesLoadedBy(args: string[], stdout: 'pipe' | 'file', program = BIN, input = ''): string[] {
    const record = path.join(box.dir, `modules-${Math.random().toString(16).slice(2)}.json`);
    const preload = path.join(box.dir, 'record-modules.js');
    fs.writeFileSync(
      preload,
      `process.on('exit', () => require('fs').writeFileSync(${JSON.stringify(record)}, JSON.stringify([...process.moduleLoadList, ...Object.keys(require.cache).map((f) => 'File ' + f)])));`,
    );
    const out = path.join(box.dir, 'out.txt');
    const fd = stdout === 'file' ? fs.openSync(out, 'w') : 'pipe';
    try {
      const r = spawnSync(process.execPath, ['-r', preload, program, ...args], {
        env: box.env,
        cwd: box.cwd,
        encoding: 'utf8',
        input,
        stdio: ['pipe', fd, 'pipe'],
      });
      expect(r.status).toBe(0);
    } finally {
      if (typeof fd === 'number') fs.closeSync(fd);
    }
    const list = JSON.parse(fs.readFileSync(record, 'utf8')) as string[];
    lastFiles = list.filter((m) => m.startsWith('File ')).map((m) => path.basename(m.slice('File '.length)));
    return list.filter((m) => m.startsWith('NativeModule ')).map((m) => m.slice('NativeModule '.length));
  }
  /** The files of ours that the last program measured required (bin/styxy, dist/boot.js, ...). */
  let lastFiles: string[] = [];

  test.each([
    [['allocate', '-s', 'dev', '--json'], 'pipe'],
    [['allocate', '-s', 'api', '-n', 'web', '--env'], 'file'],
    [['allocate', '-s', 'dev', '-q', '--dry-run'], 'pipe'],
    [['list', '--json'], 'pipe'],
    [['release', '-s', 'api', '-n', 'web', '--json'], 'pipe'],
    [['--version'], 'pipe'],
  ] as const)('styxy %j (stdout a %s)', (args, stdout) => {
    if (args[0] === 'release') box.run(['allocate', '-s', 'api', '-n', 'web', '-q']);
    const loaded = modulesLoadedBy([...args], stdout);
    expect(loaded).toContain('fs');
    // yargs, minimatch, yaml, the schema validators, the agent hook, the MCP server and the TOML
    // reader are files of their own, which these never require.
    expect(lastFiles).toContain('boot.js');
    expect(lastFiles.filter((f) => ['yargs.js', 'minimatch.js', 'validators.js', 'yaml.js', 'hook.js', 'mcp.js', 'toml.js'].includes(f))).toEqual([]);
    const floor = nodeFloor();
    expect(HEAVY.filter((name) => loaded.includes(name) && !floor.includes(name))).toEqual([]);
  });

  test('the agent hook on a command it leaves alone loads no file but bin/styxy: no bundle, no lock, no state', () => {
    fs.writeFileSync(path.join(box.cwd, 'package.json'), JSON.stringify({ scripts: { dev: 'vite' } }));
    const input = JSON.stringify({
      session_id: 's',
      cwd: box.cwd,
      hook_event_name: 'PreToolUse',
      tool_name: 'Bash',
      tool_input: { command: 'git status && ls -la' },
    });
    const loaded = modulesLoadedBy(['hook', 'claude-code'], 'pipe', BIN, input);
    expect([...lastFiles].sort()).toEqual(['record-modules.js', 'styxy']);
    expect(fs.existsSync(box.home)).toBe(false);
    const floor = nodeFloor();
    expect(HEAVY.filter((name) => loaded.includes(name) && !floor.includes(name))).toEqual([]);
  });

  test('an allocation that auto-allocates a new range loads none of them either', () => {
    const loaded = modulesLoadedBy(['allocate', '-s', 'brand-new-thing', '--json'], 'pipe');
    const floor = nodeFloor();
    expect(HEAVY.filter((name) => loaded.includes(name) && !floor.includes(name))).toEqual([]);
  });

  test('the floor is empty from Node 20 on: there, the check above is the whole list', () => {
    if (Number(process.versions.node.split('.')[0]) >= 20) expect(HEAVY.filter((name) => nodeFloor().includes(name))).toEqual([]);
    else expect(HEAVY.filter((name) => nodeFloor().includes(name))).toEqual(['stream']);
  });
});

test('with --pending-deprecation on, the port probe prints no deprecation warning', () => {
  const r = spawnSync(process.execPath, [BIN, 'allocate', '-s', 'dev', '--json'], {
    env: { ...box.env, NODE_OPTIONS: '--pending-deprecation' },
    cwd: box.cwd,
    encoding: 'utf8',
  });
  expect(r.stderr).toBe('');
  // The probe ran (a port in dev's range), whatever else on this machine listens there.
  expect(JSON.parse(r.stdout)).toMatchObject({ success: true, port: expect.any(Number) });
  expect(JSON.parse(r.stdout).port).toBeGreaterThanOrEqual(3000);
});

test('a stdout left non-blocking by its opener still gets every byte when its pipe fills', () => {
  // 10 000 allocations make ~2 MB of JSON, far more than a pipe holds; the reader waits before
  // reading, so the direct write meets EAGAIN and Node's stream has to finish the job.
  box.seedAllocations(10_000);
  const out = path.join(box.dir, 'list.json');
  // perl is part of every Debian; it hands styxy the write end of a pipe with O_NONBLOCK set.
  const perl = `
    use Fcntl;
    pipe(my $r, my $w) or die;
    my $flags = fcntl($w, F_GETFL, 0);
    fcntl($w, F_SETFL, $flags | O_NONBLOCK) or die;
    my $pid = fork();
    if ($pid == 0) { close($r); open(STDOUT, '>&', $w) or die; exec(@ARGV) or die; }
    close($w);
    select(undef, undef, undef, 0.5);
    open(my $o, '>', $ENV{OUT}) or die;
    while (my $n = sysread($r, my $buf, 65536)) { print $o $buf; }
    close($o);
    waitpid($pid, 0);
    exit($? >> 8);
  `;
  const r = spawnSync('perl', ['-e', perl, process.execPath, BIN, 'list', '--json'], { env: { ...box.env, OUT: out }, cwd: box.cwd, encoding: 'utf8' });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  const listed = JSON.parse(fs.readFileSync(out, 'utf8'));
  expect(fs.statSync(out).size).toBeGreaterThan(1_000_000);
  expect(listed.allocations).toHaveLength(10_000);
});

test("an everyday allocate makes Node's fs throw nothing: each look for a file that is not there is answered without an exception", () => {
  // A thrown ENOENT costs ~30 µs, and the first one of a process far more. Looked for and
  // absent here: .git and .styxy.json in every folder up from the project, config.json, this
  // user's code cache (on the Node the build made its cache for).
  const record = path.join(box.dir, 'throws.json');
  const preload = path.join(box.dir, 'record-throws.js');
  fs.writeFileSync(
    preload,
    `const fs = require('fs'); const seen = [];
for (const name of Object.keys(fs)) {
  const original = fs[name];
  if (!name.endsWith('Sync') || typeof original !== 'function') continue;
  fs[name] = function (...args) {
    try { return original.apply(this, args); } catch (err) { seen.push(name + ' ' + err.code + ' ' + args[0]); throw err; }
  };
}
// The recorder's own look for a file that is not there: proof that it sees a throw.
try { fs.statSync('/styxy-test-no-such-file'); } catch {}
process.on('exit', () => fs.writeFileSync(${JSON.stringify(record)}, JSON.stringify(seen)));`,
  );
  box.run(['allocate', '-s', 'dev', '-q']);
  for (const args of [
    ['allocate', '-s', 'dev', '--json'],
    ['allocate', '-s', 'api', '-n', 'web', '--env'],
  ]) {
    const r = spawnSync(process.execPath, ['-r', preload, BIN, ...args], { env: box.env, cwd: box.cwd, encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(JSON.parse(fs.readFileSync(record, 'utf8'))).toEqual(['statSync ENOENT /styxy-test-no-such-file']);
  }
});
