import { isAscii } from 'buffer';
import { StyxyError } from '../errors';
import { emptyState, type Allocation, type State } from '../core/types';
import { renameUnderLock, writeFileAtomic } from './atomic-write';
import { faultPoint } from './fs-seam';
import { checkFileSafety } from './home';
import type { StyxyPaths } from './paths';
import { FileTooLarge, readBytesCapped, STATE_MAX_BYTES } from './read-capped';
import { isSurelyValidState } from './state-quick-check';
import { findAllocationLines, jsonLines } from './state-text';
import { validateStateShape } from './validators';
import { isoTime } from '../core/time';

export interface StateRead {
  state: State;
  /** Set when a corrupt state file was moved aside. */
  movedCorruptTo?: string;
  /** Why it was found corrupt. */
  corruptReason?: string;
  /** The text it was read from, for writeState to take the allocations that did not change from. */
  source?: StateSource;
}

/**
 * A state's text as read, for the next write to take the allocations that did not change from
 * (see serializeState). Held only for a state the quick check passed: no field this version does
 * not know. Allocations are never changed in place (every change is a new object), so an
 * allocation read is still what its text says.
 */
export interface StateSource {
  text: string;
  allocations: readonly Allocation[];
}

/** The newest state.json layout this Styxy reads and writes. */
export const STATE_VERSION = 1;

/** What state.json holds, without moving anything. */
export type StateFileContent =
  | { kind: 'missing' }
  | { kind: 'ok'; state: State; source?: StateSource }
  | { kind: 'unusable'; reason: string }
  /** Written by a newer Styxy: neither read nor written over. */
  | { kind: 'too-new'; version: number };

export function inspectStateFile(paths: StyxyPaths): StateFileContent {
  let text: string;
  try {
    text = decodeText(readBytesCapped(paths.state, STATE_MAX_BYTES));
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
  // The list is copied (a pointer each): sorting or splicing the state's own in place cannot make it say another order.
  if (isSurelyValidState(data)) return { kind: 'ok', state: data as State, source: { text, allocations: (data as State).allocations.slice() } };
  const problems = validateStateShape(data);
  if (problems.length === 0) return { kind: 'ok', state: data as State };
  return { kind: 'unusable', reason: `it does not match the state schema (${problems[0]?.instancePath || '/'}: ${problems[0]?.message})` };
}

/**
 * UTF-8, as state.json is written. Nearly every state is ASCII, and for ASCII latin1 decoding
 * gives the same string several times faster (~4 ms against ~20 ms for 9 MB). `isAscii` is in
 * Node from 18.15 and 19.6; before, every state is decoded as UTF-8.
 */
function decodeText(bytes: Buffer): string {
  return typeof isAscii === 'function' && isAscii(bytes) ? bytes.toString('latin1') : bytes.toString('utf8');
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
  if (content.kind === 'ok') return content.source ? { state: content.state, source: content.source } : { state: content.state };
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

/** Writes `state`; `read`, the state this transaction read, lends the text of what did not change. */
export function writeState(paths: StyxyPaths, state: State, read?: StateRead): void {
  // Below a few hundred allocations, serializing them costs less than making the patterns that show the text can be kept.
  const source = read?.source && read.source.text.length >= KEEP_TEXT_FROM ? read.source : undefined;
  writeFileAtomic(paths.state, serializeState(state, source));
}

const KEEP_TEXT_FROM = 100_000;

/**
 * One allocation (and one freed port) a line: small diffs, readable by a person, cheap to write. Every top-level key
 * is written in the order it has, the ones this version does not know included. When the
 * allocations begin with all of `source`'s, in order, those are written as the text they were
 * read from if it is exactly what this would write for them (state-text.ts shows it or says no).
 */
export function serializeState(state: State, source?: StateSource): string {
  const record = state as unknown as Record<string, unknown>;
  const members = Object.keys(state)
    .filter((key) => record[key] !== undefined)
    .map((key) => {
      const value = record[key];
      if ((key !== 'allocations' && key !== 'recentlyFreed') || !Array.isArray(value)) return `  ${JSON.stringify(key)}: ${JSON.stringify(value)}`;
      const lines = (key === 'allocations' && source ? linesAfter(value as Allocation[], source) : null) ?? jsonLines(value);
      return `  ${JSON.stringify(key)}: [${lines.length ? `\n${lines}\n  ` : ''}]`;
    });
  return `{\n${members.join(',\n')}\n}\n`;
}

/** The allocation lines when `allocations` are the ones read followed by new ones, and the text read can be kept; else null. */
function linesAfter(allocations: readonly Allocation[], source: StateSource): string | null {
  const read = source.allocations;
  if (allocations.length < read.length) return null;
  for (let i = 0; i < read.length; i++) if (allocations[i] !== read[i]) return null;
  const kept = findAllocationLines(source.text, read.length);
  if (kept === null) return null;
  const added = jsonLines(allocations.slice(read.length));
  return kept && added ? `${kept},\n${added}` : kept || added;
}
