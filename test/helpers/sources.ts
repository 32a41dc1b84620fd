import * as esbuild from 'esbuild';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ROOT } from './cli';

/**
 * A CommonJS file that exports `names` from modules of the sources (`{ 'lib/store/lock':
 * ['acquireLock'] }`), for a child process that is not Jest (a lock contender, a probe run as
 * another user): the sources bundled by esbuild before the file's tests, as the build bundles
 * the CLI, and removed after them. Tests reach code through the sources or the bundle, so the
 * build makes no second tree. The file is readable by every user. Call at the top of a file or
 * a describe; the returned function gives the file's path while a test runs.
 */
export function useBundleOfSources(exports: Record<string, readonly string[]>): () => string {
  const entry = Object.entries(exports)
    .map(([from, names]) => `export { ${names.join(', ')} } from ${JSON.stringify(`./${from}`)};`)
    .join('\n');
  let dir: string | undefined;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'styxy-sources-'));
    fs.chmodSync(dir, 0o755);
    const outfile = path.join(dir, 'sources.js');
    esbuild.buildSync({
      stdin: { contents: entry, resolveDir: ROOT, loader: 'ts' },
      bundle: true,
      platform: 'node',
      target: 'node18',
      format: 'cjs',
      outfile,
      logLevel: 'warning',
    });
    fs.chmodSync(outfile, 0o644);
  });
  afterAll(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });
  return () => {
    if (!dir) throw new Error('the bundle of sources exists only while the tests that asked for it run');
    return path.join(dir, 'sources.js');
  };
}
