import fs = require('fs');
import path = require('path');
import vm = require('vm');
import { version } from './generated/version';

/** The loaded CLI bundle, and what became of its code cache. */
export interface LoadedCli {
  exports: {
    run(argv: string[]): void;
    main(argv: string[]): Promise<number>;
    sessionHandler: HookModule extends { hook(a: string, s: () => infer S): void } ? S : never;
  };
  /** What became of the code cache: used, refused by V8, or not there. */
  cache: 'accepted' | 'rejected' | 'absent';
  /** Where the cache that was used came from: the build's, beside the bundle, or this user's own. */
  cacheFrom: 'build' | 'user' | null;
  /** The compiled bundle, from which the build takes the cache after running it. */
  script: vm.Script;
  /** The commands whose code this user's cache holds (empty for the build's cache, or none). */
  cachedCommands: string[];
  /** Why this user's cache (or the build's) was not trusted and so not read, or null. */
  refused: CacheRefusal | null;
}

/**
 * Why a code cache was not read: V8 runs a cache's code without checking it against the source
 * (only its length), so a cache is code, and is run only when nobody but the caller could have
 * written it. `owner`: the file or its directory is someone else's; `writable`: the file or a
 * directory above it can be written by others.
 */
export type CacheRefusal = 'owner' | 'writable';

const BANNER = /^\/\*styxy-build:([0-9a-f]+)\*\//;

/** What a code cache must match besides the build: V8 takes a cache only from its own version. */
const RUNTIME_KEY = `node${process.versions.node}-${process.arch}`;

/**
 * The build's code cache for the bundle `source` in `dist` on this Node, or null for a bundle
 * with no build id.
 */
export function codeCachePath(dist: string, source: string): string | null {
  const id = BANNER.exec(source)?.[1];
  return id ? path.join(dist, `styxy-${id}-${RUNTIME_KEY}.cache`) : null;
}

/** Where this user's own code caches go: $XDG_CACHE_HOME/styxy, by default ~/.cache/styxy. */
export function userCacheDir(env: NodeJS.ProcessEnv = process.env): string | null {
  const base = env.XDG_CACHE_HOME && path.isAbsolute(env.XDG_CACHE_HOME) ? env.XDG_CACHE_HOME : env.HOME ? path.join(env.HOME, '.cache') : null;
  return base ? path.join(base, 'styxy') : null;
}

/** The effective user, or -1 where there are no Unix users (ownership then goes unchecked). */
const euid = (): number => (typeof process.geteuid === 'function' ? process.geteuid() : -1);

/** Written by nobody else: owned by the caller (or root, when `rootToo`) and not writable by group or others. */
function safeStat(st: fs.Stats, me: number, rootToo: boolean): CacheRefusal | null {
  if (me >= 0 && st.uid !== me && !(rootToo && st.uid === 0)) return 'owner';
  return me >= 0 && (st.mode & 0o022) !== 0 ? 'writable' : null;
}

/**
 * A code cache's bytes, if it is there and trusted (else `refused` says why). One open and one
 * fstat: the checks are of the file actually read, not of a path someone could swap between.
 */
function readCache(file: string | null, rootOwnedToo: boolean): { data?: Buffer; refused?: CacheRefusal } {
  // A cache not made yet is the common case: told without the exception readFileSync would throw.
  if (!file || !fs.existsSync(file)) return {};
  let fd: number | undefined;
  try {
    fd = fs.openSync(file, 'r');
    const refused = safeStat(fs.fstatSync(fd), euid(), rootOwnedToo);
    return refused ? { refused } : { data: fs.readFileSync(fd) };
  } catch {
    return {};
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/**
 * Whether this user's cache directory can be trusted, as ssh trusts ~/.ssh: it and its parent
 * (~/.cache) owned by the caller or root and not writable by group or others, so that nobody
 * else could have put a file in it or renamed one over it. `absent` when it does not exist yet
 * (and may be made). A directory further up that another user can write is not looked at:
 * whoever can write the user's home can already change what the user runs.
 *
 * Root (a container's usual user) is held to more: every directory on the way must be root's
 * (see rootOnlyPath). So root neither reads nor makes a cache in a user's home (`sudo -E` keeps
 * the user's HOME; a root-owned ~/.cache there is still in the user's home), nor through a
 * user's symlink, and no user can swap a directory on the way while a call runs.
 */
function userCacheDirTrust(dir: string): CacheRefusal | 'absent' | null {
  const me = euid();
  if (me === 0 && !rootOnlyPath(dir)) return 'owner';
  for (const each of [dir, path.dirname(dir)]) {
    let st: fs.Stats;
    try {
      st = fs.statSync(each);
    } catch {
      return 'absent';
    }
    const refused = st.isDirectory() ? safeStat(st, me, true) : 'owner';
    if (refused) return refused;
  }
  return null;
}

/**
 * Whether nobody but root could have made or changed anything on the way to `dir`: every part
 * of the path that exists, from / down, is root's, a directory writable by nobody else (or
 * sticky, as /tmp, where others cannot rename or remove root's entries), and a symlink is root's
 * and leads where the same holds. What does not exist yet, root makes.
 */
function rootOnlyPath(dir: string): boolean {
  // A relative HOME would be judged from the working directory, whose own parents go unseen.
  if (!path.isAbsolute(dir)) return false;
  let at = path.parse(dir).root;
  for (const part of path.relative(at, dir).split(path.sep).filter(Boolean)) {
    at = path.join(at, part);
    let st: fs.Stats;
    try {
      st = fs.lstatSync(at);
    } catch {
      return true;
    }
    if (st.uid !== 0) return false;
    if (st.isSymbolicLink()) {
      let real: string;
      try {
        real = fs.realpathSync(at);
      } catch {
        return false;
      }
      return rootOnlyPath(path.join(real, path.relative(at, dir)));
    }
    if (!st.isDirectory() || ((st.mode & 0o022) !== 0 && (st.mode & 0o1000) === 0)) return false;
  }
  return true;
}

/**
 * A user's cache starts with one line naming the commands whose code it holds, then V8's data:
 * `styxy-cache <command>,<command>\n`. Anything else is taken as V8's data alone (which V8
 * refuses, if it is not).
 */
const USER_CACHE_HEADER = 'styxy-cache ';

export function splitUserCache(file: Buffer): { commands: string[]; data: Buffer } {
  const end = file.indexOf(0x0a);
  if (end < 0 || end >= USER_CACHE_HEADER_MAX || file.toString('latin1', 0, USER_CACHE_HEADER.length) !== USER_CACHE_HEADER)
    return { commands: [], data: file };
  const names = file.toString('latin1', USER_CACHE_HEADER.length, end);
  return { commands: names ? names.split(',') : [], data: file.subarray(end + 1) };
}

/**
 * The name a call's code is filed under in the user's cache: its command, or `-` for help (a
 * command's `--help` runs none of its code) and options alone.
 */
export function commandKey(argv: readonly string[]): string {
  const end = argv.indexOf('--');
  const own = end < 0 ? argv : argv.slice(0, end);
  if (own.includes('--help') || own.includes('-h')) return '-';
  const first = own[0] ?? '';
  return /^[a-z][a-z-]{0,30}$/.test(first) ? first : '-';
}

/** The header's longest line: the newest names that fit. */
const USER_CACHE_HEADER_MAX = 1024;

export function userCacheHeader(commands: readonly string[]): string {
  const kept: string[] = [];
  let length = USER_CACHE_HEADER.length + 1;
  for (let i = commands.length - 1; i >= 0; i--) {
    const name = commands[i] as string;
    if (length + name.length + 1 > USER_CACHE_HEADER_MAX) break;
    kept.unshift(name);
    length += name.length + 1;
  }
  return `${USER_CACHE_HEADER}${kept.join(',')}\n`;
}

/** What Node wraps a CommonJS module's source in (the same as `require('module').wrap`, without loading that module). */
const wrap = (source: string): string => `(function (exports, require, module, __filename, __dirname) { ${source}\n});`;

/**
 * Loads the CLI bundle (dist/styxy.js) with a V8 code cache.
 *
 * Compiling the bundle, and then each function the first time it runs, is about a tenth of a
 * one-shot call. The build runs everyday commands once and saves V8's compiled code beside the
 * bundle (scripts/build.js); loading it here skips that work. V8 takes a cache only from the
 * Node version that made it, so on any other Node (or other V8 flags) the first call compiles as
 * usual and, as it ends, saves its own cache in the user's cache directory, which every later
 * call of that build on that Node takes. A cache V8 refuses is set aside by V8 itself: the cache
 * only ever makes a call faster, never different, and a cache directory that cannot be written
 * only means no cache.
 *
 * A user's cache holds the code of the commands run so far: the first call of a command it has
 * not seen (its first word, `-` for help) saves it again with that command's code added, so a
 * first `styxy list` does not leave every later `allocate` compiling its own code. (V8 may drop
 * the code of a function unused through several full garbage collections, which a one-shot call
 * rarely makes; such a function is only compiled again, as without a cache.)
 *
 * V8 checks a cache against the source's length only, so a cache is named after the build that
 * made it (the `/*styxy-build:ID*\/` banner on the bundle's first line, a hash of the bundle):
 * a bundle rebuilt without its cache finds none, rather than someone else's code. For the same
 * reason a cache is code: one that someone else could have written is never read (see
 * userCacheDirTrust and readCache), and root reads and writes no user's cache, only its own.
 */
export function loadCli(dist: string = __dirname, command?: string): LoadedCli {
  const file = path.join(dist, 'styxy.js');
  const source = fs.readFileSync(file, 'utf8');
  const buildCache = codeCachePath(dist, source);
  const cacheDir = buildCache ? userCacheDir() : null;
  const userCache = buildCache && cacheDir ? path.join(cacheDir, path.basename(buildCache)) : null;
  let cacheFrom: LoadedCli['cacheFrom'] = null;
  let cachedCommands: string[] = [];
  let cachedData: Buffer | undefined;
  // The directory is judged first: a refused one is neither read nor written.
  const dirTrust = cacheDir ? userCacheDirTrust(cacheDir) : 'absent';
  let refused: CacheRefusal | null = dirTrust === 'owner' || dirTrust === 'writable' ? dirTrust : null;
  const mine = dirTrust === null ? readCache(userCache, false) : {};
  refused ??= mine.refused ?? null;
  if (mine.data) {
    ({ commands: cachedCommands, data: cachedData } = splitUserCache(mine.data));
    cacheFrom = 'user';
  } else {
    // The build's cache, beside the bundle: the caller's or root's (an install by root), like the bundle itself.
    const built = readCache(buildCache, true);
    refused ??= built.refused ?? null;
    if ((cachedData = built.data)) cacheFrom = 'build';
  }
  const script = new vm.Script(wrap(source), { filename: file, cachedData });
  const module = { exports: {} as LoadedCli['exports'] };
  const run = script.runInThisContext() as (...args: unknown[]) => void;
  run.call(module.exports, module.exports, requireBeside(dist), module, file, dist);
  const cache = cachedData === undefined ? 'absent' : script.cachedDataRejected ? 'rejected' : 'accepted';
  // This user's cache grows with the commands they run: the first call of a command it has not
  // seen that succeeds saves it again, holding that command's code beside what it held. A failed
  // call (a typo, a refusal) is not counted as having run its command.
  const learn = cache === 'accepted' && cacheFrom === 'user' && command !== undefined && !cachedCommands.includes(command);
  // Saved only into a directory that could be read back (root: only its own, see userCacheDirTrust).
  const canSave = dirTrust === null || dirTrust === 'absent';
  if ((cache !== 'accepted' || learn) && canSave && userCache && cacheDir) {
    const held = cache === 'accepted' ? cachedCommands : [];
    process.once('exit', (code) => {
      if (code === 0 && command !== undefined) saveUserCache(script, cacheDir, userCache, [...held, command]);
      else if (cache !== 'accepted') saveUserCache(script, cacheDir, userCache, held);
    });
  }
  return { exports: module.exports, cache, cacheFrom, script, cachedCommands, refused };
}

/**
 * Saves the code V8 compiled during this call, once the command has run (so it holds the
 * functions the command needed, not only the top level), written whole or not at all; the
 * caches of other builds on this Node go. Any failure leaves things as they were.
 */
function saveUserCache(script: vm.Script, dir: string, file: string, commands: readonly string[]): void {
  const temp = `${file}.tmp-${process.pid}`;
  let fd: number;
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    // Root judges the path again now that it is made: someone may have made a part of it first.
    if (euid() === 0 && userCacheDirTrust(dir) !== null) return;
    // Opened before V8 is asked for its data (~2 ms): a directory that cannot be written costs nothing more.
    fd = fs.openSync(temp, 'wx', 0o600);
  } catch {
    return;
  }
  try {
    try {
      fs.writeFileSync(fd, Buffer.concat([Buffer.from(userCacheHeader(commands), 'latin1'), script.createCachedData()]));
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(temp, file);
    const mine = path.basename(file);
    for (const name of fs.readdirSync(dir)) {
      if (name !== mine && name.startsWith('styxy-') && name.endsWith(`-${RUNTIME_KEY}.cache`)) fs.rmSync(path.join(dir, name), { force: true });
    }
  } catch {
    // No cache this time: the next call tries again.
    try {
      fs.rmSync(temp, { force: true });
    } catch {
      /* left behind: only a later process with this same id is kept from saving by it */
    }
  }
}

/**
 * The bundle's `require`: it loads the files beside it (yargs.js, minimatch.js, validators.js)
 * and Node's own modules. This file's own `require` does that when the bundle is its neighbour,
 * as it is in every install; `createRequire` (which loads Node's `module`, ~0.3 ms) only for
 * another folder.
 */
function requireBeside(dist: string): NodeRequire {
  if (path.resolve(dist) === __dirname) return require;
  return (require('module') as typeof import('module')).createRequire(path.join(dist, 'styxy.js'));
}

/** dist/hook.js, the agent hook alone (lib/cli/hook.ts). */
interface HookModule {
  hook(agent: string, loadSession: () => { answerSessionHook(agent: string, input: object): Promise<string | null> }, input?: string): void;
}

/** bin/styxy's whole work. `hookInput`: the agent hook's stdin, when bin/styxy has read it. */
export function start(argv: string[], hookInput?: string): void {
  if (argv.length === 1 && argv[0] === '--version' && printVersion()) return;
  // The agent hook runs on every Bash call of an agent: its own small file, the CLI only for the
  // session events (see lib/cli/hook.ts).
  if (argv.length === 2 && argv[0] === 'hook' && argv[1] === 'claude-code') {
    // eslint-disable-next-line @typescript-eslint/no-require-imports -- a file of dist/, beside this one, not a module of lib/
    (require(path.join(__dirname, 'hook.js')) as HookModule).hook(argv[1], () => loadCli(__dirname, 'hook').exports.sessionHandler, hookInput);
    return;
  }
  loadCli(__dirname, commandKey(argv)).exports.run(argv);
}

/**
 * `styxy --version` without loading the CLI: the version is the same constant the bundle
 * holds (lib/generated/version.ts). A reader gone away (EPIPE) is not an error; any other
 * failure to write leaves it to the CLI, which handles every case of its output.
 */
function printVersion(): boolean {
  try {
    fs.writeSync(1, `${version}\n`);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPIPE';
  }
}
