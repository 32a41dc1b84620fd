import fs = require('fs');
import path = require('path');
import vm = require('vm');
import Module = require('module');

/** The loaded CLI bundle, and what became of its code cache. */
export interface LoadedCli {
  exports: { run(argv: string[]): void; main(argv: string[]): Promise<number> };
  /** What became of the code cache: used, refused by V8, or not there. */
  cache: 'accepted' | 'rejected' | 'absent';
  /** The compiled bundle, from which the build takes the cache after running it. */
  script: vm.Script;
}

const BANNER = /^\/\*styxy-build:([0-9a-f]+)\*\//;

/** The code cache's path for the bundle `source` in `dist`, or null for a bundle with no build id. */
export function codeCachePath(dist: string, source: string): string | null {
  const id = BANNER.exec(source)?.[1];
  return id ? path.join(dist, `styxy-${id}.cache`) : null;
}

/**
 * Loads the CLI bundle (dist/styxy.js) with the V8 code cache that the build made for it.
 *
 * Compiling the bundle, and then each function the first time it runs, is about a tenth of a
 * one-shot call. The build runs everyday commands once and saves V8's compiled code beside the
 * bundle (scripts/build.js); loading it here skips that work. A cache V8 will not take (another
 * Node version, other V8 flags) is set aside by V8 itself and the bundle compiles as usual: the
 * cache only ever makes a call faster, never different.
 *
 * V8 checks a cache against the source's length only, so a cache is named after the build that
 * made it (the `/*styxy-build:ID*\/` banner on the bundle's first line): a bundle rebuilt without
 * its cache finds none, rather than someone else's code.
 */
export function loadCli(dist: string = __dirname): LoadedCli {
  const file = path.join(dist, 'styxy.js');
  const source = fs.readFileSync(file, 'utf8');
  const cachePath = codeCachePath(dist, source);
  let cachedData: Buffer | undefined;
  try {
    if (cachePath) cachedData = fs.readFileSync(cachePath);
  } catch {
    /* no cache: compile as usual */
  }
  const script = new vm.Script(Module.wrap(source), { filename: file, cachedData });
  const module = { exports: {} as LoadedCli['exports'] };
  const run = script.runInThisContext() as (...args: unknown[]) => void;
  run.call(module.exports, module.exports, Module.createRequire(file), module, file, dist);
  const cache = cachedData === undefined ? 'absent' : script.cachedDataRejected ? 'rejected' : 'accepted';
  return { exports: module.exports, cache, script };
}

/** bin/styxy's whole work. */
export function start(argv: string[]): void {
  loadCli().exports.run(argv);
}
