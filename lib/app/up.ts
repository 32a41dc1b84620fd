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
  isCreated,
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
  await refuseRunningServices(ctx, stack, allocations);
  input.onNotice({ kind: 'allocated', services: stack.services.map((s) => describeService(s, allocations.get(s.name) as AllocateResult, null)) });
  const run: ForegroundRun = { ctx, stack, allocations, input, started: new Map(), ready: new Map(), ending: endingLatch() };
  const stopCatching = catchEndingSignals(run.ending.end);
  let released: string[] | undefined;
  try {
    writeStackRecord(ctx.paths, stack.stackId, { version: 1, project: stack.projectDir, supervisor: thisProcess(), services: [] });
    for (const service of stack.services) run.ready.set(service.name, startWhenReady(run, service));
    await run.ending.ended;
    const why = run.ending.why() as UpOutcome['endedBy'];
    input.onNotice('signal' in why ? { kind: 'stopping', reason: 'signal', signal: why.signal } : { kind: 'stopping', reason: 'exited', service: why.service });
    // Let every start under way settle, so that no service starts after the trees were ended.
    await Promise.all(run.ready.values());
    for (const service of [...stack.services].reverse()) {
      const child = run.started.get(service.name);
      if (child) await endServiceTree({ pid: child.pid, startTime: child.startTime }, child.watch);
    }
  } finally {
    released = await releaseCreated(ctx, allocations);
    removeStackRecord(ctx.paths, stack.stackId);
    // Signals stay caught until here: a second Ctrl-C must not cut the clean-up short.
    stopCatching();
  }
  const why = run.ending.why() as UpOutcome['endedBy'];
  const os = require('os') as typeof import('os');
  const status = 'signal' in why ? 128 + (os.constants.signals[why.signal] ?? 0) : why.exit.status;
  return { endedBy: why, status, released: released ?? [] };
}

/** What a foreground `up` keeps while its stack runs. */
interface ForegroundRun {
  ctx: TransactionContext;
  stack: LoadedStack;
  allocations: ReadonlyMap<string, AllocateResult>;
  input: UpInput;
  started: Map<string, StartedService>;
  /** Per service: resolves true once it listens, false when it will not (the stack is ending). */
  ready: Map<string, Promise<boolean>>;
  ending: EndingLatch;
}

/** Set once, by the first service that ends or the first signal: the stack then ends. */
interface EndingLatch {
  ended: Promise<void>;
  end: (why: UpOutcome['endedBy']) => void;
  why: () => UpOutcome['endedBy'] | undefined;
}

function endingLatch(): EndingLatch {
  let why: UpOutcome['endedBy'] | undefined;
  let wake: () => void = () => undefined;
  const ended = new Promise<void>((resolve) => (wake = resolve));
  const end = (reason: UpOutcome['endedBy']): void => {
    if (why) return;
    why = reason;
    wake();
  };
  return { ended, end, why: () => why };
}

/** Catches the signals that end a foreground stack; returns what lets them go. */
function catchEndingSignals(end: EndingLatch['end']): () => void {
  const handlers = ENDING_SIGNALS.map((signal) => [signal, () => end({ signal })] as const);
  for (const [signal, handler] of handlers) process.on(signal, handler);
  return () => {
    for (const [signal, handler] of handlers) process.off(signal, handler);
  };
}

function thisProcess(): { pid: number; startTime: string | null } {
  return { pid: process.pid, startTime: readProcessStat(process.pid)?.startTime ?? null };
}

/**
 * Starts one service once every service it depends on listens (a single instance running
 * elsewhere is waited for, not started), passes its lines on, and ends the stack when it exits.
 * True once it listens; false when the stack ends first.
 */
async function startWhenReady(run: ForegroundRun, service: PlannedService): Promise<boolean> {
  const { ctx, stack, allocations, input, ending } = run;
  const a = allocations.get(service.name) as AllocateResult;
  const deps = service.dependsOn.map((d) => run.ready.get(d) as Promise<boolean>);
  if (deps.length > 0) {
    input.onNotice({ kind: 'waiting', service: service.name, dependsOn: service.dependsOn });
    if (!(await Promise.all(deps)).every(Boolean)) return false;
  }
  if (ending.why()) return false;
  if (a.existing) {
    input.onNotice({ kind: 'existing', service: describeService(service, a, null) });
    return waitUntilListening(a.port, () => ending.why() !== undefined);
  }
  const child = startService({
    command: service.command,
    cwd: serviceDir(stack, service),
    env: planServiceVariables(service, stackPorts(allocations)),
    output: 'pipe',
    marker: serviceMarker(stack, service.name),
  });
  run.started.set(service.name, child);
  recordStarted(ctx, stack, run.started, allocations);
  forwardLines(child, service.name, input.onLine);
  input.onNotice({ kind: 'started', service: describeService(service, a, child.pid) });
  void child.exited.then((exit) => {
    input.onNotice({ kind: 'exited', service: service.name, exit });
    ending.end({ service: service.name, exit });
  });
  return waitUntilListening(a.port, () => ending.why() !== undefined);
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
      supervisor: thisProcess(),
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
  await refuseRunningServices(ctx, stack, allocations);
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
        // Not the stack's: `down` would stop nothing.
        suggestions: [`See who: styxy why ${a.port}`, "It is not this stack's: end it its own way, then styxy up again"],
      },
    );
  }
  // The port this call allocated now belongs to the server: it outlives this call, and ends with
  // the service. One that was there before (persistent, a lease) stays as its owner made it.
  const kept = !isCreated(a);
  if (!kept) {
    const { runAllocate } = await import('./allocate');
    await runAllocate(ctx, { serviceType: a.serviceType, instanceId: service.name, project: stack.projectDir, owner: { pid: result.pid } });
  }
  return {
    name: service.name,
    pid: result.pid,
    startTime: readStartTime(result.pid) ?? null,
    port: a.port,
    lockId: a.lockId,
    logPath: result.logPath as string,
    ...(kept && { kept: true as const }),
  };
}

/** A detached start's failure, said of the service of the stack that failed. */
function serviceFailed(err: unknown, name: string): unknown {
  if (!(err instanceof StyxyError) || err.code === 'INTERNAL') return err;
  // Said before the log's tail, which follows the first line.
  const [first, ...tail] = err.message.split('\n');
  const message = [`Service '${name}': ${inStackTerms(first as string)}; every service of the stack was ended and its port released`, ...tail].join('\n');
  return new StyxyError(err.code, message, {
    details: { ...err.details, service: name },
    suggestions: err.suggestions.map(inStackTerms),
    cause: err,
  });
}

/**
 * The detached start's advice, in `up`'s terms: `up` has `--wait` where `start` has
 * `--ready-timeout`, and a service's port goes into its command line as `$PORT`, where `start`
 * takes `--port-flag` or `{port}`.
 */
function inStackTerms(text: string): string {
  return text
    .replace('Give it longer: --ready-timeout 120s', 'Give it longer: styxy up --detach --wait 120')
    .replace('give it its port with --port-flag FLAG or {port} in its arguments', 'give it its port with $PORT in its command in .styxy.json')
    .replace(
      'A server that takes its port from elsewhere: --port-flag FLAG, or {port} in its arguments',
      'A server that takes its port from elsewhere: $PORT in its command in .styxy.json',
    );
}
