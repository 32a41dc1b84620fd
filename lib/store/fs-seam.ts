import * as fs from 'fs';

/**
 * The one door through which Styxy's store touches the disk, so that tests can inject faults.
 * Production code calls `seam.<fn>`; tests may replace entries with `overrideFs`.
 */
export const seam = {
  openSync: fs.openSync,
  writeSync: fs.writeSync as (fd: number, buffer: Buffer, offset: number, length: number) => number,
  fsyncSync: fs.fsyncSync,
  closeSync: fs.closeSync,
  renameSync: fs.renameSync,
  unlinkSync: fs.unlinkSync,
  readFileSync: fs.readFileSync,
  lstatSync: fs.lstatSync,
  statSync: fs.statSync,
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
 * Named points inside a call where the fault suite can kill the process. Only active when the
 * test-only variable STYXY_TEST_KILL_AT names the point; otherwise a no-op.
 */
export function faultPoint(name: string): void {
  const target = process.env.STYXY_TEST_KILL_AT;
  if (target !== undefined && target === name) process.kill(process.pid, 'SIGKILL');
}
