import fs = require('fs');

/** What /proc/PID/stat tells about a process. */
export interface ProcessStat {
  pid: number;
  state: string;
  ppid: number;
  /** Clock ticks since boot: with the PID, it names one process for the machine's uptime. */
  startTime: string;
}

const hasProc = (): boolean => process.platform === 'linux' && fs.existsSync('/proc/self/stat');

/**
 * Reads /proc/PID/stat. The command name (field 2) may hold spaces and parentheses, so the
 * fields are taken after the last ')'.
 */
export function readProcessStat(pid: number): ProcessStat | null {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return null;
  }
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
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
  try {
    // Only where there is no /proc; loaded here because child_process is slow to load.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { execFileSync } = require('child_process') as typeof import('child_process');
    const out = execFileSync('ps', ['-o', 'pid=,stat=,lstart=', '-p', candidates.join(',')], { encoding: 'utf8' });
    for (const line of out.split('\n')) {
      const match = /^\s*(\d+)\s+(\S+)\s+(.+?)\s*$/.exec(line);
      if (match && !match[2]!.startsWith('Z')) live.set(Number(match[1]), match[3]!);
    }
  } catch {
    for (const pid of candidates) live.set(pid, null);
  }
  return live;
}

/** The start time of a live PID (null when unknown), or undefined when it is not running. */
export function readStartTime(pid: number): string | null | undefined {
  const live = probeLiveProcesses([pid]);
  return live.has(pid) ? (live.get(pid) ?? null) : undefined;
}

/** The process that owns an allocation made by this invocation. */
export interface Invoker {
  pid: number;
  startTime: string | null;
  command: string;
}

const baseName = (file: string | undefined): string => (file ?? '').split('/').pop() ?? '';
const SHELLS = new Set(['sh', 'bash', 'dash', 'zsh', 'ash', 'ksh']);
const PACKAGE_RUNNERS = new Set(['npm', 'npx', 'pnpm', 'pnpx', 'yarn']);

/**
 * npm, npx, pnpm or yarn itself: by its process title (npm rewrites its cmdline to one string such
 * as `npm exec styxy`, so the first word counts) or by node running its CLI script.
 */
export function isPackageRunner(argv: readonly string[]): boolean {
  const first = baseName((argv[0] ?? '').split(' ')[0]);
  if (PACKAGE_RUNNERS.has(first)) return true;
  if (first !== 'node' && first !== 'nodejs') return false;
  return /(?:^|\/)(?:npm-cli|npx-cli|pnpm|pnpx|yarn)\.c?js$|\/(?:npm|pnpm|yarn)\/bin\/[^/]+$/.test(argv[1] ?? '');
}

/** The script of a `sh -c SCRIPT` process, or null. */
export function shellScript(argv: readonly string[]): string | null {
  return SHELLS.has(baseName(argv[0])) && argv[1] === '-c' && argv[2] !== undefined ? argv[2] : null;
}

/** A script that runs one command only: the shell lives exactly as long as that command. */
function isSimpleCommand(script: string): boolean {
  return !/[;&|\n`]|\$\(/.test(script);
}

/**
 * Finds the process that asked for styxy, starting from the parent and skipping wrappers that
 * end as soon as styxy does: a transient subshell (bash forks one for `$(styxy …; other)` and
 * for pipelines; its cmdline equals its parent's), npm/npx/pnpm/yarn themselves, and the
 * one-command `sh -c` they run scripts and binaries through.
 */
export function detectInvoker(): Invoker {
  let pid = process.ppid;
  if (!hasProc()) return { pid, startTime: readStartTime(pid) ?? null, command: '' };
  let stat = readProcessStat(pid);
  let argv = readArgv(pid);
  for (let hops = 0; hops < 8 && stat && argv && stat.ppid > 1; hops++) {
    const parentArgv = readArgv(stat.ppid);
    const script = shellScript(argv);
    const isWrapper =
      (parentArgv !== null && argv.join('\0') === parentArgv.join('\0')) ||
      isPackageRunner(argv) ||
      (script !== null && isSimpleCommand(script) && parentArgv !== null && isPackageRunner(parentArgv));
    if (!isWrapper) break;
    pid = stat.ppid;
    stat = readProcessStat(pid);
    argv = parentArgv;
  }
  return { pid, startTime: stat?.startTime ?? null, command: (argv?.join(' ') ?? '').slice(0, 300) };
}

export function describeProcess(pid: number): string {
  const command = readCommandLine(pid);
  return command ? `PID ${pid} (${command.slice(0, 120)})` : `PID ${pid}`;
}
