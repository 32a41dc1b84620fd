import { EXIT_CODES } from '../errors';
import { version } from '../generated/version';
import { COMMANDS } from './commands/index';
import { isEnvFormat } from './env-format';
import { fastParse } from './fast-parse';
import { guardedStream, writeErr } from '../os/stdio';
import { outputMode, printLine, reportError } from './output';

/**
 * Styxy's entry point: parses argv, runs one command, prints its result and sets the exit
 * status. The only place that decides how the process ends. Everyday command lines are parsed
 * from the commands' declarations without loading yargs (see fast-parse.ts); everything else,
 * help and usage errors included, goes through yargs.
 */
export async function main(argv: string[]): Promise<number> {
  // How to report a failure, read before parsing (which may itself fail); words after `--` are
  // the command that `styxy run` starts, not Styxy's.
  const end = argv.indexOf('--');
  const own = end === -1 ? argv : argv.slice(0, end);
  const format = envFormatIn(own);
  const mode = outputMode({ json: own.includes('--json'), env: own.includes('--env'), quiet: own.includes('-q') || own.includes('--quiet'), format });
  const verbose = own.includes('--verbose');
  try {
    const fast = fastParse(argv, COMMANDS);
    let status: void | number = undefined;
    if (fast?.kind === 'version') printLine(version);
    else if (argv[0] === 'completion' && (own.includes('--help') || own.includes('-h'))) printLine(COMPLETION_HELP);
    else if (fast) status = await fast.command.handler(fast.args);
    else {
      // yargs prints help and completions through console, that is through the streams.
      guardedStream(1);
      guardedStream(2);
      const { buildParser } = await import('./parser');
      await buildParser(argv, (s) => (status = s)).parseAsync();
    }
    return status ?? EXIT_CODES.OK;
  } catch (err) {
    return reportError(err, mode, verbose, isEnvFormat(format) ? format : 'posix');
  }
}

/** yargs prints the script for `completion --help`; a person asking for help gets this instead. */
const COMPLETION_HELP = `styxy completion

Print a completion script for bash or zsh: commands, options, and the configured service types
after -s. The script runs styxy to complete, so completions follow your config.

Examples:
  styxy completion >> ~/.bashrc              Install for bash (open a new shell)
  SHELL=zsh styxy completion >> ~/.zshrc     Install for zsh (after compinit)`;

function envFormatIn(argv: readonly string[]): string | undefined {
  const at = argv.indexOf('--format');
  if (at !== -1) return argv[at + 1] ?? '';
  return argv.find((a) => a.startsWith('--format='))?.slice('--format='.length);
}


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
