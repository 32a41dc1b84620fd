import { EXIT_CODES } from '../errors';
import { version } from '../generated/version';
import { COMMANDS } from './commands/index';
import { fastParse } from './fast-parse';
import { outputMode, printLine, reportError } from './output';

/**
 * Styxy's entry point: parses argv, runs one command, prints its result and sets the exit
 * status. The only place that decides how the process ends. Everyday command lines are parsed
 * from the commands' declarations without loading yargs (see fast-parse.ts); everything else,
 * help and usage errors included, goes through yargs.
 */
export async function main(argv: string[]): Promise<number> {
  const mode = outputMode({ json: argv.includes('--json'), env: argv.includes('--env'), quiet: argv.includes('-q') || argv.includes('--quiet') });
  const verbose = argv.includes('--verbose');
  try {
    const fast = fastParse(argv, COMMANDS);
    let status: void | number = undefined;
    if (fast?.kind === 'version') printLine(version);
    else if (fast) status = await fast.command.handler(fast.args);
    else {
      const { buildParser } = await import('./parser');
      await buildParser(argv, (s) => (status = s)).parseAsync();
    }
    return status ?? EXIT_CODES.OK;
  } catch (err) {
    return reportError(err, mode, verbose);
  }
}


/**
 * Runs main and ends the process with its status once stdout has drained. A reader that goes
 * away early (`styxy list | head -1`) is not an error of Styxy's: the command has done its work,
 * so the rest of the output is dropped and the status stays the command's.
 */
export function run(argv: string[]): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE') throw err;
      stream.destroy();
    });
  }
  main(argv).then(
    (code) => {
      process.exitCode = code;
    },
    (err) => {
      process.stderr.write(`styxy: ${String(err)}\n`);
      process.exitCode = EXIT_CODES.INTERNAL;
    },
  );
}
