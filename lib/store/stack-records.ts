import path = require('path');
import { writeFileAtomic } from './atomic-write';
import { seam } from './fs-seam';
import { ensureHome } from './home';
import type { StyxyPaths } from './paths';
import { CONFIG_MAX_BYTES, readTextCapped } from './read-capped';

/** A process of a running stack, named for good by its PID and start time. */
export interface StackProcess {
  pid: number;
  startTime: string | null;
}

/** One started service of a stack: its tree's first process and its port. */
export interface StackServiceRecord extends StackProcess {
  name: string;
  port: number;
  lockId: string;
  /** `up --detach`: where its output goes. */
  logPath?: string;
  /** The allocation was there before this `up` (a persistent one a git hook made, say): `down` leaves it. */
  kept?: true;
}

/**
 * What `styxy down` and `styxy status` need to find a running stack: the foreground `up` that
 * supervises it, or (after `up --detach`) each service's process. Kept in `$STYXY_HOME/stacks/`.
 */
export interface StackRecord {
  version: 1;
  project: string;
  supervisor?: StackProcess;
  services: StackServiceRecord[];
}

export function stacksDir(paths: StyxyPaths): string {
  return path.join(paths.home, 'stacks');
}

function recordPath(paths: StyxyPaths, stackId: string): string {
  return path.join(stacksDir(paths), `${stackId}.json`);
}

export function writeStackRecord(paths: StyxyPaths, stackId: string, record: StackRecord): void {
  ensureHome(paths);
  seam.mkdirSync(stacksDir(paths), { recursive: true, mode: 0o700 });
  writeFileAtomic(recordPath(paths, stackId), `${JSON.stringify(record, null, 2)}\n`, { durable: false });
}

/** The stack's record, or null when there is none or it is not one Styxy wrote. */
export function readStackRecord(paths: StyxyPaths, stackId: string): StackRecord | null {
  let data: unknown;
  try {
    data = JSON.parse(readTextCapped(recordPath(paths, stackId), CONFIG_MAX_BYTES));
  } catch {
    return null;
  }
  return isStackRecord(data) ? data : null;
}

export function removeStackRecord(paths: StyxyPaths, stackId: string): void {
  try {
    seam.unlinkSync(recordPath(paths, stackId));
  } catch {
    /* already gone */
  }
}

const isProcess = (p: unknown): p is StackProcess =>
  typeof p === 'object' &&
  p !== null &&
  Number.isInteger((p as StackProcess).pid) &&
  (p as StackProcess).pid > 0 &&
  (typeof (p as StackProcess).startTime === 'string' || (p as StackProcess).startTime === null);

function isStackRecord(data: unknown): data is StackRecord {
  if (typeof data !== 'object' || data === null) return false;
  const r = data as StackRecord;
  if (r.version !== 1 || typeof r.project !== 'string' || !Array.isArray(r.services)) return false;
  if (r.supervisor !== undefined && !isProcess(r.supervisor)) return false;
  return r.services.every((s) => isProcess(s) && typeof s.name === 'string' && Number.isInteger(s.port) && typeof s.lockId === 'string');
}

/** Where `styxy compose` writes a compose project's override: under the home, never in the project. */
export function composeOverridePath(paths: StyxyPaths, projectName: string): string {
  return path.join(paths.home, 'compose', `${projectName}.override.yaml`);
}

export function writeComposeOverride(paths: StyxyPaths, projectName: string, text: string): string {
  ensureHome(paths);
  const file = composeOverridePath(paths, projectName);
  seam.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  writeFileAtomic(file, text, { durable: false });
  return file;
}

export function removeComposeOverride(paths: StyxyPaths, projectName: string): void {
  try {
    seam.unlinkSync(composeOverridePath(paths, projectName));
  } catch {
    /* already gone */
  }
}
