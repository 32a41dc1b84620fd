import * as fs from 'fs';
import * as path from 'path';

const ROOT = path.join(__dirname, '..', '..');

/** The README and every page of docs/, where the recipes live. */
function manualPages(): string[] {
  const docs = path.join(ROOT, 'docs');
  const pages = fs.readdirSync(docs).filter((name) => name.endsWith('.md'));
  return [path.join(ROOT, 'README.md'), ...pages.sort().map((name) => path.join(docs, name))];
}

/**
 * The code block that follows `<!-- recipe: NAME -->` in the README or a page of docs/, exactly
 * as users read it, so that tests run what the manual prints. A name must mark one block only.
 */
export function readmeRecipe(name: string): string {
  const marker = `<!-- recipe: ${name} -->\n`;
  const found: string[] = [];
  for (const page of manualPages()) {
    const text = fs.readFileSync(page, 'utf8');
    let at = text.indexOf(marker);
    while (at !== -1) {
      const match = /^```[a-z]*\n([\s\S]*?)```/.exec(text.slice(at + marker.length));
      if (!match) throw new Error(`recipe ${name} in ${page} is not followed by a code block`);
      found.push(match[1] as string);
      at = text.indexOf(marker, at + 1);
    }
  }
  if (found.length !== 1) throw new Error(`the manual has ${found.length} recipes named ${name}, not one`);
  return found[0] as string;
}

/** The text of one page of the manual: `README.md` or `docs/NAME.md`. */
export function manualPage(name: string): string {
  return fs.readFileSync(path.join(ROOT, name), 'utf8');
}
