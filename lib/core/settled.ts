/**
 * Settled allocations: once a state holds many persistent allocations, they are kept in a file
 * of their own beside state.json, and state.json holds a summary of them (the ports they hold,
 * their types, how many). A persistent allocation never expires and is never pruned, so an
 * everyday allocate, which only needs to know which ports are taken, reads and writes the
 * summary instead of every one of them. Pure: what the store decides to write, from what it read.
 */
import type { Allocation, SettledRef, State } from './types';

/** From this many persistent allocations on, they are settled into a file of their own. */
export const SETTLE_FROM = 2000;
/**
 * Persistent allocations made since the last settling stay in state.json until there are this
 * many; then all are settled again, into a new file. Below SETTLE_FROM / 2 in all, they come back
 * into state.json and the file goes.
 */
export const UNSETTLED_MAX = 500;
export const UNSETTLE_BELOW = SETTLE_FROM / 2;

/** A settled file's name: the only files of this shape in a home are Styxy's. */
export const SETTLED_FILE_PATTERN = /^state\.settled-[0-9a-f]{16}\.json$/;

// A block holds several ports, which the summary's one-port-per-allocation form cannot say: it stays in state.json.
export const isSettleable = (allocation: Allocation): boolean => allocation.owner.kind === 'persistent' && allocation.block === undefined;

/** The summary of `allocations` to be kept in `file`. */
export function summarize(file: string, allocations: readonly Allocation[]): SettledRef {
  const held = new Uint8Array(65536);
  const types = new Set<string>();
  for (const allocation of allocations) {
    held[allocation.port] = 1;
    types.add(allocation.serviceType);
  }
  const ports: [number, number][] = [];
  for (let port = 1; port < 65536; port++) {
    if (held[port] !== 1) continue;
    const last = ports[ports.length - 1];
    if (last && last[1] === port - 1) last[1] = port;
    else ports.push([port, port]);
  }
  const sorted = [...types].sort();
  return { file, count: allocations.length, ports, types: sorted, check: summaryCheck(allocations.length, ports, sorted) };
}

/**
 * The summary's own check: FNV-1a over its count, runs and types. Not a seal against anyone who
 * means it (anyone who can write state.json can write its allocations too), but a summary edited
 * by hand, or cut short, is not believed: the file is read instead.
 */
export function summaryCheck(count: number, ports: readonly (readonly [number, number])[], types: readonly string[]): string {
  let hash = 0x811c9dc5;
  const mix = (value: number): void => {
    hash = Math.imul(hash ^ value, 0x01000193) >>> 0;
  };
  mix(count);
  for (const [first, last] of ports) {
    mix(first);
    mix(last);
  }
  for (const type of types) {
    for (let i = 0; i < type.length; i++) mix(type.charCodeAt(i));
    mix(0x2c);
  }
  return hash.toString(16).padStart(8, '0');
}

/**
 * A summary that can be what `summarize` wrote: ascending, disjoint runs of ports, one port for
 * each allocation it counts (no two allocations hold one port). Any other (a hand edit) is not
 * believed: the file is read instead, and the summary made anew.
 */
export function isWellFormedSummary(ref: SettledRef): boolean {
  let ports = 0;
  let after = 0;
  for (const [first, last] of ref.ports) {
    if (first <= after || last < first) return false;
    ports += last - first + 1;
    after = last + 1;
  }
  return ports === ref.count && ref.check === summaryCheck(ref.count, ref.ports, ref.types);
}

/** Marks the ports a summary says its allocations hold. */
export function markSettledPorts(held: Uint8Array, ref: SettledRef | undefined): void {
  if (!ref) return;
  for (const [first, last] of ref.ports) held.fill(1, first, last + 1);
}

/** What a state as read says of its settled allocations, for the writer. */
export interface SettledRead {
  ref: SettledRef;
  /** The settled allocations, when they were read (first in the state's allocations, in this order); null when only the summary was. */
  allocations: readonly Allocation[] | null;
}

/** How a state is to be written: its own allocations, and the settled file it refers to. */
export type Layout =
  /** Everything in state.json (version 1), as below SETTLE_FROM. */
  | { kind: 'inline'; allocations: readonly Allocation[] }
  /** state.json refers to the settled file already there: nothing of it is rewritten. */
  | { kind: 'keep'; ref: SettledRef; allocations: readonly Allocation[] }
  /** A new settled file with `settled`, then state.json refers to it. */
  | { kind: 'settle'; settled: readonly Allocation[]; allocations: readonly Allocation[] }
  /** The settled file must be read first: its allocations and state.json's need settling anew. */
  | { kind: 'read-settled' };

/**
 * How to write `state`, given what was read. A state that still carries `settled` (an allocate
 * that read only the summary) keeps its file until UNSETTLED_MAX persistent allocations have
 * come since; a state with every allocation in it keeps the file it read when its allocations
 * still begin with exactly those read from it (allocations are never changed in place), else is
 * laid out anew: settled from SETTLE_FROM persistent allocations on, inline below UNSETTLE_BELOW,
 * and in between as it was.
 */
export function decideLayout(state: State, read: SettledRead | undefined): Layout {
  const own = state.allocations;
  if (state.settled) {
    return countSettleable(own) < UNSETTLED_MAX ? { kind: 'keep', ref: state.settled, allocations: own } : { kind: 'read-settled' };
  }
  // Read with its summary alone and the summary gone: never write over what was not read.
  if (read && read.allocations === null) return { kind: 'read-settled' };
  const kept = read?.allocations ? keptPrefix(own, read.allocations) : false;
  if (read && kept) {
    const rest = own.slice(read.allocations!.length);
    if (countSettleable(rest) < UNSETTLED_MAX && countSettleable(own) >= UNSETTLE_BELOW) return { kind: 'keep', ref: read.ref, allocations: rest };
  }
  const settleable = countSettleable(own);
  const wasSettled = read !== undefined;
  if (settleable >= SETTLE_FROM || (wasSettled && settleable >= UNSETTLE_BELOW)) {
    return { kind: 'settle', settled: own.filter(isSettleable), allocations: own.filter((a) => !isSettleable(a)) };
  }
  return { kind: 'inline', allocations: own };
}

function countSettleable(allocations: readonly Allocation[]): number {
  let n = 0;
  for (const allocation of allocations) if (isSettleable(allocation)) n++;
  return n;
}

function keptPrefix(allocations: readonly Allocation[], settled: readonly Allocation[]): boolean {
  if (allocations.length < settled.length) return false;
  for (let i = 0; i < settled.length; i++) if (allocations[i] !== settled[i]) return false;
  return true;
}

/** The state with its settled allocations in it, first, and no summary: what every command but an everyday allocate sees. */
export function withSettled(state: State, settled: readonly Allocation[]): State {
  const merged: State = { ...state, version: 1, allocations: [...settled, ...state.allocations] };
  delete merged.settled;
  return merged;
}
