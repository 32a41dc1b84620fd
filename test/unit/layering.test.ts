import * as fs from 'fs';
import * as path from 'path';

/**
 * The layers of lib/ and which of them each may import (ARCHITECTURE.md): calls flow one way,
 * cli → app → store/os → core. The CLI and the Node API reach the store only through a use case
 * in lib/app; core imports only core and the generated files (the state's types and the config
 * bounds, made from schemas/); errors.ts and the generated files are shared leaves.
 * `types` is the package's public declarations (types/styxy.d.ts), which the API is held to.
 */
const MAY_IMPORT: Record<string, readonly string[]> = {
  cli: ['cli', 'app', 'os', 'core', 'errors', 'generated'],
  api: ['api', 'app', 'os', 'core', 'errors', 'types'],
  app: ['app', 'store', 'os', 'core', 'errors'],
  store: ['store', 'os', 'core', 'errors', 'generated'],
  os: ['os', 'core', 'errors'],
  core: ['core', 'generated'],
  errors: [],
  generated: [],
  // The loader bin/styxy calls: it answers --version from the generated constant, the CLI bundle does the rest.
  boot: ['generated'],
};

const LIB = path.resolve(__dirname, '..', '..', 'lib');

/**
 * The layer of a file under lib/: its first folder, or its own name for a file at the top. Of a
 * file outside lib/, the folder of the repository it is in, with `outside:` before it.
 */
export function layerOf(file: string): string {
  const relative = path.relative(LIB, file);
  if (relative.startsWith('..')) {
    const [folder] = path.relative(path.dirname(LIB), file).split(path.sep);
    return folder === 'types' ? 'types' : `outside:${folder ?? ''}`;
  }
  const [first] = relative.split(path.sep);
  return (first ?? '').replace(/\.(d\.)?[tj]s$/, '');
}

/** Every relative module a source names: static imports, `import x = require()`, require() and import(). */
export function importedModules(source: string): string[] {
  const found: string[] = [];
  const pattern = /(?:\bfrom\s*|\brequire\(\s*|\bimport\(\s*)'(\.{1,2}\/[^']+)'/g;
  for (const match of source.matchAll(pattern)) found.push(match[1]!);
  return found;
}

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(full);
    return /\.ts$/.test(entry.name) && !entry.name.endsWith('.d.ts') ? [full] : [];
  });
}

describe('layering', () => {
  test('the scanner sees every form of import', () => {
    const source = [
      "import { a } from '../core/allocation';",
      "import type { B } from '../store/transaction';",
      "import fs = require('fs');",
      "import p = require('../os/ports');",
      "const { c } = require('../app/context') as typeof import('../app/context');",
      "const d = await import('./local');",
    ].join('\n');
    expect(importedModules(source)).toEqual(['../core/allocation', '../store/transaction', '../os/ports', '../app/context', '../app/context', './local']);
  });

  test('a violation is reported', () => {
    const from = path.join(LIB, 'core', 'x.ts');
    const target = layerOf(path.resolve(path.dirname(from), '../store/lock'));
    expect(MAY_IMPORT[layerOf(from)]).not.toContain(target);
  });

  test('every import in lib/ goes down the layers, never up or around', () => {
    const violations: string[] = [];
    for (const file of sourceFiles(LIB)) {
      const from = layerOf(file);
      const allowed = MAY_IMPORT[from];
      if (!allowed) {
        violations.push(`${path.relative(LIB, file)}: the layer '${from}' is not in MAY_IMPORT`);
        continue;
      }
      for (const spec of importedModules(fs.readFileSync(file, 'utf8'))) {
        const to = layerOf(path.resolve(path.dirname(file), spec));
        if (!allowed.includes(to)) violations.push(`${path.relative(LIB, file)} imports ${spec} (${from} → ${to})`);
      }
    }
    expect(violations).toEqual([]);
  });
});
