import { holdsPort, portsOf } from '../core/allocation';
import { findOwnerHostPid } from '../core/prune';
import type { ComposePublisher } from '../core/compose';
import { findContainerProxy } from '../core/holder';
import type { Allocation } from '../core/types';
import { attachListenerProcesses, probePortFree, readListeners, type Listener } from '../os/ports';
import type { TransactionContext } from '../store/transaction';
import { withLiveState } from './context';
import { withUsers } from './users';

export interface PortReport {
  port: number;
  allocation: Allocation | null;
  listening: boolean;
  listeners: Listener[];
  /** `scan`: the Compose project and service that publish it, when known (recorded by `styxy compose`, or said by the Docker engine). */
  compose?: ComposePublisher;
}

export interface CheckResult extends PortReport {
  success: true;
  available: boolean;
  /** On the host, for an owner recorded in a container: its PID on the host (owner.pid is the container's). */
  ownerHostPid?: number;
}

export interface ScanResult {
  success: true;
  start: number;
  end: number;
  ports: PortReport[];
}

/** The live allocations, pruned under the lock; the slow look at the OS happens after it. */
async function liveAllocations(ctx: TransactionContext): Promise<Allocation[]> {
  const { result } = await withLiveState(ctx, ({ state }) => ({ result: withUsers(ctx, state.allocations) }), { configOptional: true });
  return result;
}

/** `styxy check <port>`: who holds it in Styxy, whether something listens, and which process. */
export async function runCheck(ctx: TransactionContext, port: number): Promise<CheckResult> {
  const { result: found } = await withLiveState(
    ctx,
    ({ state, owners }) => {
      const allocation = state.allocations.find((a) => holdsPort(a, port)) ?? null;
      return { result: { allocation, hostPid: allocation ? findOwnerHostPid(allocation.owner, owners) : undefined } };
    },
    { configOptional: true },
  );
  const { allocation, hostPid } = found;
  const listeners = (readListeners() ?? []).filter((l) => l.port === port);
  attachListenerProcesses(listeners);
  const listening = listeners.length > 0 || !(await probePortFree(port));
  return {
    success: true,
    port,
    allocation,
    listening,
    listeners,
    available: allocation === null && !listening,
    ...(hostPid !== undefined && { ownerHostPid: hostPid }),
  };
}

/** `styxy scan`: every port in a range that is allocated or has a listener. */
export async function runScan(ctx: TransactionContext, start: number, end: number): Promise<ScanResult> {
  const allocations = await liveAllocations(ctx);
  const byPort = new Map<number, PortReport>();
  const entry = (port: number): PortReport => {
    let report = byPort.get(port);
    if (!report) {
      report = { port, allocation: null, listening: false, listeners: [] };
      byPort.set(port, report);
    }
    return report;
  };
  for (const a of allocations) for (const port of portsOf(a)) if (port >= start && port <= end) entry(port).allocation = a;
  const listeners = readListeners();
  if (listeners) {
    const inRange = listeners.filter((l) => l.port >= start && l.port <= end);
    attachListenerProcesses(inRange);
    for (const l of inRange) {
      const report = entry(l.port);
      report.listening = true;
      report.listeners.push(l);
    }
  } else {
    // Without /proc: bind-probe each port, a batch at a time.
    for (let port = start; port <= end; port += 256) {
      const batch = [];
      for (let p = port; p <= Math.min(end, port + 255); p++) batch.push(p);
      const free = await Promise.all(batch.map(probePortFree));
      batch.forEach((p, i) => {
        if (!free[i]) entry(p).listening = true;
      });
    }
  }
  const ports = [...byPort.values()].sort((a, b) => a.port - b.port);
  await attachComposePublishers(ports);
  return { success: true, start, end, ports };
}

/**
 * Names each port's Compose project and service: from the allocation `styxy compose` made, else,
 * for a port a container's proxy listens on, from the Docker engine (asked once, and only then).
 */
async function attachComposePublishers(ports: PortReport[]): Promise<void> {
  const proxied: PortReport[] = [];
  for (const p of ports) {
    if (p.allocation?.compose) p.compose = { ...p.allocation.compose, from: 'styxy' };
    else if (p.listeners.some((l) => findContainerProxy(l.command?.split(' ')))) proxied.push(p);
  }
  if (proxied.length === 0) return;
  const { readComposePublishers } = await import('../os/docker');
  const found = readComposePublishers(proxied.map((p) => p.port));
  for (const p of proxied) {
    const publisher = found?.get(p.port);
    if (publisher) p.compose = publisher;
  }
}
