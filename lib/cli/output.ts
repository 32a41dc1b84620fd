import { EXIT_CODES, StyxyError, isStyxyError } from '../errors';
import { isTerminal, writeErr, writeOut } from '../os/stdio';
import { FAILURE_OUTPUT, isEnvFormat, type EnvFormat } from './env-format';

/**
 * The one output axis: `--format F`, of which `--json`, `--env` and `-q` are shorthands. `env`
 * is POSIX shell statements (`posix` is accepted as its earlier name); `fish`, `powershell` and
 * `dotenv` are the same variables quoted for those readers; `port` and `url` are the bare value.
 * Each command declares the formats it has (`formats` in command-spec.ts).
 */
export const OUTPUT_FORMATS = ['json', 'env', 'fish', 'powershell', 'dotenv', 'port', 'url'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** How a command's result is printed: `env` covers every env format (which one: `envFormatOf`), `quiet` is `port`. */
export type OutputMode = 'human' | 'json' | 'env' | 'quiet' | 'url';

export interface OutputOptions {
  json?: boolean;
  env?: boolean;
  /** One of OUTPUT_FORMATS (checked by `checkOutputFormat` before the handler runs). */
  format?: string;
  quiet?: boolean;
}

/** `--format`'s value as a format: `posix` is `env`; null when it is none. */
function formatNamed(value: string): OutputFormat | null {
  if (value === 'posix') return 'env';
  return (OUTPUT_FORMATS as readonly string[]).includes(value) ? (value as OutputFormat) : null;
}

const MODE_OF: Record<OutputFormat, OutputMode> = { json: 'json', env: 'env', fish: 'env', powershell: 'env', dotenv: 'env', port: 'quiet', url: 'url' };

/** The shorthands given, each with the format it stands for. */
function shorthands(options: OutputOptions): [string, OutputFormat][] {
  const given: [string, OutputFormat][] = [];
  if (options.json === true) given.push(['--json', 'json']);
  if (options.env === true) given.push(['--env', 'env']);
  if (options.quiet === true) given.push(['-q', 'port']);
  return given;
}

/**
 * The format a line asks for (null: human text). `--format` and a shorthand that say the same
 * thing agree (`--json --format json`); two that differ are a USAGE error. A format the command
 * does not have is INVALID_ARGUMENT, naming those it has. Either is thrown before anything is
 * read, so nothing changes; a `--json` or `--format json` on the line makes the error one JSON
 * document (main.ts).
 */
export function checkOutputFormat(options: OutputOptions, offered: readonly OutputFormat[]): OutputFormat | null {
  const asked = shorthands(options);
  if (options.format !== undefined) {
    const value = String(options.format);
    const format = formatNamed(value);
    if (format === null || !offered.includes(format)) {
      throw new StyxyError('INVALID_ARGUMENT', `--format ${JSON.stringify(value)} is not a format of this command; it has: ${offered.join(', ')}`, {
        details: { format: value, formats: [...offered] },
      });
    }
    asked.push([`--format ${value}`, format]);
  }
  const first = asked[0];
  if (first && asked.some(([, f]) => f !== first[1])) {
    throw new StyxyError('USAGE', `${asked.map(([flag]) => flag).join(' and ')} ask for different outputs: give one`, {
      details: { formats: asked.map(([, f]) => f) },
      suggestions: ['--json, --env and -q are --format json, env and port'],
    });
  }
  return first?.[1] ?? null;
}

export function outputMode(options: OutputOptions): OutputMode {
  if (options.json === true) return 'json';
  const format = typeof options.format === 'string' ? formatNamed(options.format) : null;
  if (format) return MODE_OF[format];
  if (options.env === true) return 'env';
  if (options.quiet === true) return 'quiet';
  return 'human';
}

/** Which reader the env mode writes for: `--env` and `--format env|posix` are POSIX shells. */
export function envFormatOf(options: OutputOptions): EnvFormat {
  return typeof options.format === 'string' && isEnvFormat(options.format) ? options.format : 'posix';
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
 * A line whose flags disagree is reported as JSON when one of them asks for it. Stack traces
 * come with `--debug` or `STYXY_DEBUG=1`.
 */
export function reportingOf(args: Readonly<Record<string, unknown>>, env: NodeJS.ProcessEnv = process.env): Reporting {
  const format = typeof args.format === 'string' ? args.format : undefined;
  const options = {
    json: args.json === true || format === 'json',
    env: args.env === true,
    quiet: args.quiet === true,
    ...(format !== undefined && { format }),
  };
  const debugEnv = env.STYXY_DEBUG;
  return {
    mode: outputMode(options),
    format: envFormatOf(options),
    debug: args.debug === true || (debugEnv !== undefined && debugEnv !== '' && debugEnv !== '0'),
  };
}

/**
 * Whether stdout gets colour. The user's word first: `NO_COLOR` (any non-empty value) turns it
 * off and wins over everything, as no-color.org asks; then `FORCE_COLOR` (force-color.org, with
 * the `0`/`false` that supports-color and Node read as "off"): `0` or `false` turns it off, any
 * other non-empty value on, even when stdout is not a terminal or `TERM` is `dumb`. Without
 * either, colour only on a terminal whose `TERM` is not `dumb`.
 */
export function colourEnabled(env: NodeJS.ProcessEnv = process.env, stdoutIsTerminal: () => boolean = () => isTerminal(1)): boolean {
  if (env.NO_COLOR) return false;
  const force = env.FORCE_COLOR;
  if (force !== undefined && force !== '') return force !== '0' && force.toLowerCase() !== 'false';
  return env.TERM !== 'dumb' && stdoutIsTerminal();
}

const paint = (code: string) => (text: string) => (colourEnabled() ? `\u001b[${code}m${text}\u001b[0m` : text);
export const bold = paint('1');
export const green = paint('32');
export const red = paint('31');
export const dim = paint('2');

/**
 * The CLI's one set of marks, each with the ASCII word that stands for it under `TERM=dumb`
 * (a terminal that may show neither colour nor anything beyond ASCII).
 */
export const GLYPHS = {
  ok: ['\u2714', 'ok'],
  fail: ['\u2718', 'FAIL'],
  info: ['\u2139', 'info'],
  warn: ['!', 'warn'],
  arrow: ['\u2192', '->'],
  new: ['\u2728', 'new'],
  dash: ['\u2014', '-'],
} as const satisfies Record<string, readonly [string, string]>;
export type GlyphName = keyof typeof GLYPHS;

/** A mark for human output: the symbol, or its ASCII word under `TERM=dumb`. */
export function glyph(name: GlyphName, env: NodeJS.ProcessEnv = process.env): string {
  return GLYPHS[name][env.TERM === 'dumb' ? 1 : 0];
}

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
