import type { Argv, CommandModule } from 'yargs';


/** One option of a command, declared once and read both by yargs and by the fast path. */
export interface OptionSpec {
  type: 'string' | 'boolean';
  alias?: readonly string[];
  describe: string;
  demandOption?: boolean;
  /** A string option that may stand without a value (then ''), like `--wait-ready`. */
  optionalValue?: boolean;
}

export type OptionSpecs = Record<string, OptionSpec>;

export interface PositionalSpec {
  name: string;
  required: boolean;
  describe: string;
}

/**
 * A command as data: what yargs is told, and what lets the fast path parse the everyday command
 * lines without loading yargs at all. The handler is the same on both paths.
 */
export interface StyxyCommand<A = any> {
  name: string;
  /** The yargs command string, with positionals: `release [lockId]`. */
  command: string;
  describe: string;
  builder: (yargs: Argv) => Argv;
  options: OptionSpecs;
  positionals: readonly PositionalSpec[];
  /** Groups of options of which at most one may be given. */
  conflicts?: readonly (readonly string[])[];
  handler: (args: A) => Promise<void>;
}

/** Declares a command's options, positionals and conflicts on a yargs instance. */
export function declare<T>(yargs: Argv<T>, command: Pick<StyxyCommand, 'options' | 'positionals' | 'conflicts'>): Argv<T> {
  let y = yargs;
  for (const p of command.positionals) y = y.positional(p.name, { type: 'string', describe: p.describe });
  for (const [name, spec] of Object.entries(command.options)) {
    y = y.option(name, {
      type: spec.type,
      describe: spec.describe,
      ...(spec.alias && { alias: [...spec.alias] }),
      ...(spec.demandOption && { demandOption: true }),
    });
  }
  for (const group of command.conflicts ?? []) {
    group.forEach((a, i) => group.slice(i + 1).forEach((b) => (y = y.conflicts(a, b))));
  }
  return y;
}

/** The yargs view of a command. */
export function toYargsModule(command: StyxyCommand): CommandModule {
  return { command: command.command, describe: command.describe, builder: command.builder, handler: command.handler as CommandModule['handler'] };
}
