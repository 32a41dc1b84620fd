import { emptyState, type State } from '../core/types';
import { writeFileAtomic } from './atomic-write';
import { faultPoint, seam } from './fs-seam';
import { checkFileSafety } from './home';
import type { StyxyPaths } from './paths';
import { FileTooLarge, readTextCapped, STATE_MAX_BYTES } from './read-capped';
import { validateStateShape } from './validators';

export interface StateRead {
  state: State;
  /** Set when a corrupt state file was moved aside. */
  movedCorruptTo?: string;
  /** Why it was found corrupt. */
  corruptReason?: string;
}

/** What state.json holds, without moving anything. */
export type StateFileContent = { kind: 'missing' } | { kind: 'ok'; state: State } | { kind: 'unusable'; reason: string };

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
  const problems = validateStateShape(data);
  if (problems.length === 0) return { kind: 'ok', state: data as State };
  return { kind: 'unusable', reason: `it does not match the state schema (${problems[0]?.instancePath || '/'}: ${problems[0]?.message})` };
}

/**
 * Reads state.json: missing means empty. A file that does not parse, fails the schema or is
 * larger than any state Styxy writes is moved to `state.json.corrupt-<timestamp>` and the call
 * goes on with an empty state.
 */
export function readState(paths: StyxyPaths, now: number): StateRead {
  if (!checkFileSafety(paths.state)) return { state: emptyState() };
  const content = inspectStateFile(paths);
  if (content.kind === 'ok') return { state: content.state };
  if (content.kind === 'missing') return { state: emptyState() };
  return moveAside(paths, now, content.reason);
}

function moveAside(paths: StyxyPaths, now: number, corruptReason: string): StateRead {
  const movedCorruptTo = `${paths.state}.corrupt-${new Date(now).toISOString().replace(/[:.]/g, '-')}`;
  seam.renameSync(paths.state, movedCorruptTo);
  return { state: emptyState(), movedCorruptTo, corruptReason };
}

export function writeState(paths: StyxyPaths, state: State): void {
  writeFileAtomic(paths.state, serializeState(state));
}

/** One allocation a line: small diffs, readable by a person, cheap to write. */
export function serializeState(state: State): string {
  const lines = state.allocations.map((a) => `    ${JSON.stringify(a)}`);
  return `{\n  "version": ${state.version},\n  "allocations": [${lines.length ? `\n${lines.join(',\n')}\n  ` : ''}]\n}\n`;
}
