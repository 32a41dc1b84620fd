import fs = require('fs');
import path = require('path');
import { testHooks } from '../os/test-hooks';

/**
 * The one door through which Styxy's store touches the disk, so that tests can inject faults.
 * Production code calls `seam.<fn>`; tests may replace entries with `overrideFs`.
 */
export const seam = {
  openSync: fs.openSync,
  writeSync: ((fd: number, buffer: Buffer, offset: number, length: number) =>
    diskFull ? writeOnFullDisk(fd, buffer, offset, length) : fs.writeSync(fd, buffer, offset, length)) as (
    fd: number,
    buffer: Buffer,
    offset: number,
    length: number,
  ) => number,
  readSync: fs.readSync as (fd: number, buffer: Buffer, offset: number, length: number, position: number) => number,
  ftruncateSync: fs.ftruncateSync,
  fsyncSync: fs.fsyncSync,
  closeSync: fs.closeSync,
  renameSync: fs.renameSync,
  unlinkSync: fs.unlinkSync,
  readFileSync: fs.readFileSync,
  lstatSync: fs.lstatSync,
  statSync: fs.statSync,
  fstatSync: fs.fstatSync,
  fchmodSync: fs.fchmodSync,
  chmodSync: fs.chmodSync,
  mkdirSync: fs.mkdirSync,
  readdirSync: fs.readdirSync,
  copyFileSync: fs.copyFileSync,
  rmdirSync: fs.rmdirSync,
};

export function overrideFs(overrides: Partial<typeof seam>): () => void {
  const saved = { ...seam };
  Object.assign(seam, overrides);
  return () => Object.assign(seam, saved);
}

/**
 * Named points inside a call where the fault suite can break in. A no-op unless a test hook
 * (lib/os/test-hooks.ts) names the point: killAt kills the process there (SIGKILL), stopAt stops
 * it there (SIGSTOP), failAt makes the step fail once, as a transient I/O error would, and fullAt
 * fills the disk from there on. A point inside a file write answers both to its name
 * (`before-rename`) and to its name with the file's (`before-rename:state.json`).
 */
export function faultPoint(name: string, file?: string): void {
  const { killAt: kill, failAt: fail, fullAt: full, stopAt: stop } = testHooks();
  if (kill === undefined && fail === undefined && full === undefined && stop === undefined) return;
  const names = file === undefined ? [name] : [name, `${name}:${path.basename(file)}`];
  if (kill !== undefined && names.includes(kill)) process.kill(process.pid, 'SIGKILL');
  // The process stops itself there (SIGSTOP), as a stalled disk or a debugger would hold it; SIGCONT resumes it.
  if (stop !== undefined && names.includes(stop)) process.kill(process.pid, 'SIGSTOP');
  if (full !== undefined && names.includes(full)) diskFull = true;
  if (fail !== undefined && names.includes(fail) && !failed) {
    failed = true;
    throw Object.assign(new Error(`injected I/O error at ${fail}`), { code: 'EIO' });
  }
}

/** An injected failure happens once per process, like a transient I/O error. */
let failed = false;

/**
 * Set by the fullAt test hook: from that point on the disk is full. The next write stores half of
 * what it is given, as write(2) does when the last free block runs out, and every write after
 * it fails with ENOSPC.
 */
let diskFull = false;
let shortWriteDone = false;
function writeOnFullDisk(fd: number, buffer: Buffer, offset: number, length: number): number {
  if (shortWriteDone || length < 2) throw Object.assign(new Error('ENOSPC: no space left on device, write (injected)'), { code: 'ENOSPC' });
  shortWriteDone = true;
  return fs.writeSync(fd, buffer, offset, Math.floor(length / 2));
}

/** Loops over short writes: one write(2) may store fewer bytes than asked when space runs low. */
export function writeAll(fd: number, buffer: Buffer): void {
  let offset = 0;
  while (offset < buffer.length) {
    const written = seam.writeSync(fd, buffer, offset, buffer.length - offset);
    if (written <= 0) throw Object.assign(new Error('no progress writing'), { code: 'EIO' });
    offset += written;
  }
}
