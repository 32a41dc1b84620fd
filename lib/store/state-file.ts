import { StyxyError } from '../errors';
import { emptyState, type State } from '../core/types';
import { renameUnderLock, writeFileAtomic } from './atomic-write';
import { faultPoint } from './fs-seam';
import { checkFileSafety } from './home';
import type { StyxyPaths } from './paths';
import { FileTooLarge, readTextCapped, STATE_MAX_BYTES } from './read-capped';
import { validateStateShape } from './validators';
import { isoTime } from '../core/time';

export interface StateRead {
  state: State;
  /** Set when a corrupt state file was moved aside. */
  movedCorruptTo?: string;
  /** Why it was found corrupt. */
  corruptReason?: string;
}

/** The newest state.json layout this Styxy reads and writes. */
export const STATE_VERSION = 1;

/** What state.json holds, without moving anything. */
export type StateFileContent =
  | { kind: 'missing' }
  | { kind: 'ok'; state: State }
  | { kind: 'unusable'; reason: string }
  /** Written by a newer Styxy: neither read nor written over. */
  | { kind: 'too-new'; version: number };

export function inspectStateFile(paths: StyxyPaths): StateFileContent {
  let text: string;
  try {
    text = readTextCapped(paths.state, STATE_MAX_BYTES);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { kind: 'missing' };
    if (err instanceof FileTooLarge) return { kind: 'unusable', reason: `it is ${err.reason}` };
    throw err;
  }
  faultPoint('after-read');
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return { kind: 'unusable', reason: 'it is not valid JSON' };
  }
  // Checked before the schema: a newer layout may differ in any way, and its allocations are live.
  const version = (data as { version?: unknown } | null)?.version;
  if (typeof version === 'number' && Number.isInteger(version) && version > STATE_VERSION) return { kind: 'too-new', version };
  const problems = validateStateShape(data);
  if (problems.length === 0) return { kind: 'ok', state: data as State };
  return { kind: 'unusable', reason: `it does not match the state schema (${problems[0]?.instancePath || '/'}: ${problems[0]?.message})` };
}

/**
 * Reads state.json: missing means empty. A file that does not parse, fails the schema or is
 * larger than any state Styxy writes is moved to `state.json.corrupt-<timestamp>` and the call
 * goes on with an empty state. Fields this version does not know are kept in the objects read,
 * so that they are written back unchanged. A state from a newer version fails with
 * STATE_TOO_NEW and is left exactly as it is.
 */
export function readState(paths: StyxyPaths, now: number): StateRead {
  if (!checkFileSafety(paths.state)) return { state: emptyState() };
  const content = inspectStateFile(paths);
  if (content.kind === 'ok') return { state: content.state };
  if (content.kind === 'missing') return { state: emptyState() };
  if (content.kind === 'too-new') throw stateTooNew(paths, content.version);
  return moveAside(paths, now, content.reason);
}

export function stateTooNew(paths: StyxyPaths, version: number): StyxyError {
  return new StyxyError(
    'STATE_TOO_NEW',
    `${paths.state} is state version ${version}, written by a newer Styxy; this Styxy knows state version ${STATE_VERSION} only. Nothing was read or changed`,
    {
      details: { path: paths.state, stateVersion: version, knownVersion: STATE_VERSION },
      suggestions: ['Use the newer styxy that wrote it, or upgrade this one; every styxy on your PATH: which -a styxy'],
    },
  );
}

function moveAside(paths: StyxyPaths, now: number, corruptReason: string): StateRead {
  const movedCorruptTo = `${paths.state}.corrupt-${isoTime(now).replace(/[:.]/g, '-')}`;
  renameUnderLock(paths.state, movedCorruptTo);
  return { state: emptyState(), movedCorruptTo, corruptReason };
}

export function writeState(paths: StyxyPaths, state: State): void {
  writeFileAtomic(paths.state, serializeState(state));
}

/**
 * One allocation (and one freed port) a line: small diffs, readable by a person, cheap to write. Every top-level key
 * is written in the order it has, the ones this version does not know included.
 */
export function serializeState(state: State): string {
  const record = state as unknown as Record<string, unknown>;
  const members = Object.keys(state).filter((key) => record[key] !== undefined).map((key) => {
    const value = record[key];
    if ((key !== 'allocations' && key !== 'recentlyFreed') || !Array.isArray(value)) return `  ${JSON.stringify(key)}: ${JSON.stringify(value)}`;
    const lines = value.map((item) => `    ${JSON.stringify(item)}`);
    return `  ${JSON.stringify(key)}: [${lines.length ? `\n${lines.join(',\n')}\n  ` : ''}]`;
  });
  return `{\n${members.join(',\n')}\n}\n`;
}
