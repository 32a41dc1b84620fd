import readline = require('readline');
import { StyxyError } from '../errors';
import { planServiceVariables, type PlannedService } from '../core/stack';
import { readProcessStat } from '../os/processes';
import { removeStackRecord, stackLogPath, writeStackRecord, type StackServiceRecord } from '../store/stack-records';
import type { TransactionContext } from '../store/transaction';
import type { AllocateResult } from './allocate';
import { allocateStack, isCreated, loadStack, refuseRunningServices, releaseCreated, serviceDir, serviceMarker, stackPorts, type LoadedStack } from './stack';
import { endServiceTree, isSameProcessAlive, startService, waitUntilListening, type ServiceExit, type StartedService } from '../os/stack-processes';

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
 * `styxy up --detach`: starts each service in its own session with its output in a log under
 * `$STYXY_HOME/logs/`, hands its allocation over to the service's first process, and waits until
 * it listens before starting its dependents. All or nothing: when one exits first, or does not
 * listen in time, every tree started is ended and every port this call allocated released.
 */
export async function runUpDetached(ctx: TransactionContext, input: { waitMs?: number; onNotice?: (notice: UpNotice) => void }): Promise<UpDetachedResult> {
  const stack = loadStack(ctx);
  const allocations = await allocateStack(ctx, stack, { pid: process.pid, via: 'run' });
  await refuseRunningServices(ctx, allocations);
  const ports = stackPorts(allocations);
  const started: { service: PlannedService; child: StartedService; logPath: string }[] = [];
  const services: UpService[] = [];
  const fs = require('fs') as typeof import('fs');
  try {
    for (const service of stack.services) {
      const a = allocations.get(service.name) as AllocateResult;
      if (a.existing) {
        services.push(describeService(service, a, null));
        continue;
      }
      const logPath = stackLogPath(ctx.paths, stack.stackId, service.name);
      const fd = fs.openSync(logPath, 'a', 0o600);
      let child: StartedService;
      try {
        child = startService({
          command: service.command,
          cwd: serviceDir(stack, service),
          env: planServiceVariables(service, ports),
          output: fd,
          marker: serviceMarker(stack, service.name),
        });
      } finally {
        fs.closeSync(fd);
      }
      child.child.unref();
      started.push({ service, child, logPath });
      writeStackRecord(ctx.paths, stack.stackId, {
        version: 1,
        project: stack.projectDir,
        services: started.map((s) => serviceRecord(s.service.name, s.child, allocations.get(s.service.name) as AllocateResult, s.logPath)),
      });
      // The port now belongs to the service's tree: it outlives this call, and ends with the service.
      if (isCreated(a)) {
        const { runAllocate } = await import('./allocate');
        try {
          await runAllocate(ctx, { serviceType: a.serviceType, instanceId: a.instanceId, project: stack.projectDir, owner: { pid: child.pid } });
        } catch (err) {
          // A service that has exited already cannot own its port: said below, as it exited.
          if (isSameProcessAlive(child.pid, child.startTime)) throw err;
        }
      }
      let exited = false;
      const outcome = await Promise.race([
        child.exited.then((exit) => {
          exited = true;
          return { exit };
        }),
        waitUntilListening(a.port, () => exited, input.waitMs ?? DETACHED_WAIT_MS).then((listening) => ({ listening })),
      ]);
      if ('exit' in outcome) {
        throw new StyxyError(
          'SERVER_EXITED',
          `Service '${service.name}' exited with status ${outcome.exit.status} before it listened on port ${a.port}; nothing is left running`,
          {
            details: { service: service.name, status: outcome.exit.status, port: a.port, logPath },
            suggestions: [`See its output: cat ${logPath}`],
          },
        );
      }
      if (!outcome.listening) {
        throw new StyxyError('WAIT_TIMEOUT', `Service '${service.name}' did not listen on port ${a.port} in time; nothing is left running`, {
          details: { service: service.name, port: a.port, logPath },
          suggestions: [`See its output: cat ${logPath}`, 'Give it longer: styxy up --detach --wait SECONDS'],
        });
      }
      const described = describeService(service, a, child.pid, logPath);
      services.push(described);
      input.onNotice?.({ kind: 'started', service: described });
    }
  } catch (err) {
    for (const { child } of [...started].reverse()) await endServiceTree({ pid: child.pid, startTime: child.startTime }, child.watch);
    await releaseCreated(ctx, allocations);
    removeStackRecord(ctx.paths, stack.stackId);
    throw err;
  }
  return { success: true, project: stack.projectDir, services };
}
