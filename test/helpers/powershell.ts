/**
 * A reader of what `--format powershell` writes, for machines without PowerShell (it is neither
 * in Debian nor installable from npm here: the `pwsh` package downloads its binary at install).
 * It follows the PowerShell Language Specification 3.0, section 2.3.5.2 (verbatim string
 * literals): a single-quoted string ends at a single-quote-character, which is any of U+0027,
 * U+2018, U+2019, U+201A and U+201B, and inside it two adjacent ones stand for one; nothing
 * else in it is special (no `$`, no backtick escape, line breaks taken as they are).
 *
 * It accepts only a sequence of `$env:NAME = '<verbatim>';` statements, one a line, and throws
 * on anything else: so text it reads holds nothing PowerShell would run besides those
 * assignments, and the values it returns are what PowerShell would assign.
 */
const QUOTES = new Set(["'", '\u2018', '\u2019', '\u201a', '\u201b']);

export function readPowershellAssignments(text: string): [string, string][] {
  const vars: [string, string][] = [];
  let i = 0;
  const expect = (literal: string): void => {
    if (text.slice(i, i + literal.length) !== literal) throw new Error(`expected ${JSON.stringify(literal)} at ${i}: ${JSON.stringify(text.slice(i, i + 20))}`);
    i += literal.length;
  };
  while (i < text.length) {
    expect('$env:');
    const name = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i))?.[0];
    if (!name) throw new Error(`expected a variable name at ${i}`);
    i += name.length;
    expect(' = ');
    if (!QUOTES.has(text[i] ?? '')) throw new Error(`expected a single-quote-character at ${i}`);
    i++;
    let value = '';
    for (;;) {
      const c = text[i];
      if (c === undefined) throw new Error('unterminated verbatim string');
      i++;
      if (!QUOTES.has(c)) {
        value += c;
        continue;
      }
      // Two adjacent quote characters are one; Styxy doubles a quote with itself, so a mixed pair is refused here as a reader that does not know which one PowerShell keeps.
      if (!QUOTES.has(text[i] ?? '')) break;
      if (text[i] !== c) throw new Error(`a mixed pair of quote characters at ${i}`);
      value += c;
      i++;
    }
    expect(';');
    if (i < text.length) expect('\n');
    vars.push([name, value]);
  }
  return vars;
}
