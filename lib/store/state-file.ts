import { isAscii } from 'buffer';
import path = require('path');
import { StyxyError } from '../errors';
import { decideLayout, SETTLED_FILE_PATTERN, summarize, withSettled, type Layout, type SettledRead } from '../core/settled';
import { emptyState, type Allocation, type SettledRef, type State } from '../core/types';
import { randomHex } from '../os/random';
import { removeUnderLock, renameUnderLock, writeFileAtomic } from './atomic-write';
import { faultPoint, seam } from './fs-seam';
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
  /** The settled file the state refers to, and its allocations when they were read (see core/settled.ts). */
  settled?: SettledRead;
  /** Set when the settled file could not be used: why, and where it was moved (when it was there). */
  settledProblem?: { reason: string; movedTo?: string };
  /** Records that failed their shape, set aside on their own (the rest were kept): where, and why. */
  setAside?: SetAside[];
}

/** Records of one file set aside into a file beside the state. */
export interface SetAside {
  /** The file they were read from (state.json, or a settled file). */
  from: string;
  /** The file that now holds them (a base name in the home). */
  file: string;
  count: number;
  /** Why the first of them was refused ("/allocations/1/owner/pid: must be >= 1"). */
  reason: string;
}

/** A record that failed its shape: which list of which file held it, why, and the record as read. */
export interface RejectedRecord {
  list: 'allocations' | 'recentlyFreed';
  index: number;
  reason: string;
  record: unknown;
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

/**
 * The newest state.json layout this Styxy reads and writes: 3 while an allocation holds a block
 * (blocks are never settled, so state.json itself shows it), else 2 with a settled file, else 1.
 * Each is written only while needed, so an older Styxy sharing the home is refused (STATE_TOO_NEW,
 * changing nothing) only while it would misread the state: one knowing 2 would see a block as its
 * first port alone and hand out the others.
 */
export const STATE_VERSION = 3;

/** The version `allocations` (those state.json itself holds) need, with or without a settled file. */
function versionFor(allocations: readonly Allocation[], settled: boolean): 1 | 2 | 3 {
  if (allocations.some((a) => a.block !== undefined)) return 3;
  return settled ? 2 : 1;
}

/** What state.json holds, without moving anything. */
export type StateFileContent =
  | { kind: 'missing' }
  | { kind: 'ok'; state: State; source?: StateSource; settled?: SettledFileFacts; rejected?: RejectedRecord[] }
  | { kind: 'unusable'; reason: string }
  /** Written by a newer Styxy: neither read nor written over. */
  | { kind: 'too-new'; version: number };

/** What `inspectStateFile(paths, { whole: true })` found of the settled file: its allocations are then in the state. */
export interface SettledFileFacts {
  file: string;
  count: number;
  /** Why it cannot be used; the state then holds only state.json's own allocations. */
  problem?: string;
  /** Its summary in state.json says otherwise than the file (which is believed). */
  mismatch?: string;
  /** Missing, but a copy set aside as unreferenced is there, which the next call puts back. */
  restorable?: string;
  /** Its records that fail their shape: the next call sets them aside and keeps the rest. */
  rejected?: number;
}

/**
 * The state file's content. With `whole`, a state that refers to a settled file comes with that
 * file's allocations in it, read without moving anything (what doctor reports).
 */
export function inspectStateFile(paths: StyxyPaths, options: { whole?: boolean } = {}): StateFileContent {
  // Read without the lock (doctor): a call that settles anew between the two reads replaces the file, so a missing one is looked for once more.
  for (let attempt = 0; ; attempt++) {
    const content = inspectStateText(paths);
    if (!options.whole || content.kind !== 'ok' || !content.state.settled) return content;
    const ref = content.state.settled;
    const found = readSettledFile(path.join(paths.home, ref.file), ref);
    if ('allocations' in found) {
      const facts = {
        file: ref.file,
        count: found.allocations.length,
        ...(found.mismatch && { mismatch: found.mismatch }),
        ...(found.rejected && { rejected: found.rejected.length }),
      };
      return { ...content, state: withSettled(content.state, found.allocations), settled: facts };
    }
    if (found.present || attempt > 0) {
      const copy = found.present ? null : setAsideCopy(paths, ref.file);
      const problem = copy ? `${found.reason}; its copy set aside as ${copy} is put back by the next call` : found.reason;
      return { kind: 'ok', state: withSettled(content.state, []), settled: { file: ref.file, count: ref.count, problem, ...(copy && { restorable: copy }) } };
    }
  }
}

function inspectStateText(paths: StyxyPaths): StateFileContent {
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
  const split = splitRejected(data);
  if (split) return { kind: 'ok', state: split.state, rejected: split.rejected };
  return { kind: 'unusable', reason: `it does not match the state schema (${describeProblem(problems[0])})` };
}

const describeProblem = (problem: { instancePath?: string; message?: string } | undefined): string => `${problem?.instancePath || '/'}: ${problem?.message}`;

/**
 * A state whose only faults are in some of its records: those records, and the state without
 * them. Null when the state itself (its version, its lists, its summary) is at fault. Each
 * record is checked on its own, by the very check the reader makes of a whole state.
 */
export function splitRejected(data: unknown): { state: State; rejected: RejectedRecord[] } | null {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) return null;
  const whole = data as Record<string, unknown>;
  const allocations = whole.allocations;
  const freed = whole.recentlyFreed;
  if (!Array.isArray(allocations)) return null;
  const shell = { ...whole, allocations: [], ...(Array.isArray(freed) && { recentlyFreed: [] }) };
  if (validateStateShape(shell).length > 0) return null;
  const rejected: RejectedRecord[] = [];
  const keep = (list: 'allocations' | 'recentlyFreed', records: unknown[]): unknown[] =>
    records.filter((record, index) => {
      const problems = validateStateShape({ version: 1, allocations: [], [list]: [record] });
      if (problems.length === 0) return true;
      const first = problems[0];
      const where = `/${list}/${index}${(first?.instancePath ?? '').replace(new RegExp(`^/${list}/0`), '')}`;
      rejected.push({ list, index, reason: `${where}: ${first?.message}`, record });
      return false;
    });
  const state = { ...whole, allocations: keep('allocations', allocations), ...(Array.isArray(freed) && { recentlyFreed: keep('recentlyFreed', freed) }) };
  if (rejected.length === 0 || !canBeWritten(rejected)) return null;
  return { state: state as unknown as State, rejected };
}

/** Records nested too deep for JSON.stringify cannot be set aside as records: the file then goes aside whole, byte for byte. */
function canBeWritten(rejected: readonly RejectedRecord[]): boolean {
  try {
    JSON.stringify(rejected);
    return true;
  } catch {
    return false;
  }
}

/**
 * Keeps records that failed their shape in a file of their own beside the state, written (and
 * synced) before the file they came from is rewritten without them: a crash in between sets them
 * aside once more, never loses one. Returns the file's base name.
 */
function saveRejected(paths: StyxyPaths, now: number, from: string, rejected: readonly RejectedRecord[]): string {
  const stamp = isoTime(now).replace(/[:.]/g, '-');
  const taken = new Set(seam.readdirSync(paths.home) as string[]);
  let name = `state.rejected-${stamp}.json`;
  for (let n = 1; taken.has(name); n++) name = `state.rejected-${stamp}-${n}.json`;
  const body = { setAsideAt: isoTime(now), from, records: rejected.map(({ list, reason, record }) => ({ list, reason, record })) };
  writeFileAtomic(path.join(paths.home, name), `${JSON.stringify(body, null, 2)}\n`);
  return name;
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
export function readState(paths: StyxyPaths, now: number, options: { settled?: 'merge' | 'summary' } = {}): StateRead {
  if (!checkFileSafety(paths.state)) return { state: emptyState() };
  const content = inspectStateFile(paths);
  if (content.kind === 'ok') {
    const read: StateRead = content.source ? { state: content.state, source: content.source } : { state: content.state };
    if (content.rejected) {
      const file = saveRejected(paths, now, 'state.json', content.rejected);
      // Rewritten at once, whatever the command goes on to do: the records are set aside once.
      writeFileAtomic(paths.state, serializeState(content.state));
      read.setAside = [{ from: 'state.json', file, count: content.rejected.length, reason: content.rejected[0]?.reason ?? '' }];
    }
    if (!content.state.settled) return read;
    read.settled = { ref: content.state.settled, allocations: null };
    return options.settled === 'summary' ? read : mergeSettled(paths, now, read);
  }
  if (content.kind === 'missing') return { state: emptyState() };
  if (content.kind === 'too-new') throw stateTooNew(paths, content.version);
  return moveAside(paths, now, content.reason);
}

/**
 * The state read with only its settled summary, made whole: the settled allocations first. A
 * settled file that is missing, unreadable or not what the summary says is moved aside (as a
 * corrupt state is) and the call goes on without it.
 */
export function mergeSettled(paths: StyxyPaths, now: number, read: StateRead): StateRead {
  const ref = read.state.settled;
  if (!ref) return read;
  const file = path.join(paths.home, ref.file);
  let found = readSettledFile(file, ref);
  const copy = !('allocations' in found) && !found.present ? setAsideCopy(paths, ref.file) : null;
  if (copy) {
    // Set aside while state.json was away (moved, then put back): the very file it names, back in its place.
    renameUnderLock(path.join(paths.home, copy), file);
    found = readSettledFile(file, ref);
  }
  if ('allocations' in found && found.rejected) {
    // The settled file is written anew without them and state.json refers to it; the old one goes last.
    const setAside: SetAside = {
      from: ref.file,
      file: saveRejected(paths, now, ref.file, found.rejected),
      count: found.rejected.length,
      reason: found.rejected[0]?.reason ?? '',
    };
    const fresh = writeSettledFile(paths, found.allocations);
    writeFileAtomic(paths.state, serializeState({ ...read.state, settled: fresh }));
    try {
      removeUnderLock(file);
    } catch {
      /* set aside by the next call as a leftover */
    }
    return {
      state: withSettled(read.state, found.allocations),
      settled: { ref: fresh, allocations: found.allocations },
      setAside: [...(read.setAside ?? []), setAside],
    };
  }
  if ('allocations' in found) {
    if (found.mismatch) {
      // The file is what holds them: state.json is given its true summary at once, for the allocates that read only that.
      const corrected = summarize(ref.file, found.allocations);
      writeFileAtomic(paths.state, serializeState({ ...read.state, settled: corrected }));
      return {
        state: withSettled(read.state, found.allocations),
        settled: { ref: corrected, allocations: found.allocations },
        settledProblem: { reason: found.mismatch },
        ...(read.setAside && { setAside: read.setAside }),
      };
    }
    // The text of state.json's own allocations is still theirs: they follow the settled ones.
    return { ...read, state: withSettled(read.state, found.allocations), settled: { ref, allocations: found.allocations } };
  }
  const without = withSettled(read.state, []);
  let movedTo: string | undefined;
  if (found.present) {
    movedTo = `${file}.corrupt-${isoTime(now).replace(/[:.]/g, '-')}`;
    renameUnderLock(file, movedTo);
  }
  // state.json no longer refers to it, whatever the command goes on to write: said once.
  writeFileAtomic(paths.state, serializeState(without));
  return { state: without, settledProblem: { reason: found.reason, ...(movedTo && { movedTo }) }, ...(read.setAside && { setAside: read.setAside }) };
}

/** The newest copy of settled file `name` set aside as unreferenced (`<name>.orphan-<time>`), or null. */
function setAsideCopy(paths: StyxyPaths, name: string): string | null {
  const copies = (seam.readdirSync(paths.home) as string[]).filter((n) => n.startsWith(`${name}.orphan-`)).sort();
  return copies[copies.length - 1] ?? null;
}

/**
 * The allocations of a settled file, checked as state.json's are. A file that cannot be read
 * for another reason than its content (EIO, EACCES) fails the call, as state.json's does; one
 * whose summary says otherwise than it (hand-edited) is believed over its summary, and said.
 */
function readSettledFile(
  file: string,
  ref: SettledRef,
): { allocations: Allocation[]; mismatch?: string; rejected?: RejectedRecord[] } | { reason: string; present: boolean } {
  if (!checkFileSafety(file)) return { reason: `${ref.file} is missing`, present: false };
  let bytes: Buffer;
  try {
    bytes = readBytesCapped(file, STATE_MAX_BYTES);
    faultPoint('after-settled-read');
  } catch (err) {
    if (err instanceof FileTooLarge) return { reason: `${ref.file} is ${err.reason}`, present: true };
    throw err;
  }
  let data: unknown;
  try {
    data = JSON.parse(decodeText(bytes));
  } catch {
    return { reason: `${ref.file} is not valid JSON`, present: true };
  }
  let state = data as State;
  let rejected: RejectedRecord[] | undefined;
  if (!isSurelyValidState(data) && validateStateShape(data).length > 0) {
    const split = splitRejected(data);
    if (!split) return { reason: `${ref.file} does not match the state schema`, present: true };
    ({ state, rejected } = split);
  }
  if (state.version !== 1 || state.settled) return { reason: `${ref.file} is not a settled file (it has a version or summary of its own)`, present: true };
  if (rejected) return { allocations: state.allocations, rejected };
  const actual = summarize(ref.file, state.allocations);
  const same = JSON.stringify(actual) === JSON.stringify(ref);
  return same ? { allocations: state.allocations } : { allocations: state.allocations, mismatch: `the summary of ${ref.file} in state.json did not match it` };
}

export function stateTooNew(paths: StyxyPaths, version: number): StyxyError {
  return new StyxyError(
    'STATE_TOO_NEW',
    `${paths.state} is state version ${version}, written by a newer Styxy; this Styxy reads state versions 1 to ${STATE_VERSION} only. Nothing was read or changed`,
    {
      details: { path: paths.state, stateVersion: version, knownVersion: STATE_VERSION },
      suggestions: ['Use the newer styxy that wrote it, or upgrade this one; every styxy on your PATH: which -a styxy'],
    },
  );
}

function moveAside(paths: StyxyPaths, now: number, corruptReason: string): StateRead {
  const suffix = `.corrupt-${isoTime(now).replace(/[:.]/g, '-')}`;
  const movedCorruptTo = `${paths.state}${suffix}`;
  // Whatever it referred to goes aside with it, first: never taken for a leftover, even by a call after one killed here.
  for (const name of settledFiles(paths)) renameUnderLock(path.join(paths.home, name), path.join(paths.home, `${name}${suffix}`));
  renameUnderLock(paths.state, movedCorruptTo);
  return { state: emptyState(), movedCorruptTo, corruptReason };
}

function settledFiles(paths: StyxyPaths, names?: readonly string[]): string[] {
  return (names ?? (seam.readdirSync(paths.home) as string[])).filter((name) => SETTLED_FILE_PATTERN.test(name));
}

/** The settled files in `home`, whole paths (doctor checks each as it checks state.json). */
export function settledFilesIn(home: string): string[] {
  return (seam.readdirSync(home) as string[]).filter((name) => SETTLED_FILE_PATTERN.test(name)).map((name) => path.join(home, name));
}

/**
 * Sets aside the settled files the state read does not refer to, as
 * `<name>.orphan-<timestamp>`, never deleting one: a call killed between writing a new one and
 * state.json (or before removing the one it replaced) leaves a copy of allocations the state
 * still has, but a state.json put back by hand, or removed, can leave the only one. Returns the
 * names set aside, for the warning.
 */
export function setAsideSettledLeftovers(paths: StyxyPaths, names: readonly string[], read: StateRead, now: number): string[] {
  if (read.movedCorruptTo) return [];
  const current = read.settled?.ref.file ?? read.state.settled?.file;
  const suffix = `.orphan-${isoTime(now).replace(/[:.]/g, '-')}`;
  const moved: string[] = [];
  for (const name of settledFiles(paths, names)) {
    if (name === current) continue;
    try {
      renameUnderLock(path.join(paths.home, name), path.join(paths.home, `${name}${suffix}`));
      moved.push(`${name}${suffix}`);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  return moved;
}

/**
 * Writes `state`; `read`, the state this transaction read, lends the text of what did not change
 * and says which settled file it refers to. Many persistent allocations go to a settled file of
 * their own, written before state.json; the file state.json no longer refers to goes after it.
 */
export function writeState(paths: StyxyPaths, state: State, read?: StateRead): void {
  assertReadable(state, read);
  const decided = decideLayout(state, read?.settled);
  const layout = decided.kind === 'read-settled' ? layoutWithSettledRead(paths, state, state.settled ?? (read?.settled?.ref as SettledRef)) : decided;
  const previous = read?.settled?.ref.file;
  const { settled: _summary, ...rest } = state;
  let written: State;
  if (layout.kind === 'inline') {
    written = { ...rest, version: versionFor(layout.allocations, false), allocations: [...layout.allocations] };
  } else {
    const ref = layout.kind === 'keep' ? layout.ref : writeSettledFile(paths, layout.settled);
    written = { ...rest, version: versionFor(layout.allocations, true), allocations: [...layout.allocations], settled: ref };
  }
  // Below a few hundred allocations, serializing them costs less than making the patterns that show the text can be kept.
  const source = read?.source && read.source.text.length >= KEEP_TEXT_FROM ? read.source : undefined;
  writeFileAtomic(paths.state, serializeState(written, source));
  // Every allocation the file replaced held is in state.json or the new file now, or was released.
  // The state is written: failing to remove the old file must not report it as not written (the next call sets it aside).
  if (previous && previous !== written.settled?.file) {
    try {
      removeUnderLock(path.join(paths.home, previous));
    } catch {
      /* left for the next call */
    }
  }
}

/**
 * The layout of a state that carries only its settled summary once its file has been read. A
 * file that cannot be read keeps the summary as it is: nothing it holds is dropped, and the next
 * call that reads it whole says what is wrong.
 */
function layoutWithSettledRead(paths: StyxyPaths, state: State, ref: SettledRef): WritableLayout {
  const found = readSettledFile(path.join(paths.home, ref.file), ref);
  // A record that fails its shape is set aside by the next call that reads the file whole, never dropped here.
  if (!('allocations' in found) || found.rejected) return { kind: 'keep', ref, allocations: state.allocations };
  const layout = decideLayout(withSettled(state, found.allocations), { ref, allocations: found.allocations });
  return layout.kind === 'read-settled' ? { kind: 'keep', ref, allocations: state.allocations } : layout;
}

type WritableLayout = Exclude<Layout, { kind: 'read-settled' }>;

/**
 * The records of `written` that are not objects read (records are never changed in place). The
 * lists keep their order, so a walk of both finds them; a set is made only when one was dropped
 * or moved, and an everyday allocate (the records read, then one more) makes none.
 */
function notRead<T>(written: readonly T[], read: readonly T[]): T[] {
  const fresh: T[] = [];
  let j = 0;
  let known: Set<T> | undefined;
  for (const record of written) {
    if (j < read.length && read[j] === record) {
      j++;
      continue;
    }
    if (j < read.length) known ??= new Set(read);
    if (!known?.has(record)) fresh.push(record);
  }
  return fresh;
}

/**
 * Styxy never writes a record it would refuse to read: every allocation and freed port this
 * write adds or changes (those not read as they are) goes through the reader's own check first.
 * One that fails is a bug, and nothing is written.
 */
function assertReadable(state: State, read: StateRead | undefined): void {
  const allocations = notRead(state.allocations, read?.state.allocations ?? []);
  const freed = notRead(state.recentlyFreed ?? [], read?.state.recentlyFreed ?? []);
  const problems = validateStateShape({ ...state, allocations, ...(state.recentlyFreed && { recentlyFreed: freed }) });
  if (problems.length === 0) return;
  throw new StyxyError(
    'INTERNAL',
    `styxy refused to write a state it would refuse to read (${describeProblem(problems[0])}); nothing was changed. This is a bug in styxy`,
    {
      details: { problem: describeProblem(problems[0]) },
      suggestions: ['Report it, with the command you ran and styxy --version'],
    },
  );
}

function writeSettledFile(paths: StyxyPaths, allocations: readonly Allocation[]): SettledRef {
  const file = `state.settled-${randomHex(8)}.json`;
  writeFileAtomic(path.join(paths.home, file), serializeState({ version: 1, allocations: [...allocations] }));
  faultPoint('after-settled-write');
  return summarize(file, allocations);
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
