import yargs from 'yargs/yargs';
import { StyxyError } from '../errors';
import { isTerminal, writeErr } from '../os/stdio';
import { allowedEdits, editDistance } from '../core/near-miss';
import { toYargsModule, type StyxyCommand, type StyxyCommandGroup } from './command-spec';
import { configCommand } from './commands/config';
import { hookCommand } from './commands/hook';
import { agentGroup } from './commands/agent';
import { mcpCommand } from './commands/mcp';
import { COMMANDS } from './commands/index';
import { STACK_COMMANDS } from './commands/stack-commands';
import { GLOBAL_OPTIONS } from './fast-parse';

import { version } from '../generated/version';

const NO_COMMAND = 'Name a command';
const SERVICE_TYPE_FLAGS = new Set(['-s', '--service-type', '--service']);

/** The service types of the effective config here, loaded with the app layer only when completing. */
function configuredTypes(): string[] {
  return (require('../app/completion') as typeof import('../app/completion')).configuredServiceTypes(process.env, process.cwd());
}

export interface ParserHooks {
  /** Receives what a command's handler resolves to. */
  onStatus: (status: void | number) => void;
  /** Receives the parsed arguments: before the handler runs, or yargs' partial parse of a line it refuses. */
  onParsed: (args: Record<string, unknown>) => void;
}

/**
 * The yargs parser: one module per command, each loading its use case only when it runs. Used
 * for help, usage errors and the command lines the fast path leaves to it. `commands` are the
 * declared commands (the parity test hands in the real ones with handlers that only record).
 */
export function buildParser(argv: string[], hooks: ParserHooks, commands: ReadonlyMap<string, StyxyCommand> = COMMANDS) {
  let parser = yargs(argv)
    .scriptName('styxy')
    .usage('$0 <command> [options]\n\nHands out local TCP ports from per-service ranges, safely, to everything on this machine.');
  for (const command of commands.values()) parser = parser.command(toYargsModule(command, hooks.onStatus));
  // Rare commands, parsed by yargs alone: the fast path never needs them.
  for (const command of STACK_COMMANDS) parser = parser.command(toYargsModule(command, hooks.onStatus));
  for (const [name, spec] of Object.entries(GLOBAL_OPTIONS)) parser = parser.option(name, { type: spec.type, describe: spec.describe, global: true });
  const root = parser;
  return (
    parser
      .middleware((args) => hooks.onParsed(args))
      .command(toYargsModule(configCommand, hooks.onStatus))
      .command(toYargsModule(hookCommand, hooks.onStatus))
      .command(toYargsModule(agentGroup, hooks.onStatus))
      .command(toYargsModule(mcpCommand, hooks.onStatus))
      .completion(
        'completion',
        'Print a completion script for bash or zsh (see docs/cli.md)',
        (current: string, _argv: unknown, completionFilter: () => void, done: (completions: string[]) => void) => {
          // After -s/--service-type, offer the configured service types; elsewhere yargs' own list.
          const words = argv.slice(argv.indexOf('--get-yargs-completions') + 1);
          const previous = words[words.length - 2];
          if (previous === undefined || !SERVICE_TYPE_FLAGS.has(previous)) return completionFilter();
          done(configuredTypes().filter((name) => name.startsWith(current)));
        },
      )
      .example('$0 allocate -s dev', 'A free port from the dev range')
      .example('$0 run -s dev -- npm run dev', 'Run a dev server on a free port; released when it ends')
      .example('$0 completion >> ~/.bashrc', 'Tab completion in bash (zsh: SHELL=zsh styxy completion >> ~/.zshrc)')
      // Words after -- are the command of styxy run, passed on as typed: never turned into numbers.
      .parserConfiguration({ 'populate--': true, 'nargs-eats-options': true, 'parse-positional-numbers': false })
      .demandCommand(1, NO_COMMAND)
      .strict()
      .version(version)
      .help()
      .alias('h', 'help')
      .wrap(helpWidth())
      .exitProcess(false)
      .fail((message, err, parser) => {
        // yargs reports its own parse errors (a flag without its value) as a YError: usage errors too.
        if (err && err.name !== 'YError') throw err;
        // What yargs made of the line so far decides how the error is reported (--json, --env).
        const partial = (root as unknown as { parsed?: { argv?: Record<string, unknown> } | false }).parsed;
        if (partial && partial.argv) hooks.onParsed(partial.argv);
        // A line naming a command Styxy does not have says so, whatever else yargs found wrong with
        // it (in `--json frob`, yargs took frob for the value of an option it did not know).
        const unknown = unknownCommand(argv, [...commands.values(), ...STACK_COMMANDS, configCommand, hookCommand, agentGroup, mcpCommand]);
        if (unknown) throw unknown;
        if (message === NO_COMMAND) parser.showHelp((text) => writeErr(`${text}\n\n`));
        throw usageError(message ?? err?.message ?? 'Usage error', partial ? partial.argv : undefined);
      })
  );
}

/**
 * The usage error for a line whose command (or a group's subcommand, `config frob`) is none
 * Styxy has, with a suggestion only when one name is as close as a typo is (`allocat`, `relase`,
 * `lsit`): yargs' own guess offered any command at all (`open`: "Did you mean scan?"). Null when
 * the commands named are all known (the unknown word is something else), or when a flag that may
 * take a value comes before them (`-s dev frob`: which word is the command cannot be told).
 */
export function unknownCommand(argv: readonly string[], commands: readonly (StyxyCommand | StyxyCommandGroup)[]): StyxyError | null {
  const switches = booleanFlags(commands);
  let level: readonly (StyxyCommand | StyxyCommandGroup)[] = commands;
  const path: string[] = [];
  for (const word of argv) {
    if (word === '--') return null;
    if (word.startsWith('-')) {
      if (word.includes('=') || switches.has(word)) continue;
      return null;
    }
    // yargs' own command, which takes no subcommand.
    if (path.length === 0 && word === 'completion') return null;
    const found = level.find((c) => c.name === word || ('aliases' in c && c.aliases?.includes(word)));
    if (!found) {
      const where = path.length ? `${path.join(' ')} ` : '';
      const names = level.flatMap((c) => [c.name, ...(('aliases' in c && c.aliases) || [])]);
      const close = names
        .map((name) => ({ name, edits: editDistance(word.toLowerCase(), name) }))
        .filter(({ edits }) => edits <= allowedEdits(word.length))
        .sort((a, b) => a.edits - b.edits);
      const guess = close[0] && close.filter((c) => c.edits === close[0]?.edits).length === 1 ? close[0].name : null;
      return new StyxyError('USAGE', `Unknown ${where}command: ${word}`, {
        details: { command: [...path, word].join(' ') },
        suggestions: [...(guess ? [`Did you mean: styxy ${where}${guess}`] : []), `See: styxy ${where}--help`],
      });
    }
    if (!('subcommands' in found)) return null;
    path.push(found.name);
    level = found.subcommands;
  }
  return null;
}

/** Every flag that takes no value, of any command (`--json`, `-q`, `--help`...). */
function booleanFlags(commands: readonly (StyxyCommand | StyxyCommandGroup)[]): Set<string> {
  const flags = new Set(['--help', '-h', '--version', '--debug']);
  const visit = (command: StyxyCommand | StyxyCommandGroup): void => {
    if ('subcommands' in command) return command.subcommands.forEach(visit);
    for (const [name, spec] of Object.entries(command.options)) {
      if (spec.type !== 'boolean') continue;
      for (const flag of [name, ...(spec.alias ?? [])]) flags.add(flag.length === 1 ? `-${flag}` : `--${flag}`);
    }
  };
  commands.forEach(visit);
  return flags;
}

/**
 * The usage error for a refused line. `styxy run -s dev node -e 1` leaves words and flags that
 * belong to the command, which yargs calls unknown arguments: say where the command goes instead.
 */
function usageError(message: string, args: Record<string, unknown> | undefined): StyxyError {
  const words = (Array.isArray(args?._) ? args._ : []).map(String);
  if (words[0] === 'run' && args?.['--'] === undefined && (words.length > 1 || /^Unknown argument/.test(message))) {
    return new StyxyError(
      'USAGE',
      `The command to run goes after -- (without it, these were read as styxy's own arguments: ${message.replace(/^Unknown arguments?: /, '')})`,
      {
        suggestions: ['For example: styxy run -s dev -- node server.js', 'See: styxy run --help'],
      },
    );
  }
  return new StyxyError('USAGE', message, { suggestions: ['See: styxy --help'] });
}

/**
 * The help's width: the terminal's when stdout is one; when it is piped (`styxy --help | less`)
 * the terminal on stderr's, as the pager shows it there; `COLUMNS` when it is set; with no
 * terminal at all, lines are not wrapped (a file or a program gets each paragraph whole).
 */
export function helpWidth(env: NodeJS.ProcessEnv = process.env): number | null {
  const columns = (fd: 1 | 2) => (isTerminal(fd) ? (fd === 1 ? process.stdout : process.stderr).columns : undefined);
  const width = columns(1) ?? columns(2) ?? (/^[1-9][0-9]{1,3}$/.test(env.COLUMNS ?? '') ? Number(env.COLUMNS) : undefined);
  return width === undefined ? null : Math.max(width, MIN_HELP_WIDTH);
}

/** Narrower than this, yargs' two columns no longer leave room to read a description. */
const MIN_HELP_WIDTH = 60;
