import os = require('os');
import path = require('path');
import { seam } from './fs-seam';
import type { StyxyPaths } from './paths';
import fs = require('fs');

/** Where `auto_allocation.port_docs_path` points: `~/` is the home directory, a relative path is under $STYXY_HOME. */
export function resolveDocsPath(paths: StyxyPaths, configured: string): string {
  if (configured === '~' || configured.startsWith('~/')) return path.join(os.homedir(), configured.slice(1));
  return path.resolve(paths.home, configured);
}

const HEADER = '# Ports\n\n| Service type | Range | Note |\n|---|---|---|\n';

/**
 * Appends one table row for an auto-allocated range to the user's port document, creating it
 * with a table header when it does not exist yet. The document is the user's own file, so a
 * symlink to it is followed.
 */
export function appendPortDocsRow(file: string, serviceType: string, range: readonly [number, number], at: number): void {
  let existing: string | null = null;
  try {
    existing = seam.readFileSync(file, 'utf8') as string;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const day = new Date(at).toISOString().slice(0, 10);
  const row = `| ${serviceType} | ${range[0]}-${range[1]} | Auto-allocated ${day} |\n`;
  const lead = existing === null ? HEADER : existing.length > 0 && !existing.endsWith('\n') ? '\n' : '';
  fs.appendFileSync(file, `${lead}${row}`, { mode: 0o644 });
}
