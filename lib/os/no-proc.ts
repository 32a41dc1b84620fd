/**
 * Where there is no /proc (macOS), what Styxy learns about processes and sockets comes from the
 * commands the system has: `ps` (start times, parents, command lines), `lsof` or else `netstat`
 * (listening sockets) and `sysctl` (the ephemeral port range). The parsers are pure, so unit
 * tests hold them to recorded outputs; the readers take the command runner as a parameter, so
 * tests on Linux run them against Linux's own ps and lsof (same output formats) and force the
 * macOS paths without a Mac.
 */

/** A listening TCP socket, as /proc/net/tcp{,6}, lsof or netstat report it. */
export interface Listener {
  port: number;
  address: string;
  inode: string;
  /** The socket's owner (/proc/net/tcp): known even when its process cannot be seen. */
  uid?: number;
  pid?: number;
  command?: string;
}

/** One process as `ps -o pid=,ppid=,stat=,lstart=,args=` shows it. */
export interface PsProcess {
  pid: number;
  ppid: number;
  state: string;
  /** `lstart` exactly as ps prints it (`Tue Dec  1 19:44:45 2026`): with the PID, it names one process. */
  startTime: string;
  /** The command line, its words joined by single spaces (ps does not keep argv's boundaries). */
  args: string;
}

/** Runs a command and gives its stdout, or null when it cannot be run or fails. */
export type CommandRunner = (file: string, args: readonly string[]) => string | null;

export const PS_COLUMNS = 'pid=,ppid=,stat=,lstart=,args=';

const PS_LINE = /^\s*(\d+)\s+(\d+)\s+(\S+)\s+([A-Z][a-z]{2} +[A-Z][a-z]{2} +\d{1,2} +\d\d:\d\d:\d\d +\d{4})(?: +(.*))?$/;

/** Parses `ps -o pid=,ppid=,stat=,lstart=,args=` (macOS and procps print lstart alike). */
export function parsePsProcesses(text: string): PsProcess[] {
  const rows: PsProcess[] = [];
  for (const line of text.split('\n')) {
    const m = PS_LINE.exec(line.replace(/\s+$/, ''));
    if (!m) continue;
    rows.push({ pid: Number(m[1]), ppid: Number(m[2]), state: m[3] as string, startTime: m[4] as string, args: m[5] ?? '' });
  }
  return rows;
}

const SHELLS = new Set(['sh', 'bash', 'dash', 'zsh', 'ash', 'ksh']);

/**
 * argv from a ps command line, as far as it can be told: words split at spaces, except that a
 * shell's `-c` script is kept whole (it is what the wrapper checks read).
 */
export function psArgv(args: string): string[] {
  const words = args.split(' ').filter((w) => w !== '');
  const shell = (words[0] ?? '').split('/').pop() ?? '';
  if (SHELLS.has(shell.replace(/^-/, '')) && words[1] === '-c' && words.length > 2) return [words[0] as string, '-c', words.slice(2).join(' ')];
  return words;
}

/** A zombie or an exiting process in ps's STAT column (macOS `Z`, `E`; procps `Z`, `X`). */
export function isEndedPsState(state: string): boolean {
  return /^[ZXE]/.test(state);
}

/** `host:port`, `[v6]:port` or `*:port` (lsof), and `host.port` or `*.port` (netstat), to [address, port]. */
function splitEndpoint(endpoint: string, separator: ':' | '.'): [string, number] | null {
  const at = endpoint.lastIndexOf(separator);
  if (at <= 0) return null;
  const port = Number(endpoint.slice(at + 1));
  if (!Number.isInteger(port) || port < 1 || port > 65535) return null;
  let address = endpoint.slice(0, at);
  if (address.startsWith('[') && address.endsWith(']')) address = address.slice(1, -1);
  return [address === '*' ? '*' : address, port];
}

/**
 * Parses `lsof -nP -iTCP -sTCP:LISTEN -F pcn`: a `p` line starts each process, `c` is its
 * command, and each `n` line is one listening socket's local endpoint.
 */
export function parseLsofListeners(text: string): Listener[] {
  const listeners: Listener[] = [];
  const seen = new Set<string>();
  let pid: number | undefined;
  let command: string | undefined;
  for (const line of text.split('\n')) {
    const field = line[0];
    const value = line.slice(1);
    if (field === 'p') {
      pid = Number(value);
      command = undefined;
    } else if (field === 'c') command = value;
    else if (field === 'n' && pid !== undefined) {
      // A listening socket has no remote end; anything with `->` is a connection.
      if (value.includes('->')) continue;
      const endpoint = splitEndpoint(value, ':');
      if (!endpoint) continue;
      const key = `${pid}|${endpoint[0]}|${endpoint[1]}`;
      if (seen.has(key)) continue;
      seen.add(key);
      listeners.push({ port: endpoint[1], address: endpoint[0], inode: '0', pid, ...(command !== undefined && { command }) });
    }
  }
  return listeners;
}

/**
 * Parses macOS's `netstat -an -p tcp` (also with -v): the LISTEN rows of tcp4, tcp6 and tcp46,
 * whose local address ends in `.PORT`. No process is named there.
 */
export function parseNetstatListeners(text: string): Listener[] {
  const listeners: Listener[] = [];
  for (const line of text.split('\n')) {
    const cols = line.trim().split(/\s+/);
    if (!/^tcp(4|6|46)?$/.test(cols[0] ?? '') || cols[5] !== 'LISTEN') continue;
    const endpoint = splitEndpoint(cols[3] ?? '', '.');
    if (endpoint) listeners.push({ port: endpoint[1], address: endpoint[0], inode: '0' });
  }
  return listeners;
}

/** Parses `sysctl -n net.inet.ip.portrange.first net.inet.ip.portrange.last`: two numbers, one a line. */
export function parseSysctlPortRange(text: string): [number, number] | null {
  const [low, high] = text.trim().split(/\s+/).map(Number);
  if (!Number.isInteger(low) || !Number.isInteger(high)) return null;
  if ((low as number) < 1 || (high as number) > 65535 || (low as number) > (high as number)) return null;
  return [low as number, high as number];
}

// ---------------------------------------------------------------------------------------------

/** The real commands, with the C locale (ps prints lstart in it) and a time limit. */
export const runCommand: CommandRunner = (file, args) => {
  try {
    // Only where there is no /proc; loaded here because child_process is slow to load.

    const { execFileSync } = require('child_process') as typeof import('child_process');
    return execFileSync(file, args, {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 5000,
      env: { ...process.env, LC_ALL: 'C' },
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch (err) {
    // A command that ran and said no is an answer: ps exits 1 when a PID is gone (and prints
    // the others), lsof when nothing listens. Not running at all (missing, killed) is not.
    const e = err as { status?: number | null; stdout?: unknown };
    return typeof e.status === 'number' && typeof e.stdout === 'string' ? e.stdout : null;
  }
};

/** The named processes (or every process) from ps; null when ps cannot be run. */
export function readPsProcesses(pids: readonly number[] | 'all', run: CommandRunner = runCommand): Map<number, PsProcess> | null {
  const out = run('ps', pids === 'all' ? ['-A', '-o', PS_COLUMNS] : ['-o', PS_COLUMNS, '-p', pids.join(',')]);
  if (out === null) return null;
  return new Map(parsePsProcesses(out).map((p) => [p.pid, p]));
}

/** Listening TCP sockets from lsof (with their processes), else netstat; null when neither runs. */
export function readListenersFromCommands(run: CommandRunner = runCommand): Listener[] | null {
  const lsof = run('lsof', ['-nP', '-iTCP', '-sTCP:LISTEN', '-F', 'pcn']);
  if (lsof !== null) return parseLsofListeners(lsof);
  const netstat = run('netstat', ['-an', '-p', 'tcp']);
  return netstat === null ? null : parseNetstatListeners(netstat);
}

/** macOS's ephemeral range from sysctl; null when sysctl does not know it. */
export function readSysctlPortRange(run: CommandRunner = runCommand): [number, number] | null {
  const out = run('sysctl', ['-n', 'net.inet.ip.portrange.first', 'net.inet.ip.portrange.last']);
  return out === null ? null : parseSysctlPortRange(out);
}

/**
 * Walks up from `pid` through the process table, past the wrappers `isWrapper` names (given a
 * process's argv and its parent's), as the /proc walk does: the process that asked for styxy.
 * Null when ps cannot be run.
 */
export function invokerFromPs(
  pid: number,
  isWrapper: (argv: readonly string[], parentArgv: readonly string[] | null) => boolean,
  run: CommandRunner = runCommand,
): { pid: number; startTime: string | null; command: string } | null {
  const table = readPsProcesses('all', run);
  if (!table) return null;
  let current = table.get(pid);
  if (!current) return { pid, startTime: null, command: '' };
  for (let hops = 0; hops < 16 && current.ppid > 1; hops++) {
    const parent: PsProcess | undefined = table.get(current.ppid);
    if (!isWrapper(psArgv(current.args), parent ? psArgv(parent.args) : null) || !parent) break;
    current = parent;
  }
  return { pid: current.pid, startTime: current.startTime, command: current.args.slice(0, 300) };
}
