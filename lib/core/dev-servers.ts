/**
 * The dev servers that do not take their port from `PORT`, how to give them one, and how to tell
 * them in a command line (also behind npx, `npm run`, pnpm and yarn scripts). Pure: the scripts of
 * the nearest package.json are handed in.
 */

/** How a tool takes its port: a flag followed by the number, or the number as an argument of its own. */
export type PortSyntax = { kind: 'flag'; flag: string; given: readonly string[] } | { kind: 'positional' };

export interface DevServer {
  tool: string;
  /** The program's name (its file's base name, `python -m X` for a module, `manage.py`). */
  programs: readonly string[];
  /** Whether the program with these words (those not starting with `-`) serves. */
  serves: (words: readonly string[], program: string) => boolean;
  port: PortSyntax;
  /**
   * The tool reads `PORT` itself: `run` adds nothing (it is in the table to be recognised, and
   * so that no one adds it as one that ignores PORT).
   */
  readsPort?: true;
  /**
   * The flag that makes the tool fail when its port is taken, where it would otherwise move to
   * the next free one (a port Styxy may just have handed to someone else); `programs` limits it
   * to those of the tool's program names that know it.
   */
  strict?: { flag: string; programs?: readonly string[] };
}

// A subcommand among the first two words: `flask --app hello run` has `hello` first.
const oneOf =
  (...subs: string[]) =>
  (words: readonly string[]): boolean =>
    words.slice(0, 2).some((w) => subs.includes(w));
const flag = (name: string, ...also: string[]): PortSyntax => ({ kind: 'flag', flag: name, given: [name, ...also] });

/** The table docs/run.md shows, with the version each rule was checked against (a unit test keeps the two together). */
export const DEV_SERVERS: readonly DevServer[] = [
  {
    tool: 'Vite',
    programs: ['vite'],
    serves: ([sub]) => sub !== 'build' && sub !== 'optimize',
    port: flag('--port'),
    strict: { flag: '--strictPort' },
  },
  { tool: 'Python http.server', programs: ['python -m http.server'], serves: () => true, port: { kind: 'positional' } },
  { tool: 'Astro', programs: ['astro'], serves: oneOf('dev', 'start', 'preview'), port: flag('--port') },
  { tool: 'Angular CLI', programs: ['ng'], serves: oneOf('serve', 's', 'dev'), port: flag('--port') },
  { tool: 'wrangler', programs: ['wrangler'], serves: oneOf('dev', 'pages'), port: flag('--port') },
  {
    tool: 'Storybook',
    programs: ['storybook', 'start-storybook'],
    serves: (words, program) => program === 'start-storybook' || words[0] === 'dev',
    port: flag('--port', '-p'),
    // Storybook 7+ (`storybook dev`); the old start-storybook has no such flag.
    strict: { flag: '--exact-port', programs: ['storybook'] },
  },
  { tool: 'Django runserver', programs: ['manage.py', 'django-admin'], serves: oneOf('runserver'), port: { kind: 'positional' } },
  { tool: 'Rails', programs: ['rails'], serves: oneOf('server', 's'), port: flag('-p', '--port') },
  { tool: 'Flask', programs: ['flask', 'python -m flask'], serves: oneOf('run'), port: flag('--port', '-p') },
  { tool: 'uvicorn', programs: ['uvicorn', 'python -m uvicorn'], serves: () => true, port: flag('--port') },
  { tool: 'Hugo', programs: ['hugo'], serves: oneOf('server', 'serve'), port: flag('--port', '-p') },
  { tool: 'Next.js', programs: ['next'], serves: oneOf('dev', 'start'), port: flag('--port', '-p'), readsPort: true },
  { tool: 'Nuxt', programs: ['nuxi', 'nuxt'], serves: oneOf('dev', 'preview'), port: flag('--port', '-p') },
  {
    tool: 'webpack-dev-server',
    programs: ['webpack', 'webpack-dev-server'],
    serves: (words, program) => program === 'webpack-dev-server' || words[0] === 'serve',
    port: flag('--port'),
  },
  { tool: 'Gatsby', programs: ['gatsby'], serves: oneOf('develop', 'serve'), port: flag('-p', '--port') },
  { tool: 'Docusaurus', programs: ['docusaurus'], serves: oneOf('start', 'serve'), port: flag('--port') },
  { tool: 'http-server', programs: ['http-server'], serves: () => true, port: flag('-p', '--port'), readsPort: true },
  { tool: 'Jekyll', programs: ['jekyll'], serves: oneOf('serve', 's', 'server'), port: flag('--port', '-P') },
];

/** What `run` adds to a command so that a known dev server listens on the allocated port. */
export interface PortFlagPlan {
  tool: string;
  /** Appended to the command, the port in place of `{port}`. */
  append: string[];
}

const baseName = (file: string): string => file.split(/[\\/]/).pop() ?? file;
const isAssignment = (word: string): boolean => /^[A-Za-z_][A-Za-z0-9_]*=/.test(word);

/** `pkg@1.2` and `@scope/pkg@1.2` → the package's own name, as its binary is usually called. */
function packageBinary(spec: string): string {
  const name = spec.startsWith('@') ? (spec.split('/')[1] ?? spec) : spec;
  return name.replace(/@.*$/, '');
}

/** Drops what only runs the tool: env assignments, npx/exec/dlx, `bundle exec`, `node <bin script>`. */
function unwrap(words: readonly string[]): string[] {
  let rest = [...words];
  for (let hops = 0; hops < 8 && rest.length > 0; hops++) {
    const first = baseName(rest[0] as string);
    if (isAssignment(rest[0] as string)) rest = rest.slice(1);
    else if (first === 'env' || first === 'cross-env') rest = rest.slice(1).filter((w, i, all) => !(isAssignment(w) && all.slice(0, i).every(isAssignment)));
    else if (first === 'npx' || first === 'bunx' || first === 'pnpx') rest = afterRunnerOptions(rest.slice(1));
    else if ((first === 'npm' || first === 'pnpm' || first === 'yarn' || first === 'bundle') && (rest[1] === 'exec' || rest[1] === 'dlx' || rest[1] === 'x'))
      rest = afterRunnerOptions(rest.slice(2));
    else if ((first === 'node' || first === 'nodejs') && rest[1] !== undefined && !rest[1].startsWith('-'))
      rest = [baseName(rest[1]).replace(/\.[cm]?js$/, ''), ...rest.slice(2)];
    else break;
  }
  if (rest[0] !== undefined) rest[0] = packageBinary(baseName(rest[0]));
  return rest;
}

/** npx's own options come before the package; `--package X` and `-p X` take a value. */
function afterRunnerOptions(words: string[]): string[] {
  let i = 0;
  while (i < words.length && (words[i] as string).startsWith('-')) {
    if (words[i] === '--') return words.slice(i + 1);
    i += words[i] === '--package' || words[i] === '-p' || words[i] === '-c' || words[i] === '--call' ? 2 : 1;
  }
  return words.slice(i);
}

/** The program as DEV_SERVERS names it and the words after it. */
function program(words: readonly string[]): { name: string; args: string[] } | null {
  const first = words[0];
  if (first === undefined) return null;
  if (/^python(\d+(\.\d+)?)?$/.test(first)) {
    if (words[1] === '-m' && words[2] !== undefined) return { name: `python -m ${words[2]}`, args: words.slice(3) };
    if (words[1] !== undefined && baseName(words[1]) === 'manage.py') return { name: 'manage.py', args: words.slice(2) };
    return null;
  }
  return { name: first, args: words.slice(1) };
}

/** The dev server `words` starts, and the words after its program, or null. */
export function findDevServer(words: readonly string[]): { server: DevServer; program: string; args: string[] } | null {
  const found = program(unwrap(words));
  if (!found) return null;
  const plain = found.args.filter((w) => !w.startsWith('-'));
  const server = DEV_SERVERS.find((s) => s.programs.includes(found.name) && s.serves(plain, found.name));
  return server ? { server, program: found.name, args: found.args } : null;
}

/** Builders, type checkers and test runners: a script running one (`"dev": "tsup --watch"`) serves nothing. */
const NEVER_SERVE = new Set(['tsc', 'tsup', 'tsdown', 'rollup', 'esbuild', 'babel', 'swc', 'unbuild', 'microbundle', 'vitest', 'jest', 'eslint', 'prettier']);

/**
 * True when `words` run a tool known not to serve: a builder or watcher of NEVER_SERVE, or a dev
 * server's own program asked for something else (`vite build --watch`, `next build`).
 */
export function findsNoServer(words: readonly string[]): boolean {
  const found = program(unwrap(words));
  if (!found) return false;
  if (NEVER_SERVE.has(found.name)) return true;
  return findDevServer(words) === null && DEV_SERVERS.some((s) => s.programs.includes(found.name));
}

/** True when the command already says which port: the tool's flag, or (positional tools) a port-like argument. */
export function portGiven(server: DevServer, args: readonly string[]): boolean {
  if (server.port.kind === 'flag') {
    const given = server.port.given;
    return args.some((a) => given.includes(a) || given.some((g) => g.startsWith('--') && a.startsWith(`${g}=`)));
  }
  // 8000, 0:8000, 127.0.0.1:8000, [::1]:8000; not an address alone such as ::1. In a script, the
  // port may come from a variable (`http.server $PORT`), unless it is an option's value (`-b $HOST`).
  const port = '(?:\\d+|\\$[A-Za-z_][A-Za-z0-9_]*|\\$\\{[A-Za-z_][A-Za-z0-9_]*(?::?[-=+?][^}]*)?\\})';
  const portArg = new RegExp(`^(?:${port}|[^:[\\]]+:${port}|\\[[^\\]]*\\]:${port})$`);
  return args.some((a, i) => portArg.test(a) && !(a.startsWith('$') && /^-[^=]*$/.test(args[i - 1] ?? '')));
}

/** The port, and the flag that makes a taken port fail loudly where the tool has one and the command lacks it. */
function appendFor(found: { server: DevServer; program: string }, args: readonly string[]): string[] {
  const { server } = found;
  const port = server.port.kind === 'flag' ? [server.port.flag, '{port}'] : ['{port}'];
  const strict = server.strict;
  if (!strict || (strict.programs && !strict.programs.includes(found.program)) || args.includes(strict.flag)) return port;
  return [...port, strict.flag];
}

export const SCRIPT_RUNNERS = new Set(['npm', 'pnpm', 'yarn', 'bun']);
/**
 * The runners' own commands, never a script's name: pnpm and yarn run a script named as the
 * command (`pnpm dev`) unless it is one of these (`pnpm install`, `yarn add`).
 */
export const RUNNER_COMMANDS = new Set([
  'install',
  'i',
  'ci',
  'add',
  'remove',
  'rm',
  'exec',
  'dlx',
  'x',
  'test',
  't',
  'create',
  'init',
  'update',
  'up',
  'upgrade',
  'why',
  'list',
  'ls',
  'link',
  'publish',
  'pack',
  'config',
  'outdated',
  'build',
  'audit',
  'info',
  'view',
]);

/** `npm run dev -- --host` → the script name `dev` and the words passed on to it. */
function scriptCall(words: readonly string[]): { runner: string; name: string; passed: string[]; hasSeparator: boolean } | null {
  const runner = baseName(words[0] ?? '');
  if (!SCRIPT_RUNNERS.has(runner)) return null;
  let i = 1;
  while (i < words.length && (words[i] as string).startsWith('-')) i++;
  const verb = words[i];
  if (verb === undefined) return null;
  let name: string | undefined;
  if (verb === 'run' || verb === 'run-script' || verb === 'rum' || verb === 'urn') {
    i++;
    while (i < words.length && (words[i] as string).startsWith('-') && words[i] !== '--') i++;
    name = words[i];
  } else if (verb === 'start' || runner !== 'npm') {
    if (RUNNER_COMMANDS.has(verb)) return null;
    name = verb;
  }
  if (name === undefined) return null;
  const rest = words.slice(i + 1);
  const sep = rest.indexOf('--');
  // npm keeps the options after the name for itself; pnpm and yarn pass them on.
  const passed = sep !== -1 ? rest.slice(sep + 1) : runner === 'npm' ? rest.filter((w) => !w.startsWith('-')) : rest;
  return { runner, name, passed, hasSeparator: sep !== -1 };
}

/** The command a package.json script ends with, split into words, or null when it cannot be told. */
function scriptWords(script: string): string[] | null {
  // Arguments given to `npm run` land at the end of the script: after its last `&&` or `;`.
  const last = script.split(/&&|\|\||;/).pop() ?? '';
  if (/[|&<>`$()]/.test(last.replace(/\$\{?[A-Za-z_][A-Za-z0-9_]*\}?/g, 'X'))) return null;
  const words = last
    .trim()
    .split(/\s+/)
    .filter(Boolean)
    .map((w) => w.replace(/^(['"])(.*)\1$/, '$2'));
  return words.length > 0 ? words : null;
}

/**
 * The port flag `run` adds to `command` by itself, or null: when the command is not a known dev
 * server (directly, through npx, or as a package.json script it can read), when it already names
 * a port ({port} included), or when the script cannot be told.
 */
export function planPortFlag(command: readonly string[], scripts: Readonly<Record<string, string>> | null): PortFlagPlan | null {
  if (command.some((w) => w.includes('{port}'))) return null;
  const direct = findDevServer(command);
  if (direct) {
    if (direct.server.readsPort || portGiven(direct.server, direct.args)) return null;
    return { tool: direct.server.tool, append: appendFor(direct, direct.args) };
  }
  const call = scriptCall(command);
  if (!call || !scripts || !Object.prototype.hasOwnProperty.call(scripts, call.name)) return null;
  let words = scriptWords(scripts[call.name] as string);
  // npm keeps the options after a script's name for itself; `--` passes them on to the script,
  // once for each `npm run` they go through.
  let separators = call.runner === 'npm' && !call.hasSeparator ? 1 : 0;
  const passed = [...call.passed];
  // A script that runs another script: `"dev": "npm run serve"`.
  for (let depth = 0; words && depth < 3; depth++) {
    const inner = scriptCall(words);
    if (!inner || !Object.prototype.hasOwnProperty.call(scripts, inner.name)) break;
    if (inner.runner === 'npm' && !inner.hasSeparator) separators++;
    passed.push(...inner.passed);
    words = scriptWords(scripts[inner.name] as string);
  }
  if (!words) return null;
  const found = findDevServer(words);
  if (!found || found.server.readsPort || portGiven(found.server, [...found.args, ...passed])) return null;
  return { tool: found.server.tool, append: [...Array<string>(separators).fill('--'), ...appendFor(found, [...found.args, ...passed])] };
}
