import { StyxyError } from '../errors';
import { planPortFlag } from '../core/dev-servers';
import { isCreatedByRun, planRun, runMarkerEntry } from '../core/run-plan';
import { readPackageScripts } from '../os/package-scripts';
import { probePortFree, readListenerProcesses, waitForPort } from '../os/ports';
import { readStartTime } from '../os/processes';
import { randomHex } from '../os/random';
import { findMarkedProcesses, ProcessTreeWatch } from '../os/process-tree';
import { endTree, isSameProcess, listeningPorts, startDetached, type DetachedChild, type RunOutcome } from '../os/supervise';
import { closeServerLog, openServerLog, readLogTail } from '../store/server-logs';
import type { TransactionContext } from '../store/transaction';
import type { AllocateResult } from './allocate';
import { awaitStarting, markOwnersElsewhere, probeFoundPorts, releaseQuietly, STARTING_WAIT_MS, type RunInput } from './run';

/** How long a detached start waits, by default, for the server to listen. */
export const READY_TIMEOUT_MS = 60_000;

export interface DetachInput extends Omit<RunInput, 'serviceTypes' | 'onNotice' | 'readyTimeoutMs'> {
  /** How long to wait for the server to listen (READY_TIMEOUT_MS when left out). */
  readyTimeoutMs?: number;
  onNotice?: RunInput['onNotice'];
  /** Where the command runs (a stack's service: its `cwd`); the caller's directory when left out. */
  cwd?: string;
}

/** What `styxy start` (`run --detach`) prints with `--json`, and what the API and the MCP server get. */
export interface DetachResult {
  success: true;
  /** This call started the server. */
  started: boolean;
  /** The service was already running (or starting, and now listens): nothing was started. */
  existing: boolean;
  port: number;
  url: string;
  /** The server's process (the one listening on the port, where it can be told); null when unknown. */
  pid: number | null;
  /** The server's log; null when this call started nothing. */
  logPath: string | null;
  lockId: string;
  serviceType: string;
  instanceId: string;
  /** The type's own names for its port and URL variables (`service_types.<t>.env`), as allocate gives them. */
  envNames?: { port?: string; url?: string };
}

/**
 * `styxy start` / `styxy run --detach`: allocates as `run` does, starts the command in its own
 * session with its output in a log, waits until it listens on its port, hands the allocation to
 * the listening process (PID + start time), and returns while the server keeps running. When the
 * service already runs (or is starting, and then listens), nothing is started.
 *
 * Fails (and leaves nothing allocated, nothing running) when the server ends before it listens
 * (`SERVER_EXITED`, with the log's tail) or does not listen within the timeout (`WAIT_TIMEOUT`;
 * its processes are ended).
 */
export async function runDetached(ctx: TransactionContext, input: DetachInput): Promise<DetachResult> {
  const { runAllocate } = await import('./allocate');
  const timeoutMs = input.readyTimeoutMs ?? READY_TIMEOUT_MS;
  // Found starting (a single instance, or the same sticky name another start is starting): waited for.
  const waitMs = Math.min(timeoutMs, STARTING_WAIT_MS);
  const allocations = await allocateToStart(ctx, input, runAllocate, waitMs);
  const allocation = allocations[0] as AllocateResult;
  input.onNotice?.({ kind: 'allocated', allocations });

  const plan = planRun(markOwnersElsewhere(allocations), await probeFoundPorts(allocations.filter((a) => !isCreatedByRun(a))));
  if (plan.kind === 'running') {
    await releaseQuietly(ctx, allocations, plan.release);
    // Still only starting once the wait is over: nothing of it listens, so it cannot be said to run.
    if (!plan.listening) throw stillStarting(allocation, waitMs);
    return answer(allocation, { started: false, existing: true, pid: plan.pid, logPath: null });
  }

  const server = await startServer(ctx, input, allocations, plan.release);
  const outcome = await waitForServer(allocation.port, server.child, server.marker, timeoutMs);
  if (outcome.kind !== 'listening') return failStart(ctx, input, allocations, plan.release, server, outcome, timeoutMs);
  const pid = outcome.pid ?? server.child.pid;
  if (plan.release.includes(allocation.lockId)) await handOverTo(ctx, runAllocate, allocation, pid);
  server.child.let();
  return answer(allocation, { started: true, existing: false, pid, logPath: server.logPath });
}

/** Allocates as `run` does, with this process as the owner until the server has the port; a service found starting is waited for. */
async function allocateToStart(
  ctx: TransactionContext,
  input: DetachInput,
  runAllocate: typeof import('./allocate').runAllocate,
  waitMs: number,
): Promise<AllocateResult[]> {
  const own = { pid: process.pid, via: 'run' as const };
  const allocateAll = async () => [await runAllocate(ctx, { ...input.request, owner: own, keepFound: true }, input.ask)];
  return awaitStarting(await allocateAll(), allocateAll, waitMs);
}

interface StartedServer {
  child: DetachedChild;
  /** This start's own mark on its processes. */
  marker: string;
  logPath: string;
}

/** Starts the command in a session of its own, its output in the server's log; a log that cannot be opened releases the port. */
async function startServer(ctx: TransactionContext, input: DetachInput, allocations: AllocateResult[], release: string[]): Promise<StartedServer> {
  const allocation = allocations[0] as AllocateResult;
  const port = allocation.port;
  const detected = input.portFlag === undefined ? planPortFlag(input.command, readPackageScripts(ctx.cwd)) : null;
  if (detected) input.onNotice?.({ kind: 'port-flag', plan: detected, port });
  // Two marks: the run's (made from this process, the allocation's owner until the server has
  // it, so that a later call finds the server should this process die while it starts), and one
  // of this start alone, so that starts made at once by one process (the MCP server) never take
  // each other's processes for their own.
  const runMark = runMarkerEntry({ pid: process.pid, startTime: readStartTime(process.pid) ?? null });
  const marker = `${START_MARKER}=${process.pid}.${Date.now()}.${randomHex(4)}`;
  let log: ReturnType<typeof openServerLog>;
  try {
    log = openServerLog(ctx.paths, allocation.serviceType, allocation.instanceId, allocation.project);
  } catch (err) {
    await releaseQuietly(ctx, allocations, release);
    throw err;
  }
  const child = await startDetached({
    command: detected ? [...input.command, ...detected.append] : input.command,
    env: [...input.variables(allocations), splitEntry(runMark)],
    port,
    marker,
    logFd: log.fd,
    ...(input.cwd !== undefined && { cwd: input.cwd }),
    ...(typeof input.portFlag === 'string' && { portFlag: input.portFlag }),
  }).finally(() => closeServerLog(log));
  return { child, marker, logPath: log.path };
}

/** The server ended or never listened: its tree is ended, the port released, and the failure says why. */
async function failStart(
  ctx: TransactionContext,
  input: DetachInput,
  allocations: AllocateResult[],
  release: string[],
  server: StartedServer,
  outcome: Exclude<ServerOutcome, { kind: 'listening' }>,
  timeoutMs: number,
): Promise<never> {
  const allocation = allocations[0] as AllocateResult;
  const port = allocation.port;
  let elsewhere: number[] = [];
  if (outcome.kind === 'timeout') {
    const tree = treeOf(server.marker, server.child);
    // A server that listens, but not on its port, ignored it: say where it went before ending it.
    elsewhere = (listeningPorts(tree.alive()) ?? []).filter((p) => p !== port);
    await endTree(tree);
  }
  // Its tree has ended: a listener on the port now is someone else's, most likely why it failed.
  const startError = outcome.kind === 'exited' && outcome.outcome.startError !== undefined;
  if (!startError && !(await probePortFree(port)))
    input.onNotice?.({ kind: 'port-taken', port, ...(outcome.kind === 'exited' && { status: outcome.outcome.status }) });
  await releaseQuietly(ctx, allocations, release);
  throw failure(outcome, allocation, server.logPath, timeoutMs, elsewhere);
}

type ServerOutcome = { kind: 'listening'; pid: number | undefined } | { kind: 'exited'; outcome: RunOutcome } | { kind: 'timeout' };

/**
 * Until the port accepts a connection, the server's processes have all ended, or the time is up.
 * The command itself may end early and leave its server running (`sh -c 'server &'`): it is the
 * marked tree that must end for the start to have failed.
 */
async function waitForServer(port: number, child: DetachedChild, marker: string, timeoutMs: number): Promise<ServerOutcome> {
  const deadline = Date.now() + timeoutMs;
  let ended: RunOutcome | undefined;
  void child.exited.then((o) => (ended = o));
  for (;;) {
    if (await waitForPort(port, Math.max(0, Math.min(250, deadline - Date.now())))) {
      // Something else may have bound the port meanwhile: only a listener of the tree is the server.
      const server = findServerProcess(port, marker);
      if (server !== null) return { kind: 'listening', pid: server };
    }
    if (ended && (ended.startError || treeOf(marker, child).alive().length === 0)) return { kind: 'exited', outcome: ended };
    if (Date.now() >= deadline) return { kind: 'timeout' };
  }
}

/**
 * The processes of this start: the command, what runs under it, and what carries this start's
 * mark (reparented once their parent ended). Never the other children of this process.
 */
function treeOf(marker: string, command: DetachedChild): ProcessTreeWatch {
  // The command is the root only while its PID is still it (recorded at spawn, not yet exited):
  // else a process that took over the PID, and its children, would be taken for the server's.
  const isRoot = isSameProcess(command.startTime, readStartTime(command.pid), command.hasExited());
  const watch = new ProcessTreeWatch(isRoot ? command.pid : NO_ROOT, marker, command.startTime ?? undefined);
  if (isRoot) watch.include({ pid: command.pid, startTime: command.startTime });
  // Found by their mark whether or not the command still runs (its start time is gone with it).
  for (const p of findMarkedProcesses(marker, 0) ?? []) watch.include(p);
  watch.snapshot();
  return watch;
}

/** A root no process has: the tree is then only what carries the mark (and their children). */
const NO_ROOT = -1;

/** The variable that marks the processes of one detached start. */
const START_MARKER = 'STYXY_START_ID';

function splitEntry(entry: string): [string, string] {
  const eq = entry.indexOf('=');
  return [entry.slice(0, eq), entry.slice(eq + 1)];
}

/**
 * The process of the server's tree that listens on the port; undefined where that cannot be told
 * (no /proc: whatever accepts is taken for the server), null when the listener is not of the tree.
 */
function findServerProcess(port: number, marker: string): number | undefined | null {
  const tree = findMarkedProcesses(marker, 0);
  const listeners = readListenerProcesses(new Set([port]));
  if (!tree || !listeners) return undefined;
  const pids = new Set(tree.map((p) => p.pid));
  return listeners.find((l) => pids.has(l.pid))?.pid ?? null;
}

/** The allocation now belongs to the server: it lives exactly as long as that process, whoever started it. */
async function handOverTo(
  ctx: TransactionContext,
  runAllocate: typeof import('./allocate').runAllocate,
  allocation: AllocateResult,
  pid: number,
): Promise<void> {
  await runAllocate(ctx, { serviceType: allocation.serviceType, instanceId: allocation.instanceId, project: allocation.project, owner: { pid } });
}

/** How many of the log's last lines a failure shows. */
const TAIL_LINES = 10;

function failure(
  outcome: Exclude<ServerOutcome, { kind: 'listening' }>,
  allocation: AllocateResult,
  logPath: string,
  timeoutMs: number,
  elsewhere: readonly number[],
): StyxyError {
  const logTail = readLogTail(logPath);
  const details = { port: allocation.port, lockId: allocation.lockId, logPath, logTail, ...(elsewhere.length > 0 && { listeningOn: elsewhere }) };
  const lines = logTail.replace(/\n$/, '').split('\n').slice(-TAIL_LINES).join('\n');
  const tail = logTail.trim() === '' ? '' : `\nThe end of its log:\n${lines}`;
  const readLog = logTail.trim() === '' ? `Its log is empty: ${logPath}` : `Read its whole log: ${logPath}`;
  if (outcome.kind === 'timeout') {
    const where =
      elsewhere.length > 0
        ? ` (it listened on port ${elsewhere.join(', ')} instead: it ignored PORT; give it its port with --port-flag FLAG or {port} in its arguments)`
        : '';
    return new StyxyError(
      'WAIT_TIMEOUT',
      `The server did not listen on port ${allocation.port} within ${(timeoutMs / 1000).toFixed(1)} s${where}; it was ended and the port released${tail}`,
      {
        details,
        suggestions: [
          readLog,
          'Give it longer: --ready-timeout 120s',
          ...(elsewhere.length === 0 ? ['A server that takes its port from elsewhere: --port-flag FLAG, or {port} in its arguments'] : []),
        ],
      },
    );
  }
  const { status, startError } = outcome.outcome;
  if (startError !== undefined) {
    // Nothing ran, so its log is empty: the command line is what to look at.
    return new StyxyError('SERVER_EXITED', `${startError}; the port was released`, {
      details: { ...details, status },
      suggestions: [status === 127 ? "Check the command's name, or give its full path" : 'Check that the command is a file you may run'],
    });
  }
  return new StyxyError('SERVER_EXITED', `The server ended (status ${status}) before it listened on port ${allocation.port}; the port was released${tail}`, {
    details: { ...details, status },
    suggestions: [readLog],
  });
}

function stillStarting(allocation: AllocateResult, waitMs: number): StyxyError {
  const name = allocation.existingInstanceId ?? allocation.instanceId;
  return new StyxyError(
    'WAIT_TIMEOUT',
    `'${name}' (${allocation.serviceType}) is being started by another styxy, and did not listen on port ${allocation.port} within ${(waitMs / 1000).toFixed(1)} s; started nothing`,
    {
      details: { port: allocation.port, lockId: allocation.lockId },
      suggestions: ['Look again later: styxy list', 'Give it longer: --ready-timeout 120s'],
    },
  );
}

function answer(a: AllocateResult, facts: Pick<DetachResult, 'started' | 'existing' | 'pid' | 'logPath'>): DetachResult {
  return {
    success: true,
    ...facts,
    port: a.port,
    url: a.url,
    lockId: a.lockId,
    serviceType: a.serviceType,
    instanceId: a.existingInstanceId ?? a.instanceId,
    ...(a.envNames && { envNames: a.envNames }),
  };
}
