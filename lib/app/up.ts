import readline = require('readline');
import { StyxyError } from '../errors';
import { planServiceVariables, type PlannedService } from '../core/stack';
import { readProcessStat, readStartTime } from '../os/processes';
import { removeStackRecord, writeStackRecord, type StackServiceRecord } from '../store/stack-records';
import type { TransactionContext } from '../store/transaction';
import type { AllocateResult } from './allocate';
import type { DetachResult } from './detach';
import {
  allocateStack,
  endRecordedService,
  loadStack,
  refuseRunningServices,
  releaseCreated,
  serviceDir,
  serviceMarker,
  stackPorts,
  type LoadedStack,
} from './stack';
import { endServiceTree, STACK_MARKER, startService, waitUntilListening, type ServiceExit, type StartedService } from '../os/stack-processes';

/** The signals that end a foreground stack. */
const ENDING_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/** One service's port, as `up` reports it. */
export interface UpService {
  name: string;
  type: string;
  port: number;
  url: string;
  lockId: string;
  /** The service's first process; null when it was not started (a single instance already running). */
  pid: number | null;
  /** `up --detach`: where its output goes. */
  logPath?: string;
}

export type UpNotice =
  | { kind: 'allocated'; services: UpService[] }
  | { kind: 'started'; service: UpService }
  /** A single-instance service already runs elsewhere: not started a second time. */
  | { kind: 'existing'; service: UpService }
  | { kind: 'waiting'; service: string; dependsOn: string[] }
  | { kind: 'exited'; service: string; exit: ServiceExit }
  | { kind: 'stopping'; reason: 'signal'; signal: NodeJS.Signals }
  | { kind: 'stopping'; reason: 'exited'; service: string };

export interface UpInput {
  /** Each line a service writes, without its line break. */
  onLine: (service: string, stream: 'stdout' | 'stderr', line: string) => void;
  onNotice: (notice: UpNotice) => void;
}

export interface UpOutcome {
  /** The first service that ended, or the signal that ended the stack. */
  endedBy: { service: string; exit: ServiceExit } | { signal: NodeJS.Signals };
  /** `up`'s exit status: the ended service's, or 128 + the signal's number. */
  status: number;
  released: string[];
}

function describeService(service: PlannedService, a: AllocateResult, pid: number | null, logPath?: string): UpService {
  return {
    name: service.name,
    type: a.serviceType,
    port: a.port,
    url: a.url,
    lockId: a.lockId,
    pid,
    ...(logPath !== undefined && { logPath }),
  };
}

/**
 * `styxy up`: the stack in the foreground. Allocates every port in one batch (this process owns
 * them), starts each service once those it depends on listen, hands each line of their output on,
 * and when one service ends, or a signal comes, ends every tree (dependents first) and releases
 * what it allocated. A single-instance service that already runs elsewhere is not started again.
 */
export async function runUp(ctx: TransactionContext, input: UpInput): Promise<UpOutcome> {
  const stack = loadStack(ctx);
  const allocations = await allocateStack(ctx, stack, { pid: process.pid, via: 'run' });
  await refuseRunningServices(ctx, allocations);
  const allocation = (name: string) => allocations.get(name) as AllocateResult;
  input.onNotice({ kind: 'allocated', services: stack.services.map((s) => describeService(s, allocation(s.name), null)) });

  let ending: UpOutcome['endedBy'] | undefined;
  let wake: () => void = () => undefined;
  const ended = new Promise<void>((resolve) => (wake = resolve));
  const end = (why: UpOutcome['endedBy']): void => {
    if (ending) return;
    ending = why;
    wake();
  };
  const onSignal = (signal: NodeJS.Signals) => () => end({ signal });
  const handlers = ENDING_SIGNALS.map((signal) => [signal, onSignal(signal)] as const);
  for (const [signal, handler] of handlers) process.on(signal, handler);

  const started = new Map<string, StartedService>();
  const ready = new Map<string, Promise<boolean>>();
  const ports = stackPorts(allocations);
  const pending: Promise<void>[] = [];
  let released: string[] | undefined;
  try {
    writeStackRecord(ctx.paths, stack.stackId, {
      version: 1,
      project: stack.projectDir,
      supervisor: { pid: process.pid, startTime: readProcessStat(process.pid)?.startTime ?? null },
      services: [],
    });
    for (const service of stack.services) {
      const a = allocation(service.name);
      const startOne = async (): Promise<boolean> => {
        const deps = service.dependsOn.map((d) => ready.get(d) as Promise<boolean>);
        if (deps.length > 0) {
          input.onNotice({ kind: 'waiting', service: service.name, dependsOn: service.dependsOn });
          if (!(await Promise.all(deps)).every(Boolean)) return false;
        }
        if (ending) return false;
        if (a.existing) {
          input.onNotice({ kind: 'existing', service: describeService(service, a, null) });
          return waitUntilListening(a.port, () => ending !== undefined);
        }
        const child = startService({
          command: service.command,
          cwd: serviceDir(stack, service),
          env: planServiceVariables(service, ports),
          output: 'pipe',
          marker: serviceMarker(stack, service.name),
        });
        started.set(service.name, child);
        recordStarted(ctx, stack, started, allocations);
        forwardLines(child, service.name, input.onLine);
        input.onNotice({ kind: 'started', service: describeService(service, a, child.pid) });
        pending.push(
          child.exited.then((exit) => {
            input.onNotice({ kind: 'exited', service: service.name, exit });
            end({ service: service.name, exit });
          }),
        );
        return waitUntilListening(a.port, () => ending !== undefined);
      };
      ready.set(service.name, startOne());
    }
    await ended;
    const why = ending as UpOutcome['endedBy'];
    input.onNotice('signal' in why ? { kind: 'stopping', reason: 'signal', signal: why.signal } : { kind: 'stopping', reason: 'exited', service: why.service });
    // Let every start under way settle, so that no service starts after the trees were ended.
    await Promise.all(ready.values());
    for (const service of [...stack.services].reverse()) {
      const child = started.get(service.name);
      if (child) await endServiceTree({ pid: child.pid, startTime: child.startTime }, child.watch);
    }
  } finally {
    released = await releaseCreated(ctx, allocations);
    removeStackRecord(ctx.paths, stack.stackId);
    // Signals stay caught until here: a second Ctrl-C must not cut the clean-up short.
    for (const [signal, handler] of handlers) process.off(signal, handler);
  }
  const why = ending as UpOutcome['endedBy'];
  const os = require('os') as typeof import('os');
  const status = 'signal' in why ? 128 + (os.constants.signals[why.signal] ?? 0) : why.exit.status;
  return { endedBy: why, status, released: released ?? [] };
}

/** Keeps the stack's record up to date with the services started so far (for `status`). */
function recordStarted(
  ctx: TransactionContext,
  stack: LoadedStack,
  started: ReadonlyMap<string, StartedService>,
  allocations: ReadonlyMap<string, AllocateResult>,
): void {
  try {
    writeStackRecord(ctx.paths, stack.stackId, {
      version: 1,
      project: stack.projectDir,
      supervisor: { pid: process.pid, startTime: readProcessStat(process.pid)?.startTime ?? null },
      services: [...started].map(([name, child]) => serviceRecord(name, child, allocations.get(name) as AllocateResult)),
    });
  } catch (err) {
    ctx.warn(`styxy: could not record the stack for status and down: ${(err as Error).message}`);
  }
}

function serviceRecord(name: string, child: Pick<StartedService, 'pid' | 'startTime'>, a: AllocateResult, logPath?: string): StackServiceRecord {
  return { name, pid: child.pid, startTime: child.startTime, port: a.port, lockId: a.lockId, ...(logPath !== undefined && { logPath }) };
}

function forwardLines(child: StartedService, name: string, onLine: UpInput['onLine']): void {
  for (const stream of ['stdout', 'stderr'] as const) {
    const source = child.child[stream];
    if (!source) continue;
    readline.createInterface({ input: source, crlfDelay: Infinity }).on('line', (line) => onLine(name, stream, line));
  }
}

export interface UpDetachedResult {
  success: true;
  project: string;
  services: UpService[];
}

/** How long `up --detach` waits for each service to listen, unless told otherwise. */
export const DETACHED_WAIT_MS = 60_000;

/**
 * `styxy up --detach`: starts each service as `styxy start` does (`runDetached`: its own session,
 * its output in a log under `$STYXY_HOME/logs/`, the port handed to the process of its tree that
 * listens), in order, each once those it depends on listen. All or nothing: when one ends before
 * it listens, or does not listen in time, every tree started is ended and every port this call
 * allocated released, and the error names the service.
 */
export async function runUpDetached(ctx: TransactionContext, input: { waitMs?: number; onNotice?: (notice: UpNotice) => void }): Promise<UpDetachedResult> {
  const stack = loadStack(ctx);
  // Owned by this call until each server has its port: not as a `run`, whose port counts as
  // starting and which the detached start would wait for as another's.
  const allocations = await allocateStack(ctx, stack, { pid: process.pid });
  await refuseRunningServices(ctx, allocations);
  const started: StackServiceRecord[] = [];
  const services: UpService[] = [];
  try {
    for (const service of stack.services) {
      const a = allocations.get(service.name) as AllocateResult;
      if (a.existing) {
        services.push(describeService(service, a, null));
        continue;
      }
      const record = await startDetachedService(ctx, stack, service, allocations, input.waitMs ?? DETACHED_WAIT_MS);
      started.push(record);
      writeStackRecord(ctx.paths, stack.stackId, { version: 1, project: stack.projectDir, services: started });
      const described = describeService(service, a, record.pid, record.logPath);
      services.push(described);
      input.onNotice?.({ kind: 'started', service: described });
    }
  } catch (err) {
    for (const record of [...started].reverse()) await endRecordedService(ctx, stack, record);
    await releaseCreated(ctx, allocations);
    removeStackRecord(ctx.paths, stack.stackId);
    throw err;
  }
  return { success: true, project: stack.projectDir, services };
}

/** Starts one service detached, waits until it listens, and hands its port to its listening process. */
async function startDetachedService(
  ctx: TransactionContext,
  stack: LoadedStack,
  service: PlannedService,
  allocations: ReadonlyMap<string, AllocateResult>,
  waitMs: number,
): Promise<StackServiceRecord> {
  const a = allocations.get(service.name) as AllocateResult;
  const { runDetached } = await import('./detach');
  const ports = stackPorts(allocations);
  const marker: [string, string] = [STACK_MARKER, serviceMarker(stack, service.name)];
  let result: DetachResult;
  try {
    result = await runDetached(ctx, {
      request: { serviceType: a.serviceType, instanceId: service.name, project: stack.projectDir },
      command: ['/bin/sh', '-c', service.command],
      cwd: serviceDir(stack, service),
      // The stack's mark beside the start's own: `down` finds the service's processes by it.
      variables: () => [...planServiceVariables(service, ports), marker],
      portFlag: false,
      readyTimeoutMs: waitMs,
    });
  } catch (err) {
    throw serviceFailed(err, service.name);
  }
  if (!result.started || result.pid === null) {
    // Something that is not this stack's listens on the port the service was given.
    throw new StyxyError(
      'STACK_RUNNING',
      `Service '${service.name}' of this stack is running already: something listens on port ${a.port}; nothing was started`,
      {
        details: { services: [{ name: service.name, port: a.port, lockId: a.lockId, pid: result.pid }] },
        suggestions: [`See who: styxy why ${a.port}`, 'Stop it first: styxy down'],
      },
    );
  }
  // The port now belongs to the server: it outlives this call, and ends with the service.
  const { runAllocate } = await import('./allocate');
  await runAllocate(ctx, { serviceType: a.serviceType, instanceId: service.name, project: stack.projectDir, owner: { pid: result.pid } });
  return {
    name: service.name,
    pid: result.pid,
    startTime: readStartTime(result.pid) ?? null,
    port: a.port,
    lockId: a.lockId,
    logPath: result.logPath as string,
  };
}

/** A detached start's failure, said of the service of the stack that failed. */
function serviceFailed(err: unknown, name: string): unknown {
  if (!(err instanceof StyxyError) || err.code === 'INTERNAL') return err;
  return new StyxyError(err.code, `Service '${name}': ${err.message}; every service of the stack was ended and its port released`, {
    details: { ...err.details, service: name },
    suggestions: err.suggestions,
    cause: err,
  });
}
