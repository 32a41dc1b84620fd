import type { Argv, CommandModule } from 'yargs';
import { ENV_FORMATS } from './env-format';
import { checkOutputFormat, type OutputFormat } from './output';

/** One option of a command, declared once and read both by yargs and by the fast path. */
export interface OptionSpec {
  type: 'string' | 'boolean';
  alias?: readonly string[];
  describe: string;
  demandOption?: boolean;
  /** A string option that may stand without a value (then ''), like `--wait-ready`. */
  optionalValue?: boolean;
  /** The value may itself start with a dash (`--port-flag --port`): the next word is taken whatever it is. */
  dashValue?: boolean;
  /** A string option that may be given more than once (`-s dev -s api`): then its value is the array, as yargs makes it. */
  repeatable?: boolean;
  /** The only values allowed; any other leaves the line to yargs, which names them. */
  choices?: readonly string[];
}

export type OptionSpecs = Record<string, OptionSpec>;

export interface PositionalSpec {
  name: string;
  required: boolean;
  /** Shown in the help; a positional without one is listed bare. */
  describe?: string;
  /** The last positional only: takes every remaining word, as an array (yargs' `[name..]`). */
  variadic?: boolean;
}

/**
 * A command as data: what yargs is told, and what lets the fast path parse the everyday command
 * lines without loading yargs at all. The handler is the same on both paths.
 */
export interface StyxyCommand<A = any> {
  name: string;
  /** The yargs command string, with positionals: `release [lockId]`. */
  command: string;
  /** Other names the command answers to (`undo-auto`). */
  aliases?: readonly string[];
  describe: string;
  builder: (yargs: Argv) => Argv;
  options: OptionSpecs;
  positionals: readonly PositionalSpec[];
  /** Groups of options of which at most one may be given. */
  conflicts?: readonly (readonly string[])[];
  /** Takes a command to run after `--` (as `args['--']`). */
  trailingCommand?: boolean;
  /**
   * The formats of `--format` (declared with `outputOptions`); left out, the command prints
   * human text or, with `--json` where it declares it, JSON.
   */
  formats?: readonly OutputFormat[];
  /** Resolves to the exit status when it is not 0 by success (`styxy run` passes its command's on). */
  handler: (args: A) => Promise<void | number>;
}

/**
 * Runs a command's handler, first checking the output the line asks for against the command's
 * formats (`--json --format env` is a usage error): both parsers come through here.
 */
export function invoke(command: StyxyCommand, args: Record<string, unknown>): Promise<void | number> {
  checkOutputFormat(args, command.formats ?? (command.options.json ? ['json'] : []));
  return command.handler(args);
}

/**
 * The output options of a command with these formats: `--json`, `--format`, and `--env` and
 * `-q` where it has `env` and `port`, so that each shorthand exists exactly where its format does.
 * `when` says in the help when the formats other than json apply (`run`: with --detach).
 */
export function outputOptions(formats: readonly OutputFormat[], when = ''): OptionSpecs {
  const env = formats.includes('env');
  const readers = ENV_FORMATS.filter((f) => f !== 'posix').join(', ');
  return {
    json: { type: 'boolean', describe: 'Print one JSON document on stdout (also on failure); --format json' },
    format: {
      type: 'string',
      describe: `Output format${when}: ${formats.join(', ')}${env ? ` (env: POSIX shell statements; ${readers}: the same variables for that reader)` : ''}`,
    },
    ...(env && { env: { type: 'boolean', describe: `Print shell statements for eval${when}: PORT, STYXY_PORT, STYXY_URL, ...; --format env` } }),
    ...(formats.includes('port') && { quiet: { alias: ['q'], type: 'boolean', describe: `Print the port number alone${when}; --format port` } }),
  };
}

/** Declares a command's options, positionals and conflicts on a yargs instance. */
export function declare<T>(yargs: Argv<T>, command: Pick<StyxyCommand, 'options' | 'positionals' | 'conflicts'>): Argv<T> {
  let y = yargs;
  for (const p of command.positionals) y = y.positional(p.name, { type: 'string', ...(p.describe !== undefined && { describe: p.describe }) });
  for (const [name, spec] of Object.entries(command.options)) {
    y = y.option(name, {
      type: spec.type,
      describe: spec.describe,
      ...(spec.alias && { alias: [...spec.alias] }),
      ...(spec.demandOption && { demandOption: true }),
      ...(spec.dashValue && { nargs: 1 }),
      ...(spec.choices && { choices: [...spec.choices] }),
    });
  }
  for (const group of command.conflicts ?? []) {
    group.forEach((a, i) => group.slice(i + 1).forEach((b) => (y = y.conflicts(a, b))));
  }
  return y;
}

/**
 * A command that only gathers others under its name (`config`, `config auto-allocation`): it
 * runs nothing itself, and yargs asks for one of its subcommands.
 */
export interface StyxyCommandGroup {
  name: string;
  /** The yargs command string: `config <command>`. */
  command: string;
  describe: string;
  subcommands: readonly (StyxyCommand | StyxyCommandGroup)[];
  /** The group's help examples: the command line and what it does. */
  examples: readonly (readonly [string, string])[];
}

function isGroup(command: StyxyCommand | StyxyCommandGroup): command is StyxyCommandGroup {
  return 'subcommands' in command;
}

/** The yargs view of a command or a group; `onStatus` receives what a handler resolves to. */
export function toYargsModule(command: StyxyCommand | StyxyCommandGroup, onStatus: (status: void | number) => void): CommandModule {
  if (isGroup(command)) {
    return {
      command: command.command,
      describe: command.describe,
      builder: (yargs) => {
        let y = yargs;
        for (const sub of command.subcommands) y = y.command(toYargsModule(sub, onStatus));
        y = y.demandCommand(1);
        for (const [line, what] of command.examples) y = y.example(line, what);
        return y;
      },
      handler: () => undefined,
    };
  }
  return {
    command: command.command,
    ...(command.aliases && { aliases: [...command.aliases] }),
    describe: command.describe,
    builder: command.builder,
    handler: async (args) => onStatus(await invoke(command, args)),
  };
}
