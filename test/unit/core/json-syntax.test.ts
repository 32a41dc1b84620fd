import { findJsonSyntaxProblems } from '../../../lib/core/json-syntax';

const at = (text: string) => findJsonSyntaxProblems(text).problems.map((p) => `${p.line}:${p.column} ${p.message}`);

test.each([
  ['{"a": 1,}', ['1:8 trailing comma (remove it)']],
  ['{\n  "a": [1, 2,],\n  "b": {"c": 1,},\n}', ['2:13 trailing comma (remove it)', '3:15 trailing comma (remove it)', '3:17 trailing comma (remove it)']],
  ['SHELL=/bin/bash', ['1:1 unexpected character where a value should start']],
  ['{"a": 1', ['1:8 unexpected end of file']],
  ['{"a" 1}', ["1:6 expected ':' after a property name"]],
  ["{'a': 1}", ['1:2 expected a property name in double quotes']],
  ['{"a": 1} x', ['1:10 unexpected text after the end of the document']],
  ['{"a": "b\nc"}', ['1:9 control character in a string (escape it)']],
  ['{"a": "\\x"}', ['1:8 invalid escape in a string']],
  ['{"a": 01}', ['1:7 invalid number']],
  ['{"a": 1 "b": 2}', ["1:9 expected ',' or '}'"]],
  ['[1,,2]', ['1:4 unexpected character where a value should start']],
  ['{"a": [1,], "b" 2}', ['1:9 trailing comma (remove it)', "1:17 expected ':' after a property name"]],
  ['', ['1:1 unexpected end of file']],
  ['\uFEFF{}', ['1:1 unexpected character where a value should start']],
])('%j', (text, expected) => {
  expect(at(text)).toEqual(expected);
});

test('only trailing commas: the repaired text parses, so the schema can be checked too', () => {
  const report = findJsonSyntaxProblems('{"a": [1, 2,], "b": {"c": true,},}');
  expect(JSON.parse(report.repaired as string)).toEqual({ a: [1, 2], b: { c: true } });
  expect(findJsonSyntaxProblems('{"a": 1,, }').repaired).toBeNull();
});

test('hostile nesting does not overflow the stack', () => {
  expect(at('['.repeat(200_000))).toEqual(['1:200001 unexpected end of file']);
  expect(at(`${'{"a":'.repeat(100_000)}1${'}'.repeat(99_999)},}`)).toEqual([`1:${500_000 + 1 + 99_999 + 1} trailing comma (remove it)`]);
});

test('it agrees with JSON.parse: a problem exactly where the parser refuses (5 000 mutated documents)', () => {
  let seed = 7;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };
  const base = JSON.stringify(
    { service_types: { web: { port_range: [12000, 12009], description: 'a "quoted" \\ text', preferred: [1.5e3, -2, 0] } }, ok: true, none: null },
    null,
    2,
  );
  const noise = [',', '}', ']', '{', '[', '"', ':', ' ', '\n', '1', '-', 'e', '.', 't', '\\', '\u0001'];
  let refused = 0;
  for (let n = 0; n < 5000; n++) {
    const chars = base.split('');
    for (let k = rand(3) + 1; k > 0; k--) {
      const i = rand(chars.length);
      if (rand(2) === 0) chars.splice(i, 1);
      else chars.splice(i, 0, noise[rand(noise.length)] as string);
    }
    const text = chars.join('');
    let parses = true;
    try {
      JSON.parse(text);
    } catch {
      parses = false;
    }
    const { problems } = findJsonSyntaxProblems(text);
    if (parses) expect(problems).toEqual([{ line: 1, column: 1, message: 'not valid JSON' }]);
    else {
      refused++;
      expect(problems.some((p) => p.message === 'not valid JSON')).toBe(false);
    }
  }
  expect(refused).toBeGreaterThan(1500);
});
