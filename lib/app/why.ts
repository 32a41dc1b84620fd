import path = require('path');
import { StyxyError } from '../errors';
import { urlFor } from '../core/url';
import { classifyHolder, findContainerProxy, type Holder, type SeenListener, type SeenProcess } from '../core/holder';
import type { ComposePublisher } from '../core/compose';
import { parsePort } from '../core/names';
import { findOwnerHostPid } from '../core/prune';
import type { Allocation } from '../core/types';
import { passwdName } from '../os/identity';
import { attachListenerProcesses, probePortFree, readListeners } from '../os/ports';
import { readAncestors, readPidNamespace, readProcessInfo } from '../os/process-info';
import type { TransactionContext } from '../store/transaction';
import { withLiveState } from './context';

/** `styxy why`'s answer (its `--json`): who holds the port, in one line, with a stable `kind`. */
export interface WhyResult extends Holder {
  success: true;
  port: number;
  /** The Compose project and service that publish the port, when it is known (see findComposePublisher). */
  compose?: ComposePublisher;
}

/**
 * `styxy why <port>` (API `whoHolds`): what holds `port` — a Styxy allocation (with its owner and,
 * for a `run`, the server it started), a process outside Styxy, a container's port proxy, another
 * user's process, something this caller cannot see, or nothing (then whether the port is cooling
 * down or a sticky service's home) — and what to do about it. Every kind is a result
 * (`success: true`), each with its own exit status (WHY_EXIT_STATUS); a bad port is
 * INVALID_ARGUMENT. Prunes ended owners like every call; changes nothing else.
 */
export async function runWhy(ctx: TransactionContext, port: number): Promise<WhyResult> {
  if (parsePort(port) === null) throw new StyxyError('INVALID_ARGUMENT', `port must be a number from 1 to 65535, got ${JSON.stringify(port)}`);
  const { result: view } = await withLiveState(
    ctx,
    ({ state, config, owners }) => {
      const allocation = state.allocations.find((a) => a.port === port) ?? null;
      const ownerHostPid = allocation ? findOwnerHostPid(allocation.owner, owners) : undefined;
      // Written as allocate and `styxy url` write it: named by the instance id given, else the type.
      const url = allocation
        ? urlFor(port, {
            style: config.config.urls.host_style,
            name: allocation.sticky ? allocation.instanceId : allocation.serviceType,
            project: path.basename(allocation.project),
          })
        : urlFor(port);
      return { result: { allocation, ownerHostPid, recentlyFreed: state.recentlyFreed ?? [], reuse: config.config.port_reuse, url } };
    },
    { configOptional: true },
  );
  const listeners = readPortListeners(port);
  // Where the OS lists every socket (/proc/net/tcp shows every user's), that list is the truth: a
  // bind probe would also fail on a port below 1024 that nothing holds. Without it, the probe tells.
  const bindRefused = listeners.length === 0 && !canListSockets() && !(await probePortFree(port));
  const uid = typeof process.getuid === 'function' ? process.getuid() : undefined;
  const callerPidNs = readPidNamespace('self');
  const ownerProcess = view.allocation ? readOwnerProcess(view.allocation) : undefined;
  const serverPid = listeners.find((l) => l.process)?.process?.pid;
  const serverAncestors = view.allocation && serverPid !== undefined ? readAncestors(serverPid) : undefined;
  const holder = classifyHolder({
    port,
    now: ctx.now(),
    allocation: view.allocation,
    ...(ownerProcess && { ownerProcess }),
    ...(view.ownerHostPid !== undefined && { ownerHostPid: view.ownerHostPid }),
    ...(serverAncestors && { serverAncestors }),
    listeners,
    bindRefused,
    ...(uid !== undefined && { callerUid: uid }),
    ...(callerPidNs && { callerPidNs }),
    recentlyFreed: view.recentlyFreed,
    reuse: view.reuse,
    url: view.url,
  });
  const compose = await findComposePublisher(port, view.allocation, holder);
  if (!compose) return { success: true, port, ...holder };
  // An allocation already says it (describeAllocation); the engine's answer is news.
  const said = compose.from === 'docker' ? ` Compose project ${compose.project}, service ${compose.service} (container ${compose.container}).` : '';
  return { success: true, port, ...holder, summary: holder.summary + said, compose };
}

/**
 * The Compose project and service behind a port: recorded on the allocation `styxy compose`
 * made; else, where a container's port proxy listens, asked of the Docker engine (when one answers).
 */
async function findComposePublisher(port: number, allocation: Allocation | null, holder: Holder): Promise<ComposePublisher | undefined> {
  if (allocation?.compose) return { ...allocation.compose, from: 'styxy' };
  if (!holder.container && !findContainerProxy(holder.server?.argv)) return undefined;
  const { readComposePublishers } = await import('../os/docker');
  return readComposePublishers([port])?.get(port);
}

function canListSockets(): boolean {
  return readListeners() !== null;
}

/** The sockets listening on `port`, with the process behind each as far as this caller may see it. */
export function readPortListeners(port: number): SeenListener[] {
  return readListenersOn(new Set([port])).get(port) ?? [];
}

/** The same for several ports at once: one read of /proc/net/tcp{,6}, one walk of /proc/*\/fd. */
export function readListenersOn(ports: ReadonlySet<number>): Map<number, SeenListener[]> {
  const listeners = (readListeners() ?? []).filter((l) => ports.has(l.port));
  const byPort = new Map<number, SeenListener[]>();
  if (listeners.length === 0) return byPort;
  attachListenerProcesses(listeners);
  const seen = new Map<number, SeenProcess | null>();
  for (const l of listeners) {
    let proc: SeenProcess | null | undefined;
    if (l.pid !== undefined) {
      proc = seen.get(l.pid);
      if (proc === undefined) seen.set(l.pid, (proc = readProcessInfo(l.pid)));
    }
    const list = byPort.get(l.port) ?? [];
    const user = l.uid !== undefined ? (proc?.uid === l.uid ? proc.user : passwdName(l.uid)) : undefined;
    list.push({ address: l.address, ...(l.uid !== undefined && { uid: l.uid }), ...(user && { user }), ...(proc && { process: proc }) });
    byPort.set(l.port, list);
  }
  return byPort;
}

/** The allocation's owner read now, while it is still the same process (PID and start time). */
export function readOwnerProcess(a: Allocation): SeenProcess | undefined {
  if (a.owner.kind !== 'process' || a.owner.reservedUntil || !isOwnerInOurPidNamespace(a)) return undefined;
  const info = readProcessInfo(a.owner.pid);
  if (!info || (a.owner.startTime !== null && info.startTime !== a.owner.startTime)) return undefined;
  return info;
}

/**
 * An owner recorded with its PID namespace is acted on only from that namespace: there its PID
 * means another process (the host knows it by another number). One recorded without it is ours.
 */
export function isOwnerInOurPidNamespace(a: Allocation): boolean {
  return a.owner.kind !== 'process' || a.owner.pidNs === undefined || a.owner.pidNs === readPidNamespace('self');
}
