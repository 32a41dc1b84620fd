import * as fs from 'fs';
import * as path from 'path';

export interface CallRecord {
  /** Each fs call that threw, as `<function> <code> <first argument>`, in order. */
  throws: string[];
  /** The delay of each timer the process armed (setTimeout, setInterval), in order. */
  timers: number[];
}

/**
 * A script to preload into a CLI run (`node -r <preload> bin/styxy …`) that records what the run
 * did rather than how long it took: every fs call that threw, and every timer armed (a wait or a
 * retry arms one). The record is written to a file as the process exits; `dir` is made writable
 * by anyone, so that a run as another user can write it too.
 */
export function callRecorder(dir: string): { preload: string; read(): CallRecord } {
  fs.mkdirSync(dir, { recursive: true });
  fs.chmodSync(dir, 0o777);
  const out = path.join(dir, 'record.json');
  const preload = path.join(dir, 'record-calls.js');
  fs.writeFileSync(
    preload,
    `const fs = require('fs'); const throws = []; const timers = [];
for (const name of Object.keys(fs)) {
  const original = fs[name];
  if (!name.endsWith('Sync') || typeof original !== 'function') continue;
  fs[name] = function (...args) {
    try { return original.apply(this, args); } catch (err) { throws.push(name + ' ' + err.code + ' ' + args[0]); throw err; }
  };
}
for (const name of ['setTimeout', 'setInterval']) {
  const original = globalThis[name];
  globalThis[name] = function (fn, ms, ...rest) { timers.push(Number(ms) || 0); return original.call(this, fn, ms, ...rest); };
}
const write = fs.writeFileSync;
process.on('exit', () => write(${JSON.stringify(out)}, JSON.stringify({ throws, timers })));`,
    { mode: 0o644 },
  );
  return { preload, read: () => JSON.parse(fs.readFileSync(out, 'utf8')) as CallRecord };
}
