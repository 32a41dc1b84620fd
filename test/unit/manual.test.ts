import * as fs from 'fs';
import * as path from 'path';

// The manual is README.md and docs/*.md: every link between its pages (and to the repository's
// files) must lead somewhere, down to the heading, so that splitting or renaming a section
// cannot leave a reader at a dead end.

const ROOT = path.join(__dirname, '..', '..');
const pages = [
  'README.md',
  ...fs
    .readdirSync(path.join(ROOT, 'docs'))
    .filter((n) => n.endsWith('.md'))
    .map((n) => `docs/${n}`),
];

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens. */
const anchorOf = (heading: string): string =>
  heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-');

function anchors(text: string): Set<string> {
  const found = new Set<string>();
  let fenced = false;
  for (const line of text.split('\n')) {
    if (line.startsWith('```')) fenced = !fenced;
    const heading = !fenced && /^#{1,6} (.*)$/.exec(line);
    if (heading) found.add(anchorOf(heading[1] as string));
  }
  return found;
}

/** The Markdown links of a page outside code, as [target, anchor]. */
function links(text: string): Array<[string, string]> {
  const prose = text.replace(/^```[\s\S]*?^```/gm, '').replace(/`[^`\n]*`/g, '');
  return [...prose.matchAll(/\]\(([^)\s]+)\)/g)]
    .map((m) => m[1] as string)
    .filter((target) => !/^[a-z]+:/.test(target))
    .map((target) => {
      const at = target.indexOf('#');
      return at === -1 ? [target, ''] : [target.slice(0, at), target.slice(at + 1)];
    });
}

test.each(pages)('every link in %s leads to a file and a heading that exist', (page) => {
  const text = fs.readFileSync(path.join(ROOT, page), 'utf8');
  const broken: string[] = [];
  for (const [target, anchor] of links(text)) {
    const file = target === '' ? path.join(ROOT, page) : path.join(ROOT, path.dirname(page), target);
    if (!fs.existsSync(file)) broken.push(`${target}#${anchor}: no such file`);
    else if (anchor && file.endsWith('.md') && !anchors(fs.readFileSync(file, 'utf8')).has(anchor)) broken.push(`${target}#${anchor}: no such heading`);
  }
  expect(broken).toEqual([]);
});

test('the README stays a short guide: the reference lives in docs/', () => {
  const lines = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8').split('\n').length;
  expect(lines).toBeLessThanOrEqual(350);
});
