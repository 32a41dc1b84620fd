import * as fs from 'fs';
import type * as Net from 'net';
import { readCommandLine } from './processes';

/** `net` costs a few ms to load; only bind probes and connection checks need it. */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const net = (): typeof Net => require('net') as typeof Net;

/**
 * True when nothing on this machine holds `port`. Binds with no host, which Node turns into the
 * dual-stack wildcard `::` (falling back to 0.0.0.0 where IPv6 is off) without a DNS lookup; `::`
 * conflicts with a listener on any IPv4 or IPv6 address, so a server on 127.0.0.1 and one on
 * ::1 are both seen (a probe on 127.0.0.1 alone misses the second). Any bind error — EADDRINUSE,
 * EACCES, EPERM — counts as busy.
 */
export function probePortFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = net().createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen({ port, exclusive: true }, () => {
      server.close(() => resolve(true));
    });
  });
}

/**
 * Returns the first port of `candidates` that nothing holds. Where /proc tells, one read of the
 * socket tables answers for every candidate (see readBoundPorts); a port below the unprivileged
 * start, for a user who is not root, and every port where /proc does not tell, is bind-probed.
 */
export async function findFirstFreePort(candidates: readonly number[], skip?: (port: number) => boolean): Promise<number | undefined> {
  const bound = readBoundPorts();
  const privilegedBelow = bound ? readUnprivilegedPortStart() : 0;
  for (const port of candidates) {
    if (skip?.(port)) continue;
    if (bound && port >= privilegedBelow) {
      if (!bound.has(port)) return port;
    } else if (await probePortFree(port)) return port;
  }
  return undefined;
}

/** The lowest port a user who is not root may bind (0 for root). */
function readUnprivilegedPortStart(): number {
  if (typeof process.getuid === 'function' && process.getuid() === 0) return 0;
  try {
    const value = Number(fs.readFileSync('/proc/sys/net/ipv4/ip_unprivileged_port_start', 'utf8'));
    return Number.isInteger(value) ? value : 1024;
  } catch {
    return 1024;
  }
}

/** One row of /proc/net/tcp or tcp6. */
interface TcpSocket {
  port: number;
  hexAddress: string;
  v6: boolean;
  /** The kernel's TCP state, in hex: 0A is LISTEN, 06 TIME_WAIT, 07 CLOSE (bound, not listening). */
  state: string;
  inode: string;
}

/** Every TCP socket of this network namespace, IPv4 and IPv6; null where /proc does not tell. */
function readTcpSockets(): TcpSocket[] | null {
  const sockets: TcpSocket[] = [];
  let readAny = false;
  for (const [file, v6] of [['/proc/net/tcp', false], ['/proc/net/tcp6', true]] as const) {
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    readAny = true;
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 10) continue;
      const [hexAddress, hexPort] = (cols[1] ?? '').split(':');
      sockets.push({ port: parseInt(hexPort ?? '0', 16), hexAddress: hexAddress ?? '', v6, state: cols[3] ?? '', inode: cols[9] ?? '0' });
    }
  }
  return readAny ? sockets : null;
}

/**
 * Every local port that a bind would find taken, from the socket tables: listeners, sockets bound
 * but not listening, and open connections. TIME_WAIT leftovers are not counted: servers bind with
 * SO_REUSEADDR (Node, Python and Go all do), which lets them reuse such a port at once. This
 * answers as a bind probe does, or more cautiously, without opening a socket per candidate.
 */
export function readBoundPorts(): Set<number> | null {
  const sockets = readTcpSockets();
  if (!sockets) return null;
  return new Set(sockets.filter((s) => s.state !== '06').map((s) => s.port));
}

/** A listening TCP socket as /proc/net/tcp{,6} reports it. */
export interface Listener {
  port: number;
  address: string;
  inode: string;
  pid?: number;
  command?: string;
}

/**
 * Every listening TCP socket on this machine's network namespace, from /proc/net/tcp and tcp6;
 * null where /proc is not available.
 */
export function readListeners(): Listener[] | null {
  const sockets = readTcpSockets();
  if (!sockets) return null;
  return sockets.filter((s) => s.state === '0A').map((s) => ({ port: s.port, address: decodeAddress(s.hexAddress, s.v6), inode: s.inode }));
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
  return process.platform === 'linux' ? null : [49152, 65535];
}

function decodeAddress(hex: string, v6: boolean): string {
  if (!v6) {
    const bytes = hex.match(/../g)?.map((b) => parseInt(b, 16)).reverse() ?? [];
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

/** True when something accepts a TCP connection on `port` at `host` within `timeoutMs`. */
function canConnect(port: number, host: string, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net().connect({ port, host });
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
