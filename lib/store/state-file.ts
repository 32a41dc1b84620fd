import { emptyState, type State } from '../core/types';
import { writeFileAtomic } from './atomic-write';
import { faultPoint, seam } from './fs-seam';
import { checkFileSafety } from './home';
import type { StyxyPaths } from './paths';
import { validateStateShape } from './validators';

export interface StateRead {
  state: State;
  /** Set when a corrupt state file was moved aside. */
  movedCorruptTo?: string;
}

/**
 * Reads state.json: missing means empty. A file that does not parse or fails the schema is
 * moved to `state.json.corrupt-<timestamp>` and the call goes on with an empty state.
 */
export function readState(paths: StyxyPaths, now: number): StateRead {
  if (!checkFileSafety(paths.state)) return { state: emptyState() };
  const text = seam.readFileSync(paths.state, 'utf8') as string;
  faultPoint('after-read');
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    data = undefined;
  }
  if (data !== undefined && validateStateShape(data).length === 0) return { state: data as State };
  const movedCorruptTo = `${paths.state}.corrupt-${new Date(now).toISOString().replace(/[:.]/g, '-')}`;
  seam.renameSync(paths.state, movedCorruptTo);
  return { state: emptyState(), movedCorruptTo };
}

export function writeState(paths: StyxyPaths, state: State): void {
  writeFileAtomic(paths.state, serializeState(state));
}

/** One allocation a line: small diffs, readable by a person, cheap to write. */
export function serializeState(state: State): string {
  const lines = state.allocations.map((a) => `    ${JSON.stringify(a)}`);
  return `{\n  "version": ${state.version},\n  "allocations": [${lines.length ? `\n${lines.join(',\n')}\n  ` : ''}]\n}\n`;
}
