import { StyxyError } from '../errors';
import { findEnvNameProblem } from '../core/names';

/**
 * Variables written for a shell or a tool to read back: `eval "$(styxy allocate --env)"`,
 * `styxy allocate --format fish | source`, `... --format powershell | Invoke-Expression`,
 * `... --format dotenv > .env.styxy` for `docker compose --env-file`.
 *
 * Every value is quoted so that the reader takes it literally: no expansion, no command
 * substitution, no second statement. Every name is checked, since a name cannot be quoted.
 */
export const ENV_FORMATS = ['posix', 'fish', 'powershell', 'dotenv'] as const;
export type EnvFormat = (typeof ENV_FORMATS)[number];

export function isEnvFormat(value: string | undefined): value is EnvFormat {
  return (ENV_FORMATS as readonly (string | undefined)[]).includes(value);
}

/** POSIX single quotes: nothing inside is special; a quote is closed, escaped and reopened. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** fish single quotes: only `\` and `'` are special inside, each escaped with a backslash. */
export function fishQuote(value: string): string {
  return `'${value.replace(/[\\']/g, (c) => `\\${c}`)}'`;
}

/**
 * PowerShell single quotes (a verbatim string): a quote is doubled. PowerShell also closes a
 * single-quoted string on the typographic quotes U+2018-U+201B, so those are doubled too.
 */
export function powershellQuote(value: string): string {
  return `'${value.replace(/['\u2018\u2019\u201a\u201b]/g, (c) => c + c)}'`;
}

/**
 * A dotenv value in single quotes. Readers differ: docker compose v2 takes single quotes
 * literally, python-dotenv (compose v1 and many tools) still expands `${...}` and treats `\` as
 * an escape in them, and none has a way to write a quote or a line break inside. So a value
 * holding any of `'`, `\`, `$` or a line break is refused rather than written some reader would
 * misread. (Styxy's own values are ports and names, which never hold them.)
 */
export function dotenvQuote(value: string): string {
  if (/['\\$\r\n]/.test(value)) {
    throw new StyxyError(
      'INVALID_ARGUMENT',
      `${JSON.stringify(value)} cannot be written as a dotenv value that every reader takes literally (it holds a quote, a backslash, a $ or a line break)`,
    );
  }
  return `'${value}'`;
}

const STATEMENT: Record<EnvFormat, (name: string, value: string) => string> = {
  posix: (name, value) => `export ${name}=${shellQuote(value)};`,
  fish: (name, value) => `set -gx ${name} ${fishQuote(value)};`,
  powershell: (name, value) => `$env:${name} = ${powershellQuote(value)};`,
  dotenv: (name, value) => `${name}=${dotenvQuote(value)}`,
};

/** One statement a line, each ending with `;` for the shells. */
export function renderEnv(vars: ReadonlyArray<readonly [string, string]>, format: EnvFormat = 'posix'): string {
  return vars
    .map(([name, value]) => {
      const problem = findEnvNameProblem(name);
      if (problem) throw new StyxyError('INVALID_ARGUMENT', `variable name ${problem}`);
      if (value.includes('\0')) throw new StyxyError('INVALID_ARGUMENT', `the value of ${name} holds a NUL byte, which no environment can carry`);
      return STATEMENT[format](name, value);
    })
    .join('\n');
}

/**
 * What stdout carries when the command fails, so that a reader that does not check the exit
 * status still fails: `false;` for the shells (the eval's status is 1), a `throw` for
 * PowerShell, nothing for dotenv (an empty file sets nothing).
 */
export const FAILURE_OUTPUT: Record<EnvFormat, string> = {
  posix: 'false;\n',
  fish: 'false;\n',
  powershell: "throw 'styxy failed: see the message above';\n",
  dotenv: '',
};
