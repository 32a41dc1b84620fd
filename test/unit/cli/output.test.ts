import { execFileSync } from 'child_process';
import { renderEnv, shellQuote } from '../../../lib/cli/env-format';

const hostile = ["it's", '$(touch /tmp/styxy-pwned)', '`id`', 'a;b', 'x\ny', '"q"', '\\', "''", '*', ' spaced '];

test.each(hostile)('shellQuote(%j) round-trips through sh unchanged', (value) => {
  const out = execFileSync('sh', ['-c', `printf %s ${shellQuote(value)}`], { encoding: 'utf8' });
  expect(out).toBe(value);
});

test('renderEnv ends every statement with ;', () => {
  expect(renderEnv([['PORT', '3000'], ['X', "a'b"]])).toBe("export PORT='3000';\nexport X='a'\\''b';");
});
