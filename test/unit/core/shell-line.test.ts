import { readShellLine } from '../../../lib/core/shell-line';

const words = (line: string) => readShellLine(line)?.commands.map((c) => c.words.map((w) => w.value));

test.each<[string, string[][] | undefined]>([
  ['npm run dev', [['npm', 'run', 'dev']]],
  [
    'cd app && PORT=3000 npm run dev &',
    [
      ['cd', 'app'],
      ['PORT=3000', 'npm', 'run', 'dev'],
    ],
  ],
  ['a | b |& c; d || e', [['a'], ['b'], ['c'], ['d'], ['e']]],
  ['vite >log 2>&1 &>all <in', [['vite']]],
  ['echo \'a b\' "c d" # a comment', [['echo', 'a b', 'c d']]],
  ['npm run \\\n  dev\r\nnext', [['npm', 'run', 'dev'], ['next']]],
  ['echo $(date)', undefined],
  ['(cd app; npm start)', undefined],
  ['echo `date`', undefined],
  ['cat <<EOF', undefined],
  ['diff <(a) >(b)', undefined],
  ['if true; then x; fi', undefined],
  ['x; { y; }', undefined],
  ['case a in a) ;; esac', undefined],
  ["echo 'unclosed", undefined],
])('%j: its simple commands, or refused', (line, expected) => {
  expect(words(line)).toEqual(expected);
});

test('comments are gathered; the tokens keep where each stands', () => {
  const read = readShellLine('a #one\nb 2>&1 # two');
  expect(read?.comments).toBe('one\n two\n');
  expect(read?.tokens.map((t) => [t.kind, t.start, t.end])).toEqual([
    ['word', 0, 1],
    ['op', 6, 7],
    ['word', 7, 8],
    ['redirect', 9, 13],
  ]);
});
