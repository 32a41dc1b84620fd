import * as fs from 'fs';
import * as path from 'path';

/**
 * The code block that follows `<!-- recipe: NAME -->` in the README (or a page under docs/),
 * exactly as users read it, so that tests run what the page prints.
 */
export function readmeRecipe(name: string, file = 'README.md'): string {
  const readme = fs.readFileSync(path.join(__dirname, '..', '..', file), 'utf8');
  const marker = `<!-- recipe: ${name} -->\n`;
  const at = readme.indexOf(marker);
  if (at === -1) throw new Error(`README has no recipe ${name}`);
  const match = /^```[a-z]*\n([\s\S]*?)```/.exec(readme.slice(at + marker.length));
  if (!match) throw new Error(`README recipe ${name} is not followed by a code block`);
  return match[1] as string;
}
