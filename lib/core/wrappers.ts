/**
 * Which processes between a caller and `styxy` exist only to run Styxy, so that the caller, not
 * the wrapper, owns the allocation. Pure: handed argv vectors, reads nothing.
 */

/** Why a process in styxy's chain of ancestors is passed over, or null when it is the owner. */
export type WrapperReason = 'subshell' | 'package runner' | 'one-command shell' | 'command wrapper' | 'direnv' | 'direnv shell';

const SHELLS = new Set(['sh', 'bash', 'dash', 'zsh', 'ash', 'ksh', 'mksh', 'busybox']);
const PACKAGE_RUNNERS = new Set(['npm', 'npx', 'pnpm', 'pnpx', 'yarn']);
/** Programs that run one command and end with it: the command lives exactly as long as they do. */
export const COMMAND_WRAPPERS = ['timeout', 'flock', 'nice', 'nohup', 'env', 'stdbuf', 'time', 'xargs'] as const;
const WRAPPER_NAMES = new Set<string>(COMMAND_WRAPPERS);

/** The file name of a path; a login shell's leading `-` (`-bash`) is dropped. */
export function baseName(file: string | undefined): string {
  return (file ?? '').split('/').pop()?.replace(/^-/, '') ?? '';
}

/**
 * npm, npx, pnpm or yarn itself: by its process title (npm rewrites its cmdline to one string such
 * as `npm exec styxy`, so the first word counts) or by node running its CLI script.
 */
export function isPackageRunner(argv: readonly string[]): boolean {
  const first = baseName((argv[0] ?? '').split(' ')[0]);
  if (PACKAGE_RUNNERS.has(first)) return true;
  if (first !== 'node' && first !== 'nodejs') return false;
  return /(?:^|\/)(?:npm-cli|npx-cli|pnpm|pnpx|yarn)\.c?js$|\/(?:npm|pnpm|yarn)\/bin\/[^/]+$/.test(argv[1] ?? '');
}

/**
 * The script of a shell started with `-c SCRIPT` (`sh -c`, `bash -lc`, `bash --norc -c`,
 * `busybox sh -c`, `zsh -o pipefail -c`), or null.
 */
export function shellScript(argv: readonly string[]): string | null {
  let args = argv;
  if (baseName(args[0]) === 'busybox') args = args.slice(1);
  if (!SHELLS.has(baseName(args[0])) || baseName(args[0]) === 'busybox') return null;
  let sawC = false;
  for (let i = 1; i < args.length; i++) {
    const arg = args[i] as string;
    if (arg === '--') return sawC ? (args[i + 1] ?? null) : null;
    if (arg.startsWith('--')) continue; // --login, --norc, --noprofile
    if (/^[-+][A-Za-z]+$/.test(arg)) {
      if (arg.slice(1).includes('c')) sawC = true;
      // -o NAME / +o NAME take the next word.
      if (/[oO]$/.test(arg)) i++;
      continue;
    }
    return sawC ? arg : null;
  }
  return null;
}

/**
 * A script that is one simple command, the way a program hands a command line to `sh -c`: no
 * `;`, `&`, `|`, newline, backtick or `$(` (so the shell lives exactly as long as that one
 * command), and the command is styxy, a package runner or a command wrapper, after any
 * `VAR=value` words and an `exec` or `command`. Leading `cd DIR &&` (or `cd DIR;`) steps are
 * allowed: `cd` is a builtin that starts nothing, and tools and agents often run a CLI that way.
 */
export function isOneStyxyCommand(script: string): boolean {
  // `2>&1` and `>&2` join descriptors; they start nothing.
  let bare = script.replace(/\d*[<>]&\d*-?/g, ' ');
  const cdStep = /^\s*cd(?:\s+(?:'[^']*'|"[^"$`]*"|[^\s;&|\n`'"]+))?\s*(?:&&|;)/;
  while (cdStep.test(bare)) bare = bare.replace(cdStep, '');
  if (/[;&|\n`]|\$\(/.test(bare)) return false;
  const words = bare
    .trim()
    .split(/\s+/)
    .map((w) => w.replace(/^['"]|['"]$/g, ''));
  let i = 0;
  while (i < words.length && /^[A-Za-z_][A-Za-z0-9_]*=/.test(words[i] as string)) i++;
  if (words[i] === 'exec' || words[i] === 'command') i++;
  const name = baseName(words[i]);
  if (name === 'styxy' || name === 'styxy.js' || PACKAGE_RUNNERS.has(name) || WRAPPER_NAMES.has(name)) return true;
  // `node path/to/bin/styxy …`
  return (name === 'node' || name === 'nodejs') && /^styxy(?:\.c?js)?$/.test(baseName(words[i + 1]));
}

/** direnv itself (`direnv export bash`, the hook every prompt runs). */
export function isDirenv(argv: readonly string[]): boolean {
  return baseName(argv[0]) === 'direnv';
}

/**
 * Whether a process in styxy's chain of ancestors is a wrapper to pass over, and why; null when
 * it is the owner. `argv` is the process's, `parentArgv` its parent's (null when unreadable).
 * The walk starts at styxy's parent and goes up while each process is a wrapper, so a process is
 * only ever asked about when everything below it is styxy or a wrapper.
 */
export function findWrapperReason(argv: readonly string[], parentArgv: readonly string[] | null): WrapperReason | null {
  // bash forks a subshell for `$(styxy …; other)`, pipelines and `( … )`: its argv is its parent's.
  if (parentArgv !== null && argv.length > 0 && argv.join('\0') === parentArgv.join('\0')) return 'subshell';
  if (isPackageRunner(argv)) return 'package runner';
  if (isDirenv(argv)) return 'direnv';
  const script = shellScript(argv);
  // direnv evaluates the stdlib and .envrc in a bash that ends as soon as it has printed the
  // environment: the owner is the shell whose prompt hook ran direnv.
  if (script !== null && parentArgv !== null && isDirenv(parentArgv)) return 'direnv shell';
  if (script !== null && isOneStyxyCommand(script)) return 'one-command shell';
  if (WRAPPER_NAMES.has(baseName(argv[0]))) return 'command wrapper';
  return null;
}
