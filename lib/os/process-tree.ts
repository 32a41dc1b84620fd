import fs = require('fs');
import { hasProc, isDeadState, probeLiveProcesses, readProcessStat, readStatFields } from './processes';

/** One live process: its parent, and its start time, which with the PID names it for good. */
export interface ProcessEntry {
  pid: number;
  ppid: number;
  /** /proc ticks on Linux, `ps` lstart text elsewhere; null when unknown. */
  startTime: string | null;
}

/** A process known by PID and start time, so that a reused PID is never taken for it. */
export type TrackedProcess = Pick<ProcessEntry, 'pid' | 'startTime'>;

export const processKey = (p: TrackedProcess): string => `${p.pid}@${p.startTime ?? '?'}`;

/**
 * Every live process on the machine (zombies left out): /proc on Linux, `ps -A` elsewhere.
 * `ps` runs as a child of this process; its own PID is left out of the answer.
 */
export function readProcessTable(): ProcessEntry[] {
  if (hasProc()) {
    const table: ProcessEntry[] = [];
    let names: string[];
    try {
      names = fs.readdirSync('/proc');
    } catch {
      return table;
    }
    for (const name of names) {
      if (name.charCodeAt(0) > 57 || !/^\d+$/.test(name)) continue;
      const stat = readProcessStat(Number(name));
      if (stat && !isDeadState(stat.state)) table.push({ pid: stat.pid, ppid: stat.ppid, startTime: stat.startTime });
    }
    return table;
  }

  const { spawnSync } = require('child_process') as typeof import('child_process');
  const ps = spawnSync('ps', ['-A', '-o', 'pid=,ppid=,stat=,lstart='], { encoding: 'utf8' });
  return parsePsTable(ps.stdout ?? '', ps.pid);
}

/** `ps -A -o pid=,ppid=,stat=,lstart=` output as a table, without zombies and without `ps` itself. */
export function parsePsTable(text: string, psPid?: number): ProcessEntry[] {
  const table: ProcessEntry[] = [];
  for (const line of text.split('\n')) {
    const match = /^\s*(\d+)\s+(\d+)\s+(\S+)\s+(.+?)\s*$/.exec(line);
    if (!match || match[3]!.startsWith('Z') || Number(match[1]) === psPid) continue;
    table.push({ pid: Number(match[1]), ppid: Number(match[2]), startTime: match[4]! });
  }
  return table;
}

/**
 * The members of a process tree in `table`: every process whose chain of parents reaches `root`,
 * or reaches a process already in `known` (still the same process: same PID and start time).
 * `known` is what keeps a process that was reparented (its parent ended, init or a subreaper
 * adopted it) in the tree: a plain walk from `root` no longer finds it. `root` itself is not a member.
 */
export function findTreeMembers(table: readonly ProcessEntry[], root: number, known: ReadonlySet<string>): ProcessEntry[] {
  const children = new Map<number, ProcessEntry[]>();
  for (const entry of table) {
    const list = children.get(entry.ppid);
    if (list) list.push(entry);
    else children.set(entry.ppid, [entry]);
  }
  const members = new Map<number, ProcessEntry>();
  const queue: number[] = [root];
  for (const entry of table) {
    if (entry.pid !== root && known.has(processKey(entry))) {
      members.set(entry.pid, entry);
      queue.push(entry.pid);
    }
  }
  while (queue.length > 0) {
    const pid = queue.pop() as number;
    for (const child of children.get(pid) ?? []) {
      if (child.pid === root || members.has(child.pid)) continue;
      members.set(child.pid, child);
      queue.push(child.pid);
    }
  }
  return [...members.values()];
}

/** True when `pid`'s initial environment holds the `NAME=value` entry (Linux only). */
export function hasEnvironmentEntry(pid: number, entry: string): boolean {
  let raw: string;
  try {
    raw = fs.readFileSync(`/proc/${pid}/environ`, 'latin1');
  } catch {
    return false;
  }
  // Entries end in NUL; bracketing the text with NULs makes each a whole-entry match.
  return `\0${raw}\0`.includes(`\0${entry}\0`);
}

/** The process group of `pid` and the foreground process group of its terminal (-1 without one). */
export function readProcessGroups(pid: number): { pgrp: number; foreground: number } | null {
  if (hasProc()) {
    // After the name: state ppid pgrp session tty_nr tpgid.
    const fields = readStatFields(pid);
    if (!fields) return null;
    const pgrp = Number(fields[2]);
    const tty = Number(fields[4]);
    const tpgid = Number(fields[5]);
    if (!Number.isInteger(pgrp) || !Number.isInteger(tpgid)) return null;
    return { pgrp, foreground: tty === 0 ? -1 : tpgid };
  }
  try {
    const { execFileSync } = require('child_process') as typeof import('child_process');
    const out = execFileSync('ps', ['-o', 'pgid=,tpgid=', '-p', String(pid)], { encoding: 'utf8' });
    const [pgrp, tpgid] = out.trim().split(/\s+/).map(Number);
    if (!Number.isInteger(pgrp) || !Number.isInteger(tpgid)) return null;
    return { pgrp: pgrp as number, foreground: tpgid as number };
  } catch {
    return null;
  }
}

/**
 * Keeps a picture of the processes descended from `root` (this process): its children and their
 * children, also after they have been reparented. A process is a member when a snapshot finds it
 * under `root` or under a member, or (Linux) when its environment carries `marker`, which every
 * process started from the command inherits: that catches a server started in the background by a
 * shell that ended before any snapshot could see the two together.
 */
export class ProcessTreeWatch {
  private readonly known = new Map<string, TrackedProcess>();
  /** The PIDs present at the last snapshot (Linux): only a process new since then can be new to the tree. */
  private seen = new Set<number>();
  private readonly rootStart: number;

  /** `rootStartTime`: the root's start time when known already (the root may have ended since). */
  constructor(
    private readonly root: number,
    private readonly marker?: string,
    rootStartTime?: string,
  ) {
    this.rootStart = Number(rootStartTime ?? readProcessStat(root)?.startTime ?? NaN);
  }

  /** Looks at the processes again: adds the new members, forgets the ended ones. */
  snapshot(): void {
    if (hasProc()) this.snapshotProc();
    else this.snapshotTable();
  }

  /**
   * Linux: every descendant starts after `root`, so only the processes that appeared since the
   * last snapshot are read (a directory listing of /proc, then one stat each), not the whole
   * machine every time. A member whose PID now names another process is dropped, and that
   * process looked at as a new one.
   */
  private snapshotProc(): void {
    let names: string[];
    try {
      names = fs.readdirSync('/proc');
    } catch {
      return;
    }
    const pids = new Set<number>();
    for (const name of names) if (name.charCodeAt(0) <= 57 && /^\d+$/.test(name)) pids.add(Number(name));
    const fresh: ProcessEntry[] = [];
    const look = (pid: number): void => {
      const stat = readProcessStat(pid);
      if (stat && !isDeadState(stat.state)) fresh.push({ pid, ppid: stat.ppid, startTime: stat.startTime });
    };
    for (const [key, member] of this.known) {
      const stat = pids.has(member.pid) ? readProcessStat(member.pid) : null;
      if (stat && !isDeadState(stat.state) && stat.startTime === member.startTime) continue;
      this.known.delete(key);
      if (stat && !isDeadState(stat.state)) look(member.pid);
    }
    for (const pid of pids) if (!this.seen.has(pid) && pid !== this.root) look(pid);
    this.seen = pids;
    // Parents before their children, so a child found in the same snapshot joins through its parent.
    fresh.sort((a, b) => Number(a.startTime) - Number(b.startTime) || a.pid - b.pid);
    const memberPids = new Set([this.root, ...[...this.known.values()].map((m) => m.pid)]);
    for (const entry of fresh) {
      if (memberPids.has(entry.pid)) continue;
      const inherited = this.marker !== undefined && Number(entry.startTime) >= this.rootStart && hasEnvironmentEntry(entry.pid, this.marker);
      if (!memberPids.has(entry.ppid) && !inherited) continue;
      this.known.set(processKey(entry), entry);
      memberPids.add(entry.pid);
    }
  }

  /** Elsewhere: the whole `ps` table each time, walked from `root` and the known members. */
  private snapshotTable(): void {
    const table = readProcessTable();
    const alive = new Set(table.map(processKey));
    for (const key of this.known.keys()) if (!alive.has(key)) this.known.delete(key);
    for (const entry of findTreeMembers(table, this.root, new Set(this.known.keys()))) this.known.set(processKey(entry), entry);
  }

  /** Makes `member` (checked at each snapshot by its PID and start time, like the others) a member: the root itself, say. */
  include(member: TrackedProcess): void {
    this.known.set(processKey(member), member);
  }

  /** The members as the last snapshot saw them. */
  members(): TrackedProcess[] {
    return [...this.known.values()];
  }

  /** The members that still run as the same process (PID and start time checked again). */
  alive(): TrackedProcess[] {
    const members = [...this.known.values()];
    const live = probeLiveProcesses(members.map((m) => m.pid));
    return members.filter((m) => live.has(m.pid) && (m.startTime === null || live.get(m.pid) === m.startTime || live.get(m.pid) === null));
  }

  /** Sends `signal` to every member that is still the same process; returns how many it reached. */
  signal(signal: NodeJS.Signals): TrackedProcess[] {
    const reached: TrackedProcess[] = [];
    for (const member of this.alive()) {
      try {
        process.kill(member.pid, signal);
        reached.push(member);
      } catch {
        /* ended meanwhile, or not ours to signal */
      }
    }
    return reached;
  }
}

/** The inodes of the sockets `pid` has open (Linux; empty where they cannot be read). */
export function readSocketInodes(pid: number): string[] {
  let fds: string[];
  try {
    fds = fs.readdirSync(`/proc/${pid}/fd`);
  } catch {
    return [];
  }
  const inodes: string[] = [];
  for (const fd of fds) {
    try {
      const match = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (match) inodes.push(match[1] as string);
    } catch {
      /* closed meanwhile */
    }
  }
  return inodes;
}

/**
 * The live processes (Linux) whose initial environment holds the `NAME=value` entry and that
 * started at or after `sinceTicks` (the start time, in /proc ticks, of the process that set it):
 * the tree a `styxy run` started, found again after `run` itself has ended. Null where it
 * cannot be told (no /proc). Reads every process's environment, so it is for the rare path only
 * (an owner that has ended).
 */
export function findMarkedProcesses(entry: string, sinceTicks: number): TrackedProcess[] | null {
  if (!hasProc()) return null;
  let names: string[];
  try {
    names = fs.readdirSync('/proc');
  } catch {
    return null;
  }
  const found: TrackedProcess[] = [];
  for (const name of names) {
    if (name.charCodeAt(0) > 57 || !/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (pid === process.pid) continue;
    const stat = readProcessStat(pid);
    if (!stat || isDeadState(stat.state) || !(Number(stat.startTime) >= sinceTicks)) continue;
    if (hasEnvironmentEntry(pid, entry)) found.push({ pid, startTime: stat.startTime });
  }
  // Eldest first: the command run started, before what it started in turn.
  return found.sort((a, b) => Number(a.startTime) - Number(b.startTime) || a.pid - b.pid);
}
