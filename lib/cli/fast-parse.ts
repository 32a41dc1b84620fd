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

  const byFlag = new Map<string, [string, OptionSpec]>();
  for (const [name, spec] of Object.entries({ ...GLOBAL_OPTIONS, ...command.options })) {
    for (const flag of [name, ...(spec.alias ?? [])]) byFlag.set(flag.length === 1 ? `-${flag}` : `--${flag}`, [name, spec]);
  }

  const args: Record<string, unknown> = { _: [command.name] };
  const positionals: string[] = [];
  for (let i = 1; i < argv.length; i++) {
    const token = argv[i] as string;
    if (token === '--') {
      if (!command.trailingCommand) return NEEDS_YARGS;
      args['--'] = argv.slice(i + 1);
      break;
    }
    if (!token.startsWith('-')) {
      positionals.push(token);
      continue;
    }
    const eq = token.startsWith('--') ? token.indexOf('=') : -1;
    const flag = eq === -1 ? token : token.slice(0, eq);
    const found = byFlag.get(flag);
    if (!found) return NEEDS_YARGS;
    const [name, spec] = found;
    if (name in args && !(spec.repeatable && spec.type === 'string')) return NEEDS_YARGS;
    if (spec.type === 'boolean') {
      if (eq !== -1) return NEEDS_YARGS;
      args[name] = true;
      continue;
    }
    const set = (value: string): void => {
      const previous = args[name];
      args[name] = previous === undefined ? value : [...(Array.isArray(previous) ? previous : [previous]), value];
    };
    if (eq !== -1) {
      set(token.slice(eq + 1));
      continue;
    }
    const next = argv[i + 1];
    if (next === undefined || (next.startsWith('-') && !spec.dashValue)) {
      if (!spec.optionalValue || (next !== undefined && !next.startsWith('--'))) return NEEDS_YARGS;
      set('');
      continue;
    }
    set(next);
    i++;
  }

  const rest = command.positionals.at(-1)?.variadic ? command.positionals.length - 1 : -1;
  if (rest < 0 && positionals.length > command.positionals.length) return NEEDS_YARGS;
  for (const [index, p] of command.positionals.entries()) {
    if (index === rest) args[p.name] = positionals.slice(index);
    else if (positionals[index] !== undefined) args[p.name] = positionals[index];
    else if (p.required) return NEEDS_YARGS;
  }
  for (const [name, spec] of Object.entries(command.options)) {
    if (spec.demandOption && !(name in args)) return NEEDS_YARGS;
    if (spec.choices && name in args && !spec.choices.includes(String(args[name]))) return NEEDS_YARGS;
  }
  for (const group of command.conflicts ?? []) if (group.filter((name) => name in args).length > 1) return NEEDS_YARGS;
  return { kind: 'command', command, args };
}
