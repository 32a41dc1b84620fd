import type { OptionSpec, StyxyCommand } from './command-spec';

export type FastParse = { kind: 'version' } | { kind: 'command'; command: StyxyCommand; args: Record<string, unknown> } | { kind: 'needs-yargs' };

/** Options every command takes; the yargs parser declares the same ones (parser.ts). */
export const GLOBAL_OPTIONS: Record<string, OptionSpec> = {
  debug: { type: 'boolean', describe: 'Print the stack trace of an unexpected error (or set STYXY_DEBUG=1)' },
};

const NEEDS_YARGS: FastParse = { kind: 'needs-yargs' };

/**
 * Parses the everyday command lines (`allocate -s dev --json`, `list`, `release ID`, ...) from
 * the commands' own option declarations, without loading yargs. For anything it is
 * not sure to read exactly as yargs would — help, unknown or repeated options (but a repeatable one), `--no-x`, `--` (but for `run`),
 * combined short flags, a missing required option, conflicting options — it answers "needs
 * yargs", and the caller hands the line to yargs, which gives the help or the usage error.
 * Either way the parsed arguments are the one reading of the line: nothing else scans argv.
 */
export function fastParse(argv: readonly string[], commands: ReadonlyMap<string, StyxyCommand>): FastParse {
  if (argv.length === 1 && argv[0] === '--version') return { kind: 'version' };
  const command = commands.get(argv[0] ?? '');
  if (!command) return NEEDS_YARGS;
  const args: Record<string, unknown> = { _: [command.name] };
  const positionals = readWords(argv, command, args);
  if (positionals === null || !placePositionals(positionals, command, args) || !meetsDeclarations(command, args)) return NEEDS_YARGS;
  return { kind: 'command', command, args };
}

/** Each flag of the command and the global options (`-s`, `--service-type`, `--service`) → its option. */
function flagTable(command: StyxyCommand): Map<string, [string, OptionSpec]> {
  const byFlag = new Map<string, [string, OptionSpec]>();
  for (const [name, spec] of Object.entries({ ...GLOBAL_OPTIONS, ...command.options })) {
    for (const flag of [name, ...(spec.alias ?? [])]) byFlag.set(flag.length === 1 ? `-${flag}` : `--${flag}`, [name, spec]);
  }
  return byFlag;
}

/**
 * Reads the words after the command's name into `args` (options, and `--` for a command that
 * takes one); returns the positionals, or null for a line to leave to yargs.
 */
function readWords(argv: readonly string[], command: StyxyCommand, args: Record<string, unknown>): string[] | null {
  const byFlag = flagTable(command);
  const positionals: string[] = [];
  for (let i = 1; i < argv.length; i++) {
    const token = argv[i] as string;
    if (token === '--') {
      if (!command.trailingCommand) return null;
      args['--'] = argv.slice(i + 1);
      break;
    }
    if (!token.startsWith('-')) {
      positionals.push(token);
      continue;
    }
    const eq = token.startsWith('--') ? token.indexOf('=') : -1;
    const found = byFlag.get(eq === -1 ? token : token.slice(0, eq));
    if (!found) return null;
    const taken = readOption(found, eq === -1 ? undefined : token.slice(eq + 1), argv[i + 1], args);
    if (taken === null) return null;
    i += taken;
  }
  return positionals;
}

/**
 * Sets one option from its flag: `value` when written `--flag=value`, else from `next`. Returns
 * how many of the following words it took (0 or 1), or null for a line to leave to yargs.
 */
function readOption([name, spec]: [string, OptionSpec], value: string | undefined, next: string | undefined, args: Record<string, unknown>): 0 | 1 | null {
  if (name in args && !(spec.repeatable && spec.type === 'string')) return null;
  if (spec.type === 'boolean') {
    if (value !== undefined) return null;
    args[name] = true;
    return 0;
  }
  const set = (v: string): void => {
    const previous = args[name];
    args[name] = previous === undefined ? v : [...(Array.isArray(previous) ? previous : [previous]), v];
  };
  if (value !== undefined) {
    set(value);
    return 0;
  }
  if (next === undefined || (next.startsWith('-') && !spec.dashValue)) {
    if (!spec.optionalValue || (next !== undefined && !next.startsWith('--'))) return null;
    set('');
    return 0;
  }
  set(next);
  return 1;
}

/** Names the positionals as declared (the last may take the rest); false when they do not fit. */
function placePositionals(positionals: readonly string[], command: StyxyCommand, args: Record<string, unknown>): boolean {
  const rest = command.positionals.at(-1)?.variadic ? command.positionals.length - 1 : -1;
  if (rest < 0 && positionals.length > command.positionals.length) return false;
  for (const [index, p] of command.positionals.entries()) {
    if (index === rest) args[p.name] = positionals.slice(index);
    else if (positionals[index] !== undefined) args[p.name] = positionals[index];
    else if (p.required) return false;
  }
  return true;
}

/** Required options given, values among the choices, no two options of a conflicting group. */
function meetsDeclarations(command: StyxyCommand, args: Record<string, unknown>): boolean {
  for (const [name, spec] of Object.entries(command.options)) {
    if (spec.demandOption && !(name in args)) return false;
    if (spec.choices && name in args && !spec.choices.includes(String(args[name]))) return false;
  }
  return !(command.conflicts ?? []).some((group) => group.filter((name) => name in args).length > 1);
}
