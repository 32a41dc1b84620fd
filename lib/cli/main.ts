import { EXIT_CODES } from '../errors';
import { version } from '../generated/version';
import { COMMANDS } from './commands/index';
import { fastParse } from './fast-parse';
import { invoke } from './command-spec';
import { guardedStream, writeErr } from '../os/stdio';
import { printLine, reportError, reportingOf } from './output';

/** For dist/hook.js: the session events of the agent hook, which need the app layer (see lib/cli/hook.ts). */
export { sessionHandler } from './commands/hook';

/**
 * Styxy's entry point: parses argv, runs one command, prints its result and sets the exit
 * status. The only place that decides how the process ends. Everyday command lines are parsed
 * from the commands' declarations without loading yargs (see fast-parse.ts); everything else,
 * help and usage errors included, goes through yargs. How a failure is reported (`--json`,
 * `--env`, `--debug`) is read from what was parsed, by either parser, and from nothing else.
 */
export async function main(argv: string[]): Promise<number> {
  let parsed: Readonly<Record<string, unknown>> = {};
  try {
    const fast = fastParse(argv, COMMANDS);
    let status: void | number = undefined;
    if (fast.kind === 'version') printLine(version);
    else if (fast.kind === 'command') {
      parsed = fast.args;
      status = await invoke(fast.command, fast.args);
    } else if (isCompletionHelp(argv)) printLine(COMPLETION_HELP);
    else {
      // yargs prints help and completions through console, that is through the streams.
      guardedStream(1);
      guardedStream(2);
      const { buildParser } = await import('./parser');
      await buildParser(argv, { onStatus: (s) => (status = s), onParsed: (args) => (parsed = args) }).parseAsync();
    }
    return status ?? EXIT_CODES.OK;
  } catch (err) {
    const status = reportError(err, reportingOf(isUsageError(err) && asksForJson(argv) ? { ...parsed, json: true } : parsed));
    // A failure of run's or start's own, before their command started: 125, as GNU env and
    // timeout do, so that it is never taken for the command's status (the code says which).
    return startsACommand(argv) ? RUN_OWN_FAILURE : status;
  }
}

/** The commands that start a command of the user's: their own failures exit RUN_OWN_FAILURE. */
const RUN_OWN_FAILURE = 125;
const startsACommand = (argv: readonly string[]): boolean => {
  const name = argv.find((a) => !a.startsWith('-'));
  return name === 'run' || name === 'start';
};

function isUsageError(err: unknown): boolean {
  return (err as { code?: unknown })?.code === 'USAGE';
}

/**
 * Whether a refused line asks for JSON. Such a line may have no parse that knows `--json` (an
 * unknown command or subcommand; in `frob --json x` yargs reads `x` as its value), yet its caller
 * reads stdout as one JSON document. So the words decide, as the parse would have read them: a
 * `--json` that is the value of an option taking any word (`run --port-flag --json`) is not one,
 * nor are words after `--`, which belong to the command `run` starts.
 */
function asksForJson(argv: readonly string[]): boolean {
  const takesAnyWord = new Set<string>();
  for (const command of COMMANDS.values()) {
    for (const [name, spec] of Object.entries(command.options)) {
      if (spec.dashValue) for (const flag of [name, ...(spec.alias ?? [])]) takesAnyWord.add(flag.length === 1 ? `-${flag}` : `--${flag}`);
    }
  }
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i] as string;
    if (word === '--') return false;
    if (takesAnyWord.has(word)) i++;
    else if (word === '--json' || word === '--format=json' || (word === '--format' && argv[i + 1] === 'json')) return true;
  }
  return false;
}

/** `completion --help`: yargs would print the script itself, so the help is answered here. */
function isCompletionHelp(argv: readonly string[]): boolean {
  return argv[0] === 'completion' && argv.slice(1).every((a) => a === '--help' || a === '-h') && argv.length > 1;
}

/** yargs prints the script for `completion --help`; a person asking for help gets this instead. */
const COMPLETION_HELP = `styxy completion

Print a completion script for bash or zsh: commands, options, and the configured service types
after -s. The script runs styxy to complete, so completions follow your config.

Examples:
  styxy completion >> ~/.bashrc              Install for bash (open a new shell)
  SHELL=zsh styxy completion >> ~/.zshrc     Install for zsh (after compinit)`;

/**
 * Runs main and sets the exit status; the process ends once anything still queued on a stream
 * has drained. A reader that goes away early (`styxy list | head -1`) is not an error of
 * Styxy's: the command has done its work, so the rest of the output is dropped and the status
 * stays the command's (see os/stdio.ts).
 */
export function run(argv: string[]): void {
  main(argv).then(
    (code) => {
      process.exitCode = code;
    },
    (err) => {
      writeErr(`styxy: ${String(err)}\n`);
      process.exitCode = EXIT_CODES.INTERNAL;
    },
  );
}
