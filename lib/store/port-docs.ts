import fs = require('fs');
import path = require('path');
import { StyxyError } from '../errors';
import { writeFileAtomic } from './atomic-write';
import { seam } from './fs-seam';
import type { StyxyPaths } from './paths';
import { readTextCapped, CONFIG_MAX_BYTES } from './read-capped';
import { osModule } from '../os/identity';
import { isoTime } from '../core/time';

/**
 * Why `auto_allocation.port_docs_path` may not be used, or null when it may. The document is
 * written by Styxy, so it must lie inside $STYXY_HOME: a relative path is taken from there and
 * may not climb out of it (`..`), an absolute one (or `~/...`) must point inside it.
 */
export function findDocsPathProblem(paths: StyxyPaths, configured: string): string | null {
  if (configured.split(/[\\/]/).includes('..'))
    return `'..' is not allowed in port_docs_path (${JSON.stringify(configured)}): the document lives under ${paths.home}`;
  const resolved = expandDocsPath(paths, configured);
  const inside = path.relative(paths.home, resolved);
  if (inside === '' || inside.startsWith('..') || path.isAbsolute(inside)) {
    return `port_docs_path ${JSON.stringify(configured)} lies outside ${paths.home}; give a path under it, e.g. PORTS.md`;
  }
  return null;
}

function expandDocsPath(paths: StyxyPaths, configured: string): string {
  if (configured === '~' || configured.startsWith('~/')) {
    let dir: string;
    try {
      dir = osModule().homedir();
    } catch {
      // No home directory at all: `~` names no place under $STYXY_HOME, and is refused as outside it.
      dir = path.parse(paths.home).root;
    }
    return path.join(dir, configured.slice(1));
  }
  return path.resolve(paths.home, configured);
}

/** Where `auto_allocation.port_docs_path` points: under $STYXY_HOME (`~/` is the home directory). Refuses any other place. */
export function resolveDocsPath(paths: StyxyPaths, configured: string): string {
  const problem = findDocsPathProblem(paths, configured);
  if (problem) throw new StyxyError('INVALID_CONFIG', problem, { details: { path: '/auto_allocation/port_docs_path', file: paths.config } });
  return expandDocsPath(paths, configured);
}

const HEADER = '# Ports\n\n| Service type | Range | Note |\n|---|---|---|\n';

/**
 * Appends one table row for an auto-allocated range to the port document (a path inside
 * $STYXY_HOME, from resolveDocsPath), creating it and its directories when missing. Written
 * by Styxy's writer, whole and atomically; a symlink on the way or in the file's place is
 * refused with UNSAFE_HOME, never followed.
 */
export function appendPortDocsRow(paths: StyxyPaths, file: string, serviceType: string, range: readonly [number, number], at: number): void {
  ensureDirectoriesWithin(paths.home, path.dirname(file));
  const existing = readNoFollow(file);
  const day = isoTime(at).slice(0, 10);
  const row = `| ${serviceType} | ${range[0]}-${range[1]} | Auto-allocated ${day} |\n`;
  const lead = existing === null ? HEADER : existing.length > 0 && !existing.endsWith('\n') ? '\n' : '';
  writeFileAtomic(file, `${existing ?? ''}${lead}${row}`);
}

/** Creates each missing directory from `home` down to `dir` (0700); refuses a symlink or a non-directory on the way. */
function ensureDirectoriesWithin(home: string, dir: string): void {
  let current = home;
  for (const part of path.relative(home, dir).split(path.sep).filter(Boolean)) {
    current = path.join(current, part);
    let stat: fs.Stats | undefined;
    try {
      stat = seam.lstatSync(current);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    if (!stat) seam.mkdirSync(current, { mode: 0o700 });
    else if (stat.isSymbolicLink() || !stat.isDirectory()) {
      throw new StyxyError(
        'UNSAFE_HOME',
        `${current} is ${stat.isSymbolicLink() ? 'a symbolic link' : 'not a directory'}; Styxy writes the port document only through directories of its home`,
        {
          details: { path: current },
          suggestions: [`Inspect it, then remove it: rm ${current}`],
        },
      );
    }
  }
}

function readNoFollow(file: string): string | null {
  let stat: fs.Stats;
  try {
    stat = seam.lstatSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  if (stat.isSymbolicLink() || !stat.isFile()) {
    throw new StyxyError(
      'UNSAFE_HOME',
      `${file} is ${stat.isSymbolicLink() ? 'a symbolic link' : 'not a regular file'}; Styxy never writes the port document through one`,
      {
        details: { path: file },
        suggestions: [`Inspect it, then remove it: rm ${file}`],
      },
    );
  }
  return readTextCapped(file, CONFIG_MAX_BYTES);
}
