import fs = require('fs');
import type { ListenerProcess } from '../core/prune';
import { readListenersFromCommands, readSysctlPortRange, type Listener } from './no-proc';
import { readCommandLine, readProcessStat, readStartedAt } from './processes';

/**
 * True when nothing on this machine holds `port`: the port can be bound and listened on with no
 * host, which Node turns into the dual-stack wildcard `::` (falling back to 0.0.0.0 where IPv6 is
 * off) without a DNS lookup. `::` conflicts with a listener on any IPv4 or IPv6 address, so a
 * server on 127.0.0.1 and one on ::1 are both seen (a probe on 127.0.0.1 alone misses the
 * second). Any bind or listen error — EADDRINUSE, EACCES, EPERM — counts as busy.
 */
export function probePortFree(port: number): Promise<boolean> {
  const handleProbe = loadHandleProbe();
  return handleProbe ? Promise.resolve(handleProbe(port)) : probePortFreeWithServer(port);
}

/**
 * The same probe through `net.Server#listen`, the public way. It costs about 7 ms in a process
 * that has not loaded `net` (listen also loads `cluster`, `child_process` and `dgram`), so it is
 * used only where Node's TCP handle is not reachable.
 */
export function probePortFreeWithServer(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = (require('net') as typeof import('net')).createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen({ port, exclusive: true }, () => {
      server.close(() => resolve(true));
    });
  });
}

interface TcpHandle {
  bind(address: string, port: number): number;
  bind6(address: string, port: number, flags: number): number;
  listen(backlog: number): number;
  close(): void;
}
type TcpBinding = { TCP: new (type: number) => TcpHandle; constants: { SERVER: number } };

let handleProbe: ((port: number) => boolean) | null | undefined;

/**
 * The probe made directly on Node's TCP handle, the one `net.Server` wraps, making the same calls
 * in the same order as `listen({ port })` (bind `::`, else bind 0.0.0.0, then listen; libuv
 * reports EADDRINUSE at listen), synchronously and without loading `net`. Null where the handle
 * is not reachable (a future Node), and the caller then uses `net`. A unit test holds the two
 * probes to the same answers.
 */
export function loadHandleProbe(): ((port: number) => boolean) | null {
  if (handleProbe !== undefined) return handleProbe;
  handleProbe = null;
  const quiet = process.noDeprecation;
  try {
    // process.binding is deprecated (DEP0111) in documentation only; `--pending-deprecation`
    // would print a warning that means nothing to a user of Styxy.
    process.noDeprecation = true;
    const binding = (process as unknown as { binding(name: string): Partial<TcpBinding> }).binding('tcp_wrap');
    const { TCP, constants } = binding;
    if (typeof TCP !== 'function' || typeof constants?.SERVER !== 'number') return null;
    const probe = new TCP(constants.SERVER);
    const shaped = ['bind', 'bind6', 'listen', 'close'].every((m) => typeof (probe as unknown as Record<string, unknown>)[m] === 'function');
    probe.close();
    if (!shaped) return null;
    handleProbe = (port) => {
      let handle = new TCP(constants.SERVER);
      let err = handle.bind6('::', port, 0);
      if (err !== 0) {
        handle.close();
        handle = new TCP(constants.SERVER);
        err = handle.bind('0.0.0.0', port);
      }
      if (err === 0) err = handle.listen(511);
      handle.close();
      return err === 0;
    };
  } catch {
    handleProbe = null;
  } finally {
    process.noDeprecation = quiet;
  }
  return handleProbe;
}

/** Returns the first port of `candidates` that the OS finds free, probing in order. */
export async function findFirstFreePort(candidates: readonly number[], skip?: (port: number) => boolean): Promise<number | undefined> {
  for (const port of candidates) {
    if (skip?.(port)) continue;
    if (await probePortFree(port)) return port;
  }
  return undefined;
}

/** The first of `starts` whose `size` ports from it on the OS all finds free (probed in order, stopping at the first busy one). */
export async function findFirstFreeBlock(starts: readonly number[], size: number): Promise<number | undefined> {
  next: for (const first of starts) {
    for (let port = first; port < first + size; port++) if (!(await probePortFree(port))) continue next;
    return first;
  }
  return undefined;
}

export type { Listener } from './no-proc';

/**
 * Every listening TCP socket on this machine's network namespace, from /proc/net/tcp and tcp6;
 * null where /proc is not available.
 */
export function readListeners(): Listener[] | null {
  const listeners: Listener[] = [];
  let readAny = false;
  for (const [file, v6] of [
    ['/proc/net/tcp', false],
    ['/proc/net/tcp6', true],
  ] as const) {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    readAny = true;
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 10 || cols[3] !== '0A') continue; // 0A = TCP_LISTEN
      const [hexAddress, hexPort] = (cols[1] ?? '').split(':');
      const uid = Number(cols[7]);
      listeners.push({
        port: parseInt(hexPort ?? '0', 16),
        address: decodeAddress(hexAddress ?? '', v6),
        inode: cols[9] ?? '0',
        ...(Number.isInteger(uid) && { uid }),
      });
    }
  }
  // No /proc (macOS): lsof, else netstat (lib/os/no-proc.ts).
  return readAny ? listeners : process.platform === 'linux' ? null : readListenersFromCommands();
}

/**
 * The range the OS picks outgoing (ephemeral) ports from, which a service range must avoid:
 * Linux says it in /proc; elsewhere the IANA range that macOS and Windows use.
 */
export function readEphemeralRange(): [number, number] | null {
  try {
    const [low, high] = fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
    if (Number.isInteger(low) && Number.isInteger(high) && (low as number) <= (high as number)) return [low as number, high as number];
  } catch {
    /* not Linux */
  }
  if (process.platform === 'linux') return null;
  return (process.platform === 'darwin' ? readSysctlPortRange() : null) ?? [49152, 65535];
}

function decodeAddress(hex: string, v6: boolean): string {
  if (!v6) {
    const bytes =
      hex
        .match(/../g)
        ?.map((b) => parseInt(b, 16))
        .reverse() ?? [];
    return bytes.join('.');
  }
  // Four little-endian 32-bit words.
  const words = hex.match(/.{8}/g) ?? [];
  const bytes = words.flatMap((w) => (w.match(/../g) ?? []).reverse());
  const groups: string[] = [];
  for (let i = 0; i < bytes.length; i += 2) groups.push(parseInt(`${bytes[i]}${bytes[i + 1]}`, 16).toString(16));
  return compressIPv6(groups.join(':'));
}

function compressIPv6(full: string): string {
  if (full.startsWith('0:0:0:0:0:ffff:')) {
    const parts = full.split(':');
    const hi = parseInt(parts[6] ?? '0', 16);
    const lo = parseInt(parts[7] ?? '0', 16);
    return `::ffff:${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  }
  const best = /(?:^|:)0(?::0)+(?::|$)/g;
  let longest = '';
  for (const match of full.match(best) ?? []) if (match.length > longest.length) longest = match;
  return longest ? full.replace(longest, '::') : full;
}

/**
 * Fills in the PID and command of each listener by finding which process has its socket inode
 * open. Only processes this user may inspect are found.
 */
export function attachListenerProcesses(listeners: Listener[]): void {
  const wanted = new Map<string, Listener[]>();
  for (const l of listeners) {
    if (l.inode === '0') continue;
    const list = wanted.get(l.inode) ?? [];
    list.push(l);
    wanted.set(l.inode, list);
  }
  if (wanted.size === 0) return;
  let pids: string[];
  try {
    pids = fs.readdirSync('/proc').filter((name) => /^\d+$/.test(name));
  } catch {
    return;
  }
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = fs.readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      let target: string;
      try {
        target = fs.readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      const match = /^socket:\[(\d+)\]$/.exec(target);
      const found = match ? wanted.get(match[1]!) : undefined;
      if (!found) continue;
      const command = readCommandLine(Number(pid)) ?? '';
      for (const l of found) {
        l.pid = Number(pid);
        l.command = command.slice(0, 200);
      }
      wanted.delete(match![1]!);
      if (wanted.size === 0) return;
    }
  }
}

/**
 * The processes listening on any of `ports`, with their start times: what an allocation whose
 * owner has ended may pass to. Null where /proc cannot tell (no /proc/net/tcp). The costly part,
 * finding which process holds a socket, runs only when something listens on one of the ports.
 */
export function readListenerProcesses(ports: ReadonlySet<number>, hidden?: Array<{ port: number; uid: number }>): ListenerProcess[] | null {
  const all = readListeners();
  if (all === null) return null;
  const on = all.filter((l) => ports.has(l.port));
  if (on.length === 0) return [];
  attachListenerProcesses(on);
  const found: ListenerProcess[] = [];
  for (const l of on) {
    // Another user's socket: its process cannot be seen from here, but it listens.
    if (l.pid === undefined && l.uid !== undefined && l.uid !== process.getuid?.()) hidden?.push({ port: l.port, uid: l.uid });
    if (l.pid === undefined) continue;
    const stat = readProcessStat(l.pid);
    const startTime = stat?.startTime ?? null;
    found.push({
      port: l.port,
      pid: l.pid,
      startTime,
      startedAt: readStartedAt(startTime),
      ...(l.command && { command: l.command }),
      ...(l.uid !== undefined && { uid: l.uid }),
    });
  }
  return found;
}

/** True when something accepts a TCP connection on `port` at `host` within `timeoutMs`. */
function canConnect(port: number, host: string, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = (require('net') as typeof import('net')).connect({ port, host });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/**
 * Waits until `port` accepts a TCP connection on 127.0.0.1 or ::1 (a server may listen on
 * either), polling every 100 ms. Resolves false when `timeoutMs` passes first.
 */
export async function waitForPort(port: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const attempt = Math.max(50, Math.min(1000, deadline - Date.now()));
    const results = await Promise.all([canConnect(port, '127.0.0.1', attempt), canConnect(port, '::1', attempt)]);
    if (results.some(Boolean)) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, Math.min(100, Math.max(0, deadline - Date.now()))));
  }
}
