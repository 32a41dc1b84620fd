import { checkOutputFormat, colourEnabled, glyph, GLYPHS, OUTPUT_FORMATS, outputMode, reportingOf, type OutputFormat } from '../../../lib/cli/output';
import { isStyxyError } from '../../../lib/errors';

const ALL: readonly OutputFormat[] = OUTPUT_FORMATS;

function codeOf(fn: () => unknown): string | null {
  try {
    fn();
    return null;
  } catch (err) {
    return isStyxyError(err) ? err.code : 'not a StyxyError';
  }
}

describe('checkOutputFormat: --format and its shorthands are one axis', () => {
  test.each<[object, OutputFormat | null]>([
    [{}, null],
    [{ json: true }, 'json'],
    [{ env: true }, 'env'],
    [{ quiet: true }, 'port'],
    [{ format: 'json' }, 'json'],
    [{ format: 'posix' }, 'env'],
    [{ format: 'fish' }, 'fish'],
    [{ format: 'url' }, 'url'],
    [{ json: true, format: 'json' }, 'json'],
    [{ env: true, format: 'env' }, 'env'],
    [{ env: true, format: 'posix' }, 'env'],
    [{ quiet: true, format: 'port' }, 'port'],
  ])('%j agrees: %j', (options, format) => {
    expect(checkOutputFormat(options, ALL)).toBe(format);
  });

  test.each([
    [{ json: true, env: true }],
    [{ json: true, quiet: true }],
    [{ env: true, quiet: true }],
    [{ json: true, format: 'env' }],
    [{ env: true, format: 'fish' }],
    [{ quiet: true, format: 'url' }],
    [{ json: true, format: 'port' }],
  ])('%j disagree: USAGE', (options) => {
    expect(codeOf(() => checkOutputFormat(options, ALL))).toBe('USAGE');
  });

  test.each<[object, readonly OutputFormat[]]>([
    [{ format: 'csh' }, ALL],
    [{ format: '' }, ALL],
    [{ format: 'JSON' }, ALL],
    [{ format: 'env' }, ['json', 'port']],
    [{ format: 'url' }, ['json', 'port']],
    [{ format: 'json' }, []],
  ])('%j is not a format of a command with %j: INVALID_ARGUMENT', (options, offered) => {
    expect(codeOf(() => checkOutputFormat(options, offered))).toBe('INVALID_ARGUMENT');
  });
});

test.each<[object, string]>([
  [{}, 'human'],
  [{ json: true }, 'json'],
  [{ format: 'json' }, 'json'],
  [{ env: true }, 'env'],
  [{ format: 'dotenv' }, 'env'],
  [{ format: 'port' }, 'quiet'],
  [{ quiet: true }, 'quiet'],
  [{ format: 'url' }, 'url'],
])('outputMode(%j) is %s', (options, mode) => expect(outputMode(options)).toBe(mode));

describe('reportingOf: a failure of a line whose flags disagree', () => {
  test.each<[Record<string, unknown>, object]>([
    [{ format: 'json' }, { mode: 'json' }],
    [{ json: true, format: 'env' }, { mode: 'json' }],
    [{ env: true, format: 'json' }, { mode: 'json' }],
    [
      { env: true, format: 'fish' },
      { mode: 'env', format: 'fish' },
    ],
    [{ format: 'powershell' }, { mode: 'env', format: 'powershell' }],
    [{ format: 'port' }, { mode: 'quiet' }],
    [{ format: 'url' }, { mode: 'url' }],
    [{ format: 'csh' }, { mode: 'human' }],
    [
      { env: true, format: 'csh' },
      { mode: 'env', format: 'posix' },
    ],
  ])('%j is reported as %j', (args, expected) => expect(reportingOf(args, {})).toMatchObject(expected));
});

describe('colourEnabled: NO_COLOR, then FORCE_COLOR, then the terminal', () => {
  const tty = () => true;
  const pipe = () => false;
  test.each<[NodeJS.ProcessEnv, () => boolean, boolean]>([
    [{}, tty, true],
    [{}, pipe, false],
    [{ TERM: 'dumb' }, tty, false],
    [{ NO_COLOR: '1' }, tty, false],
    [{ NO_COLOR: '' }, tty, true],
    [{ FORCE_COLOR: '1' }, pipe, true],
    [{ FORCE_COLOR: '2' }, pipe, true],
    [{ FORCE_COLOR: '3' }, pipe, true],
    [{ FORCE_COLOR: 'true' }, pipe, true],
    [{ FORCE_COLOR: '0' }, tty, false],
    [{ FORCE_COLOR: 'false' }, tty, false],
    [{ FORCE_COLOR: 'FALSE' }, tty, false],
    [{ FORCE_COLOR: '' }, pipe, false],
    [{ FORCE_COLOR: '' }, tty, true],
    [{ FORCE_COLOR: '1', TERM: 'dumb' }, pipe, true],
    [{ FORCE_COLOR: '1', NO_COLOR: '1' }, tty, false],
    [{ FORCE_COLOR: '0', NO_COLOR: '' }, tty, false],
  ])('%j, terminal %p: %p', (env, terminal, expected) => expect(colourEnabled(env, terminal)).toBe(expected));
});

describe('glyph: one set of marks, ASCII words under TERM=dumb', () => {
  test.each(Object.keys(GLYPHS) as (keyof typeof GLYPHS)[])('%s', (name) => {
    expect(glyph(name, {})).toBe(GLYPHS[name][0]);
    const dumb = glyph(name, { TERM: 'dumb' });
    expect(dumb).toMatch(/^[\x21-\x7e]+$/);
    expect(dumb).not.toBe('');
  });
});
