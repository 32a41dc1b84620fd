import * as fs from 'fs';
import * as path from 'path';

/**
 * Tests are found by what they test, not by when they were written. A unit test of
 * `lib/<folder>/<file>.ts` is `test/unit/<folder>/<file>.test.ts`, or `<file>.<aspect>.test.ts` when
 * one source's tests are split by subject; a test at the top of test/unit checks a folder of the
 * repository named like it (`schemas.test.ts`) or the project as a whole; and no test, source or title cites an issue number,
 * which a reader of the repository cannot look up: it states the reason instead.
 */

const ROOT = path.resolve(__dirname, '..', '..');

/** The unit tests that check the project as a whole rather than one source file. */
const WHOLE_PROJECT = new Map([
  ['layering.test.ts', "lib/'s imports against the layers of ARCHITECTURE.md"],
  ['manual.test.ts', "docs/ and the README's links and headings"],
  ['config-manual.test.ts', "the manual's settings tables against the config schema and defaults"],
  ['output-schemas.test.ts', 'the published --json schemas (schemas/output/) and the checker every CLI test runs them through'],
  ['api-types.test.ts', 'lib/api.ts against the published types/styxy.d.ts'],
  ['test-layout.test.ts', 'this file: where tests live and what they are called'],
]);

/** `scripts/build.test.ts` mirrors scripts/build.js: the build's own code is tested as lib's is. */
function mirrorsAScript(testPath: string): boolean {
  const [folder, file = ''] = testPath.split(path.sep);
  const [name = ''] = file.split('.');
  return folder === 'scripts' && fs.existsSync(path.join(ROOT, 'scripts', `${name}.js`));
}

/** A unit test at the top named after a folder of the repository (`schemas.test.ts`) checks that folder. */
function checksAFolder(testPath: string): boolean {
  const [name = ''] = testPath.split('.');
  return (
    !testPath.includes(path.sep) && name !== 'lib' && name !== 'test' && fs.statSync(path.join(ROOT, name), { throwIfNoEntry: false })?.isDirectory() === true
  );
}

function walk(dir: string, keep: (file: string) => boolean): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'node_modules' || entry.name === 'fixtures' ? [] : walk(full, keep);
    return keep(full) ? [full] : [];
  });
}

/** The source a unit test mirrors: `core/prune.namespaces.test.ts` → `lib/core/prune.ts`. */
export function mirroredSource(testPath: string): string {
  const dir = path.dirname(testPath);
  const [name = ''] = path.basename(testPath).split('.');
  return path.join('lib', dir === '.' ? '' : dir, `${name}.ts`);
}

test.each([
  ['core/prune.test.ts', 'lib/core/prune.ts'],
  ['core/prune.namespaces.test.ts', 'lib/core/prune.ts'],
  ['cli/mcp-server.test.ts', 'lib/cli/mcp-server.ts'],
  ['api.test.ts', 'lib/api.ts'],
])('the source of %s is %s', (test, source) => {
  expect(mirroredSource(test)).toBe(source);
});

test('every unit test mirrors a source file under lib/', () => {
  const unit = path.join(ROOT, 'test', 'unit');
  const strays = walk(unit, (f) => f.endsWith('.test.ts'))
    .map((f) => path.relative(unit, f))
    .filter((f) => !WHOLE_PROJECT.has(f) && !checksAFolder(f) && !fs.existsSync(path.join(ROOT, mirroredSource(f))) && !mirrorsAScript(f));
  expect(strays).toEqual([]);
});

// "issue 14", "issues 13 and 24", "(#15)", "item 7": a history a reader of the code cannot see.
const CITES_ISSUE = /\bissues? #?\d|\(#\d+|\(items? \d+/i;

test.each([
  ['(issue 14 item 9)', true],
  ["Issue 24's end-to-end proof", true],
  ['before (#15, big states)', true],
  ['close to start-up (#6)', true],
  ["another version's state (item 2)", true],
  ['an issue with the lock', false],
  ['items 1-63 characters', false],
  ['port 3000 #anchor', false],
])('%j cites an issue: %s', (text, cites) => {
  expect(CITES_ISSUE.test(text)).toBe(cites);
});

test('no source or test cites an issue number', () => {
  const files = ['lib', 'test', 'scripts'].flatMap((dir) => walk(path.join(ROOT, dir), (f) => /\.(ts|js|mjs)$/.test(f)));
  const citing = files.flatMap((file) =>
    fs
      .readFileSync(file, 'utf8')
      .split('\n')
      .flatMap((line, i) =>
        CITES_ISSUE.test(line) && !line.includes('CITES_ISSUE') && !file.endsWith('test-layout.test.ts')
          ? [`${path.relative(ROOT, file)}:${i + 1}: ${line.trim()}`]
          : [],
      ),
  );
  expect(citing).toEqual([]);
});
