import { EXIT_CODES, StyxyError, isStyxyError } from '../errors';
import { isTerminal, writeErr, writeOut } from '../os/stdio';
import { FAILURE_OUTPUT, type EnvFormat } from './env-format';

/** How a command's result is printed: the flags that choose it are shared by every command. */
export type OutputMode = 'human' | 'json' | 'env' | 'quiet';

export interface OutputOptions {
  json?: boolean;
  env?: boolean;
  /** An env format (posix, fish, powershell, dotenv): env mode in that format. */
  format?: string;
  quiet?: boolean;
  verbose?: boolean;
}

export function outputMode(options: OutputOptions): OutputMode {
  if (options.json) return 'json';
  if (options.env || options.format !== undefined) return 'env';
  if (options.quiet) return 'quiet';
  return 'human';
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
export function reportError(err: unknown, mode: OutputMode, verbose: boolean, format: EnvFormat = 'posix'): number {
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
  if (verbose || error.code === 'INTERNAL') {
    const cause = (error.cause ?? error) as Error;
    if (verbose && cause?.stack) warn(cause.stack);
    else if (error.code === 'INTERNAL') warn('  (run again with --verbose for the stack trace)');
  }
  return EXIT_CODES[error.code];
}
