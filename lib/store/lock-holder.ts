import { hostName } from '../os/identity';
import { describeProcess, isDeadState, readOwnPidNamespace, readProcessStat, readStartTime, readStatFields } from '../os/processes';
import { isoTime } from '../core/time';

/**
 * The record a lock holder leaves in its lock: who it is (PID, start time, PID namespace, host),
 * a random nonce naming this one holding, when it took the lock and what it runs.
 */
export interface HolderRecord {
  pid: number;
  startTime: string | null;
  /** The PID namespace (`readlink /proc/self/ns/pid`), so that PIDs are only compared where they mean the same process. */
  ns: string | null;
  host: string;
  nonce: string;
  since: string;
  command: string;
}

export type Liveness = 'alive' | 'dead' | 'unknown';

/** This process's record, for a holding named `nonce`. */
export function ownHolderRecord(nonce: string): HolderRecord {
  return {
    pid: process.pid,
    startTime: readStartTime(process.pid) ?? null,
    ns: readOwnPidNamespace(),
    host: hostName(),
    nonce,
    since: isoTime(Date.now()),
    command: process.argv.slice(2).join(' ').slice(0, 200),
  };
}

/** A record read from disk, or null when it is torn or not a record at all. */
export function parseHolderRecord(text: string): HolderRecord | null {
  try {
    const holder = JSON.parse(text) as HolderRecord;
    if (holder && typeof holder === 'object' && typeof holder.nonce === 'string' && Number.isInteger(holder.pid)) return holder;
  } catch {
    /* torn */
  }
  return null;
}

/**
 * Whether a process still runs, known only from the same PID namespace on the same host: there
 * a PID that is gone, a zombie, or a PID now worn by a process with another start time is dead.
 */
export function processLiveness(who: { pid: number; startTime?: string | null; ns: string | null; host: string }): Liveness {
  const ns = readOwnPidNamespace();
  if (ns === null || who.ns !== ns || who.host !== hostName()) return 'unknown';
  const stat = readProcessStat(who.pid);
  if (!stat || isDeadState(stat.state)) return 'dead';
  if (who.startTime && stat.startTime !== who.startTime) return 'dead';
  return 'alive';
}

/** Who holds a lock, in words, for messages and `doctor`. */
export function describeHolder(holder: HolderRecord, liveness: Liveness): string {
  const who = liveness === 'alive' ? describeProcess(holder.pid) : `PID ${holder.pid}${liveness === 'unknown' ? ` on ${holder.host}` : ''}`;
  const running = holder.command ? ` running 'styxy ${holder.command}'` : '';
  const state = liveness === 'dead' ? ' (no longer running)' : liveness === 'unknown' ? ' (whether it still runs cannot be seen from here)' : '';
  return `${who}${running} since ${holder.since}${state}`;
}

/**
 * A mark that changes while a process works: a fresh value each time it is seen running or
 * waiting for a CPU (state R; on a crowded machine it may get too little CPU for its CPU time to
 * move) or waiting on the disk (state D), else its CPU time (utime + stime from /proc/PID/stat).
 * A stopped or hung-asleep process keeps the same mark. Null where it cannot be read (no /proc,
 * another namespace).
 */
export function readWorkMark(who: { pid: number; ns: string | null; host: string }): string | null {
  // This very process (two calls in one program) tells nothing: it is running, to ask.
  if (processLiveness(who) !== 'alive' || who.pid === process.pid) return null;
  const fields = readStatFields(who.pid);
  if (!fields) return null;
  // After the name: state(3) ... utime(14) stime(15) → indexes 0, 11 and 12.
  if (fields[0] === 'R' || fields[0] === 'D') return `${fields[0]}${Date.now()}`;
  return `${fields[11]}+${fields[12]}`;
}
