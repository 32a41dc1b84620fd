import { EXIT_CODES, StyxyError, isStyxyError } from '../errors';
import { isTerminal, writeErr, writeOut } from '../os/stdio';
import { FAILURE_OUTPUT, isEnvFormat, type EnvFormat } from './env-format';

/** How a command's result is printed: the flags that choose it are shared by every command. */
export type OutputMode = 'human' | 'json' | 'env' | 'quiet';

export interface OutputOptions {
  json?: boolean;
  env?: boolean;
  /** An env format (posix, fish, powershell, dotenv): env mode in that format. */
  format?: string;
  quiet?: boolean;
}

export function outputMode(options: OutputOptions): OutputMode {
  if (options.json) return 'json';
  if (options.env || options.format !== undefined) return 'env';
  if (options.quiet) return 'quiet';
  return 'human';
}

/** How a failure is reported: the output mode, the env format of `false;`, and whether stack traces are shown. */
export interface Reporting {
  mode: OutputMode;
  format: EnvFormat;
  debug: boolean;
}

/**
 * How to report a failure, from the arguments as parsed (by the fast parser, by yargs, or by
 * yargs' partial parse of a line it refused): never from a scan of argv, so a `--json` that is
 * the value of another option (`--port-flag --json`) or lies after `--` is not taken for the flag.
 * Stack traces come with `--debug` or `STYXY_DEBUG=1`.
 */
export function reportingOf(args: Readonly<Record<string, unknown>>, env: NodeJS.ProcessEnv = process.env): Reporting {
  const format = typeof args.format === 'string' ? args.format : undefined;
  const mode = outputMode({ json: args.json === true, env: args.env === true, quiet: args.quiet === true, ...(format !== undefined && { format }) });
  const debugEnv = env.STYXY_DEBUG;
  return { mode, format: format !== undefined && isEnvFormat(format) ? format : 'posix', debug: args.debug === true || (debugEnv !== undefined && debugEnv !== '' && debugEnv !== '0') };
}

export function colourEnabled(): boolean {
  return !process.env.NO_COLOR && process.env.TERM !== 'dumb' && isTerminal(1);
}

const paint = (code: string) => (text: string) => (colourEnabled() ? `\u001b[${code}m${text}\u001b[0m` : text);
export const bold = paint('1');
export const green = paint('32');
export const dim = paint('2');

export function printJson(value: unknown): void {
  writeOut(`${JSON.stringify(value)}\n`);
}

export function printLine(text = ''): void {
  writeOut(`${text}\n`);
}

export function warn(text: string): void {
  writeErr(`${text}\n`);
}

/**
 * Prints a failure the way the mode asks: one JSON document on stdout for `--json`; `false;` on
 * stdout for `--env` (so that an `eval` of it fails) with the message on stderr; otherwise the
 * message and hints on stderr. Returns the exit status.
 */
export function reportError(err: unknown, { mode, format, debug }: Reporting): number {
  const error = isStyxyError(err)
    ? err
    : new StyxyError('INTERNAL', `Unexpected error: ${(err as Error)?.message ?? String(err)}`, { cause: err });
  if (mode === 'json') {
    printJson({
      success: false,
      error: {
        code: error.code,
        message: error.message,
        suggestions: error.suggestions,
        ...(error.details && { details: error.details }),
      },
    });
  } else {
    if (mode === 'env') writeOut(FAILURE_OUTPUT[format]);
    warn(`styxy: ${error.message.replace(/\n/g, '\n  ')}`);
    for (const hint of error.suggestions) warn(`  hint: ${hint}`);
  }
  if (debug || error.code === 'INTERNAL') {
    const cause = (error.cause ?? error) as Error;
    if (debug && cause?.stack) warn(cause.stack);
    else if (error.code === 'INTERNAL') warn('  (run again with --debug, or STYXY_DEBUG=1, for the stack trace)');
  }
  return EXIT_CODES[error.code];
}
