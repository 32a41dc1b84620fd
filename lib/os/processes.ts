import fs = require('fs');
import { findWrapperReason } from '../core/wrappers';
import { invokerFromPs, isEndedPsState, readPsProcesses } from './no-proc';

/** What /proc/PID/stat tells about a process. */
export interface ProcessStat {
  pid: number;
  state: string;
  ppid: number;
  /** Clock ticks since boot: with the PID, it names one process for the machine's uptime. */
  startTime: string;
}

/** Linux with /proc mounted: process facts come from there, else from ps. */
export const hasProc = (): boolean => process.platform === 'linux' && fs.existsSync('/proc/self/stat');

/**
 * The fields of /proc/PID/stat after the command name, or null when it cannot be read. The
 * name (field 2) may hold spaces and parentheses, so the fields are taken after the last ')':
 * index 0 is field 3 (state). Read as UTF-8, Node's fast path for reading a file whole: a name
 * that is not valid UTF-8 decodes to replacement characters, but every byte ')' stays a ')' and
 * the fields after the name are ASCII.
 */
export function readStatFields(pid: number): string[] | null {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  return text.slice(text.lastIndexOf(')') + 2).split(' ');
}

/** Reads /proc/PID/stat: state, parent and start time. */
export function readProcessStat(pid: number): ProcessStat | null {
  const fields = readStatFields(pid);
  if (!fields) return null;
  // After the name: state(3) ppid(4) ... starttime(22) → indexes 0, 1 and 19.
  const state = fields[0];
  const ppid = Number(fields[1]);
  const startTime = fields[19];
  if (state === undefined || startTime === undefined || !Number.isInteger(ppid)) return null;
  return { pid, state, ppid, startTime };
}

/** A process's argv from /proc/PID/cmdline, or null when it cannot be read. */
export function readArgv(pid: number): string[] | null {
  try {
    const raw = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    return raw.replace(/\0+$/, '').split('\0');
  } catch {
    return null;
  }
}

export function readCommandLine(pid: number): string | null {
  return readArgv(pid)?.join(' ') ?? null;
}

/** A zombie or a dead task: it has ended, whatever /proc still shows. */
export function isDeadState(state: string): boolean {
  return state === 'Z' || state === 'X' || state === 'x';
}

function signalZero(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * The start time of each PID that is alive and not a zombie. A PID missing from the result is
 * dead. Start times are /proc ticks on Linux, `ps -o lstart=` text elsewhere.
 */
export function probeLiveProcesses(pids: readonly number[]): Map<number, string | null> {
  const live = new Map<number, string | null>();
  if (pids.length === 0) return live;
  if (hasProc()) {
    // With many owners, one directory listing rules out the dead without opening their files.
    let present: Set<string> | null = null;
    if (pids.length > 64) present = new Set(fs.readdirSync('/proc'));
    for (const pid of pids) {
      if (present && !present.has(String(pid))) continue;
      const stat = readProcessStat(pid);
      if (stat && !isDeadState(stat.state)) live.set(pid, stat.startTime);
    }
    return live;
  }
  const candidates = pids.filter(signalZero);
  if (candidates.length === 0) return live;
  // ps in the C locale (lib/os/no-proc.ts), so that a start time reads the same every time.
  const table = readPsProcesses(candidates);
  for (const pid of candidates) {
    const row = table ? table.get(pid) : { state: '', startTime: null };
    if (row && !isEndedPsState(row.state)) live.set(pid, row.startTime);
  }
  return live;
}

/** The start time of a live PID (null when unknown), or undefined when it is not running. */
export function readStartTime(pid: number): string | null | undefined {
  const live = probeLiveProcesses([pid]);
  return live.has(pid) ? (live.get(pid) ?? null) : undefined;
}

let bootId: string | null | undefined;

/**
 * This boot's id: Linux's /proc/sys/kernel/random/boot_id (a new UUID at every boot); elsewhere
 * `boottime:<seconds>`, the time the system booted, which libuv reads with sysctl(kern.boottime)
 * for os.uptime(). Null when neither can be had. Read once per process.
 */
export function readBootId(): string | null {
  if (bootId !== undefined) return bootId;
  bootId = null;
  try {
    const id = fs.readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    if (/^[0-9a-f-]{8,64}$/i.test(id)) return (bootId = id);
  } catch {
    /* not Linux */
  }
  if (process.platform === 'linux') return bootId;
  try {
    const uptime = (require('os') as typeof import('os')).uptime();
    if (Number.isFinite(uptime) && uptime > 0) bootId = `boottime:${Math.round(Date.now() / 1000 - uptime)}`;
  } catch {
    /* unknown */
  }
  return bootId;
}

/**
 * When a process started, in milliseconds since the epoch, from its /proc start time (clock
 * ticks since boot; USER_HZ is 100 on every Linux architecture Node runs on) and /proc/uptime
 * read now. Null without /proc.
 */
export function readStartedAt(startTime: string | null, now = Date.now()): number | null {
  if (startTime === null || !/^\d+$/.test(startTime)) return null;
  let uptimeS: number;
  try {
    uptimeS = Number(fs.readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
  } catch {
    return null;
  }
  if (!Number.isFinite(uptimeS)) return null;
  return Math.round(now - uptimeS * 1000 + Number(startTime) * 10);
}

let ownNamespace: string | null | undefined;

/**
 * This process's PID namespace as the kernel names it (`readlink /proc/self/ns/pid`, e.g.
 * `pid:[4026531836]`), or null without /proc. Read once per process. PIDs mean the same process
 * only within one namespace: the lock's holder record and an owner both carry it.
 */
export function readOwnPidNamespace(): string | null {
  if (ownNamespace === undefined) ownNamespace = readPidNamespaceLink('self');
  return ownNamespace;
}

/** `/proc/PID/ns/pid`'s target, or null when it cannot be read (no /proc, gone, another user's without the right to look). */
export function readPidNamespaceLink(pid: number | 'self'): string | null {
  try {
    return fs.readlinkSync(`/proc/${pid}/ns/pid`);
  } catch {
    return null;
  }
}

/** The inode number in a namespace link (`pid:[4026531836]` → `4026531836`), the form an owner records. */
export function namespaceNumber(link: string | null): string | null {
  const m = link === null ? null : /^pid:\[(\d+)\]$/.exec(link);
  return m ? (m[1] as string) : null;
}

/**
 * Whether /proc shows this process's own PID namespace. `unshare -p` without `--mount-proc`
 * leaves the parent namespace's /proc mounted: its PIDs are then not the ones this process
 * knows (process.pid, process.ppid), and nothing read there about a PID can be trusted.
 */
export function isProcOwnNamespace(): boolean {
  return readProcSelfPid() === process.pid;
}

/** This process's PID as /proc numbers it (`readlink /proc/self`), or null without /proc. */
function readProcSelfPid(): number | null {
  try {
    const pid = Number(fs.readlinkSync('/proc/self'));
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

/**
 * The processes visible here that live in PID namespace `ns` (an inode number), by their PID
 * inside it (the last NSpid in /proc/PID/status), with their start time; and whether that
 * namespace can be seen from here at all. A namespace is seen whole or not at all (a parent
 * namespace sees all of its children's processes), so one of its processes found here means
 * its owner that is not among them has ended. A process whose namespace link cannot be read
 * (another user's) is taken as in `ns` when its PID there matches: never a live owner missed.
 *
 * A process of a namespace nested in `ns` (a container started inside the container) is in
 * `ns` too, under the NSpid level of `ns`'s depth: those are listed in `nested`. /proc tells
 * only the innermost namespace of a process, not which namespace each NSpid level is, so a
 * level is taken at the depth of `ns` (known from `ns`'s own processes: its PID 1 lives while
 * it does) and the owner's start time tells it apart from a sibling's process of that depth.
 * Processes of the caller's own namespace (`own`) are skipped unread: none is in another.
 */
export function probeNamespaceProcesses(
  namespaces: ReadonlySet<string>,
  own: string | null = null,
): { seen: Set<string>; live: Map<string, string | null>; nested: Map<string, Set<string | null>>; here: Map<string, number> } {
  const seen = new Set<string>();
  const live = new Map<string, string | null>();
  const nested = new Map<string, Set<string | null>>();
  const here = new Map<string, number>();
  if (namespaces.size === 0 || !hasProc()) return { seen, live, nested, here };
  let names: string[];
  try {
    names = fs.readdirSync('/proc');
  } catch {
    return { seen, live, nested, here };
  }
  const depths = new Map<string, number>();
  // Processes of other namespaces, kept for the second pass that looks for nested ones.
  const others: { pid: number; ns: string | null; nspid: number[]; startTime: string }[] = [];
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    const ns = namespaceNumber(readPidNamespaceLink(pid));
    if (ns !== null && ns === own) continue;
    const nspid = readNsPids(pid);
    const stat = nspid === null ? null : readProcessStat(pid);
    if (nspid === null || !stat || isDeadState(stat.state)) continue;
    const inner = nspid[nspid.length - 1] as number;
    if (ns !== null && namespaces.has(ns)) {
      seen.add(ns);
      depths.set(ns, nspid.length - 1);
      live.set(`${ns}:${inner}`, stat.startTime);
      here.set(`${ns}:${inner}:${stat.startTime}`, pid);
    } else if (ns === null) {
      for (const candidate of namespaces) if (!live.has(`${candidate}:${inner}`)) live.set(`${candidate}:${inner}`, stat.startTime);
    }
    if (nspid.length > 1) others.push({ pid, ns, nspid, startTime: stat.startTime });
  }
  for (const [ns, depth] of depths) {
    for (const p of others) {
      // Only deeper than `ns`: a process of `ns` itself is in `live` under its own namespace.
      if (p.ns === ns || p.nspid.length <= depth + 1) continue;
      const key = `${ns}:${p.nspid[depth] as number}`;
      let times = nested.get(key);
      if (!times) nested.set(key, (times = new Set()));
      times.add(p.startTime);
      here.set(`${key}:${p.startTime}`, p.pid);
    }
  }
  return { seen, live, nested, here };
}

/** A process's PIDs from the namespace of this /proc inward (NSpid in /proc/PID/status), or null when it cannot be read. */
function readNsPids(pid: number): number[] | null {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  } catch {
    return null;
  }
  const m = /^NSpid:\s*([\d\s]+)$/m.exec(text);
  if (!m) return null;
  const pids = (m[1] as string).trim().split(/\s+/).map(Number);
  return pids.length > 0 && pids.every((n) => Number.isInteger(n) && n > 0) ? pids : null;
}

/** The process that owns an allocation made by this invocation. */
export interface Invoker {
  pid: number;
  startTime: string | null;
  command: string;
}

/**
 * Finds the process that asked for styxy: starting from the parent, it passes over every process
 * that exists only to run styxy (lib/core/wrappers.ts says which and why): transient subshells,
 * npm/npx/pnpm/yarn, a shell whose `-c` script is that one command, timeout/flock/nice/nohup/
 * env/stdbuf/time/xargs, and direnv with the bash it evaluates `.envrc` in. Null when the
 * parent cannot be identified from here: the owner is then never PID 0 (lib/app/owner.ts).
 */
export function detectInvoker(): Invoker | null {
  let pid = process.ppid;
  // PID 0: the parent is outside this PID namespace (PID 1 of a container, `docker exec`).
  if (pid < 1) return null;
  if (!hasProc()) return invokerFromPs(pid, isWrapperOf) ?? { pid, startTime: readStartTime(pid) ?? null, command: '' };
  // A /proc of another namespace shows other processes under these PIDs.
  if (!isProcOwnNamespace()) return null;
  let stat = readProcessStat(pid);
  if (!stat || isDeadState(stat.state)) return null;
  let argv = readArgv(pid);
  for (let hops = 0; hops < 16 && stat && argv && stat.ppid > 1; hops++) {
    const parentArgv = readArgv(stat.ppid);
    if (findWrapperReason(argv, parentArgv) === null) break;
    pid = stat.ppid;
    stat = readProcessStat(pid);
    argv = parentArgv;
  }
  return { pid, startTime: stat?.startTime ?? null, command: (argv?.join(' ') ?? '').slice(0, 300) };
}

/** The /proc walk's rule, for the walk over ps's table (lib/os/no-proc.ts). */
export const isWrapperOf = (argv: readonly string[], parentArgv: readonly string[] | null): boolean => findWrapperReason(argv, parentArgv) !== null;

export function describeProcess(pid: number): string {
  const command = readCommandLine(pid);
  return command ? `PID ${pid} (${command.slice(0, 120)})` : `PID ${pid}`;
}
