import { execFileSync } from 'child_process';
import { renderEnv, shellQuote } from '../../../lib/cli/env-format';
import { reportingOf, shown, shownLines } from '../../../lib/cli/output';

const hostile = ["it's", '$(touch /tmp/styxy-pwned)', '`id`', 'a;b', 'x\ny', '"q"', '\\', "''", '*', ' spaced '];

test.each(hostile)('shellQuote(%j) round-trips through sh unchanged', (value) => {
  const out = execFileSync('sh', ['-c', `printf %s ${shellQuote(value)}`], { encoding: 'utf8' });
  expect(out).toBe(value);
});

test('renderEnv ends every statement with ;', () => {
  expect(
    renderEnv([
      ['PORT', '3000'],
      ['X', "a'b"],
    ]),
  ).toBe("export PORT='3000';\nexport X='a'\\''b';");
});

describe('shown: untrusted text for human output has every control character escaped', () => {
  test.each([
    ['plain text, ünïcödé ✔', 'plain text, ünïcödé ✔'],
    ['\u001b]0;pwned\u0007', '\\x1b]0;pwned\\x07'], // OSC: window title
    ['\u001b[2J\u001b[H', '\\x1b[2J\\x1b[H'], // clear screen
    ['\u001b]52;c;ZWNobyBwd25lZA==\u0007', '\\x1b]52;c;ZWNobyBwd25lZA==\\x07'], // OSC 52: clipboard write
    ['a\nb\rc\td', 'a\\nb\\rc\\td'],
    ['\u0000\u0001\u001f\u007f', '\\x00\\x01\\x1f\\x7f'],
    ['\u009b31m\u0085\u0090', '\\x9b31m\\x85\\x90'], // C1: CSI, NEL, DCS
    ['safe\u202etxt.exe\u2028x', 'safe\\u202etxt.exe\\u2028x'], // bidi override, line separator
  ])('%j', (raw, escaped) => {
    expect(shown(raw)).toBe(escaped);
  });

  test('every code point below 0x20, DEL and 0x80-0x9f is escaped; nothing printable is', () => {
    for (let c = 0; c < 0x3000; c++) {
      const out = shown(String.fromCharCode(c));
      const control = c < 0x20 || (c >= 0x7f && c <= 0x9f);
      if (control) expect(out).toMatch(/^\\/);
      if (!control && c !== 0x200e && c !== 0x200f && c !== 0x2028 && c !== 0x2029 && !(c >= 0x202a && c <= 0x202e) && !(c >= 0x2066 && c <= 0x2069)) {
        expect(out).toBe(String.fromCharCode(c));
      }
    }
  });

  test('shownLines keeps the line breaks of a message and escapes the rest', () => {
    expect(shownLines('first \u001b[31m\nsecond')).toBe('first \\x1b[31m\nsecond');
  });
});

describe('reportingOf: how a failure is reported, from parsed arguments only', () => {
  test.each<[Record<string, unknown>, Record<string, string>, object]>([
    [{}, {}, { mode: 'human', format: 'posix', debug: false }],
    [{ json: true }, {}, { mode: 'json' }],
    [{ 'port-flag': '--json' }, {}, { mode: 'human' }],
    [{ env: true }, {}, { mode: 'env', format: 'posix' }],
    [{ format: 'fish' }, {}, { mode: 'env', format: 'fish' }],
    [{ format: 'nonsense' }, {}, { mode: 'human', format: 'posix' }], // not a format: its failure is told as text
    [{ format: true }, {}, { mode: 'human' }], // a partial parse of a bare --format
    [{ json: 'x' }, {}, { mode: 'human' }],
    [{ quiet: true }, {}, { mode: 'quiet' }],
    [{ verbose: true }, {}, { debug: false }],
    [{ debug: true }, {}, { debug: true }],
    [{}, { STYXY_DEBUG: '1' }, { debug: true }],
    [{}, { STYXY_DEBUG: '0' }, { debug: false }],
    [{}, { STYXY_DEBUG: '' }, { debug: false }],
  ])('%j with %j', (args, env, expected) => {
    expect(reportingOf(args, env)).toMatchObject(expected);
  });
});
