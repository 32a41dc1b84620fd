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
  return {
    mode,
    format: format !== undefined && isEnvFormat(format) ? format : 'posix',
    debug: args.debug === true || (debugEnv !== undefined && debugEnv !== '' && debugEnv !== '0'),
  };
}

export function colourEnabled(): boolean {
  return !process.env.NO_COLOR && process.env.TERM !== 'dumb' && isTerminal(1);
}

const paint = (code: string) => (text: string) => (colourEnabled() ? `\u001b[${code}m${text}\u001b[0m` : text);
export const bold = paint('1');
export const green = paint('32');
export const dim = paint('2');

/** An allocation's port as a person reads it: a block (`--block 3`) as its range, `8082-8084`. */
export function portsText(a: { port: number; block?: number }): string {
  return a.block !== undefined && a.block > 1 ? `${a.port}-${a.port + a.block - 1}` : String(a.port);
}

/**
 * Characters a terminal acts on instead of showing: C0 controls (ESC, BEL, CR, newline ...), DEL,
 * C1 controls (U+0080-U+009F, which some terminals read as ESC sequences: U+009B is CSI), the
 * Unicode line separators and the bidirectional overrides that reorder what is shown.
 */
// eslint-disable-next-line no-control-regex -- matching control characters is this expression's purpose
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/**
 * A string from outside Styxy (a type's description, a process's command line, a path, a file's
 * name) as it may be shown in human output: every control character escaped (`\x1b`, `\n`, `\x07`,
 * `\u009b`), so that printing it cannot set a window title, clear the screen, write the clipboard
 * (OSC 52) or forge a line: such text can come from a cloned repository or another user. `--json` is left as it is: it is read by programs.
 */
export function shown(text: string): string {
  return text.replace(CONTROL, (c) => {
    const code = c.charCodeAt(0);
    return NAMED[c] ?? (code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`);
  });
}

/** `shown` for a text of several lines: each line escaped, the line breaks kept. */
export function shownLines(text: string): string {
  return text.split('\n').map(shown).join('\n');
}

export function printJson(value: unknown): void {
  writeOut(`${JSON.stringify(value)}\n`);
}

export function printLine(text = ''): void {
  writeOut(`${text}\n`);
}

/** A line of the conversation on stderr; what it quotes from outside is escaped (see `shown`). */
export function warn(text: string): void {
  writeErr(`${shownLines(text)}\n`);
}

/**
 * Prints a failure the way the mode asks: one JSON document on stdout for `--json`; `false;` on
 * stdout for `--env` (so that an `eval` of it fails) with the message on stderr; otherwise the
 * message and hints on stderr. Returns the exit status.
 */
export function reportError(err: unknown, { mode, format, debug }: Reporting): number {
  const error = isStyxyError(err) ? err : new StyxyError('INTERNAL', `Unexpected error: ${(err as Error)?.message ?? String(err)}`, { cause: err });
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
    warn(`styxy: ${shownLines(error.message).replace(/\n/g, '\n  ')}`);
    for (const hint of error.suggestions) warn(`  hint: ${shown(hint)}`);
  }
  if (debug || error.code === 'INTERNAL') {
    const cause = (error.cause ?? error) as Error;
    if (debug && cause?.stack) warn(cause.stack);
    else if (error.code === 'INTERNAL') warn('  (run again with --debug, or STYXY_DEBUG=1, for the stack trace)');
  }
  return EXIT_CODES[error.code];
}
