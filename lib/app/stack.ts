import fs = require('fs');
import path = require('path');
import { StyxyError } from '../errors';
import { isCallersOwn } from '../core/outcome';
import { planStack, type PlannedService, type StackPort } from '../core/stack';
import { urlFor, type HostStyle } from '../core/url';
import type { ConfigProblem } from '../core/config-rules';
import { probePortFree } from '../os/ports';
import { invalidConfig, loadConfig, PROJECT_CONFIG_NAME } from '../store/config-files';
import { readStackRecord, removeStackRecord, type StackRecord, type StackServiceRecord } from '../store/stack-records';
import type { TransactionContext } from '../store/transaction';
import type { AllocateResult } from './allocate';
import type { OwnerOptions } from './owner';
import { endServiceTree, isSameProcessAlive, STACK_MARKER } from '../os/stack-processes';

/** A project's stack, read from its `.styxy.json`. */
export interface LoadedStack {
  /** The directory of `.styxy.json`: the project every port of the stack belongs to. */
  projectDir: string;
  projectFile: string;
  /** Names the stack in `$STYXY_HOME` (its record, its logs): a hash of `projectDir`. */
  stackId: string;
  /** In the order they start. */
  services: PlannedService[];
  /** How the URLs are written (the config's `urls.host_style`). */
  hostStyle: HostStyle;
}

/**
 * The stack of the project around the working directory: the nearest `.styxy.json` with
 * `services`. Every `cwd` is checked against the disk too: a symbolic link inside the project
 * that leads outside it is refused like `..` is.
 */
export function loadStack(ctx: TransactionContext): LoadedStack {
  const loaded = loadConfig(ctx.paths, ctx.cwd);
  const services = loaded.projectLayer?.services;
  if (!loaded.projectFile || !services || Object.keys(services).length === 0) {
    throw new StyxyError('NOT_FOUND', `No stack here: no ${PROJECT_CONFIG_NAME} with "services" in ${ctx.cwd} or above it`, {
      suggestions: [`Describe one in ${PROJECT_CONFIG_NAME}: {"services": {"web": {"type": "dev", "command": "npm run dev"}}} (see docs/stacks.md)`],
    });
  }
  const projectFile = loaded.projectFile;
  const projectDir = path.dirname(projectFile);
  const planned = planStack(services);
  const problems = planned.flatMap((s) => findCwdProblems(projectFile, projectDir, s));
  if (problems.length > 0) throw invalidConfig(problems);
  const { createHash } = require('crypto') as typeof import('crypto');
  const stackId = createHash('sha256').update(projectDir).digest('hex').slice(0, 12);
  return { projectDir, projectFile, stackId, services: planned, hostStyle: loaded.config.urls.host_style };
}

function findCwdProblems(file: string, projectDir: string, service: PlannedService): ConfigProblem[] {
  const problem = (message: string): ConfigProblem[] => [{ file, path: `/services/${service.name}/cwd`, message }];
  if (service.cwd === '') return [];
  let real: string;
  try {
    real = fs.realpathSync(path.join(projectDir, service.cwd));
  } catch {
    return problem(`${JSON.stringify(service.cwd)} does not exist in ${projectDir}`);
  }
  const root = fs.realpathSync(projectDir);
  if (real !== root && !real.startsWith(root + path.sep)) return problem(`${JSON.stringify(service.cwd)} leads outside the project (to ${real})`);
  if (!fs.statSync(real).isDirectory()) return problem(`${JSON.stringify(service.cwd)} is not a directory`);
  return [];
}

/** The absolute directory a service runs in. */
export function serviceDir(stack: LoadedStack, service: PlannedService): string {
  return path.join(stack.projectDir, service.cwd);
}

/** The marker every process of one service of one stack carries (see STACK_MARKER). */
export function serviceMarker(stack: LoadedStack, service: string): string {
  return `${stack.stackId}.${service}`;
}

/**
 * Allocates every service's port in one batch, all or nothing: the service's name is the sticky
 * instance id, the stack's directory the project, so that each worktree's stack keeps its own.
 */
export async function allocateStack(ctx: TransactionContext, stack: LoadedStack, owner: OwnerOptions): Promise<Map<string, AllocateResult>> {
  const { runAllocateBatch } = await import('./allocate');
  const batch = await runAllocateBatch(ctx, {
    serviceTypes: stack.services.map((s) => s.type),
    instanceIds: stack.services.map((s) => s.name),
    project: stack.projectDir,
    owner,
    keepFound: true,
  });
  return new Map(stack.services.map((s, i) => [s.name, batch.allocations[i] as AllocateResult]));
}

/** The ports as the variables tell them. */
export function stackPorts(allocations: ReadonlyMap<string, AllocateResult>): StackPort[] {
  return [...allocations].map(([name, a]) => ({ ...a, name }));
}

/**
 * True when the allocation is this call's to hand on and release: made by it, or taken over from
 * a reservation whose owner had ended (an agent's shell that asked and went), as `run` decides.
 */
export function isCreated(a: AllocateResult): boolean {
  return isCallersOwn(a.outcome);
}

/**
 * A service whose sticky port another live process holds is running already (another `up`, or
 * a server started by hand): the stack is not started twice. What this call made is released.
 */
export async function refuseRunningServices(ctx: TransactionContext, stack: LoadedStack, allocations: ReadonlyMap<string, AllocateResult>): Promise<void> {
  const held = [...allocations].filter(([, a]) => a.reused && a.owner.kind === 'process' && a.owner.reservedUntil === undefined && a.owner.pid !== process.pid);
  if (held.length === 0) return;
  await releaseCreated(ctx, allocations);
  const [name, a] = held[0] as [string, AllocateResult];
  const pid = a.owner.kind === 'process' ? a.owner.pid : null;
  // `status` and `down` see only what an `up` recorded: for a holder that is not the stack's (a
  // shell's `allocate`, a server started by hand), they would show and stop nothing.
  const record = readStackRecord(ctx.paths, stack.stackId);
  const ofStack = pid !== null && record !== null && (record.supervisor?.pid === pid || record.services.some((s) => s.pid === pid));
  const suggestions = ofStack
    ? ['See it: styxy status', 'Stop it first: styxy down']
    : [`See who holds it: styxy why ${a.port}`, `It is not this stack's: once its holder is done, free it with styxy release ${a.lockId}`];
  throw new StyxyError('STACK_RUNNING', `Service '${name}' of this stack is running already: port ${a.port} is held by PID ${pid}; nothing was started`, {
    details: { services: held.map(([n, h]) => ({ name: n, port: h.port, lockId: h.lockId, pid: h.owner.kind === 'process' ? h.owner.pid : null })) },
    suggestions,
  });
}

/** Releases what this call allocated; a failure only warns (the owner is about to end, which frees it too). */
export async function releaseCreated(ctx: TransactionContext, allocations: ReadonlyMap<string, AllocateResult>): Promise<string[]> {
  return releaseLockIds(
    ctx,
    [...allocations.values()].filter(isCreated).map((a) => a.lockId),
  );
}

async function releaseLockIds(ctx: TransactionContext, lockIds: readonly string[]): Promise<string[]> {
  const { runRelease } = await import('./release');
  const released: string[] = [];
  for (const lockId of lockIds) {
    try {
      await runRelease(ctx, { lockId });
      released.push(lockId);
    } catch (err) {
      const code = err instanceof StyxyError ? err.code : 'INTERNAL';
      if (code !== 'NOT_FOUND') ctx.warn(`styxy: could not release ${lockId} (${code}: ${(err as Error).message})`);
    }
  }
  return released;
}

export interface StackStatusService {
  name: string;
  type: string;
  port: number | null;
  url: string | null;
  lockId: string | null;
  /** The service's first process (a stack started here), else the allocation's owner. */
  pid: number | null;
  listening: boolean;
}

export interface StackStatusResult {
  success: true;
  project: string;
  /** `foreground` while an `up` runs it, `detached` after `up --detach`, else `stopped`. */
  state: 'foreground' | 'detached' | 'stopped';
  supervisorPid: number | null;
  services: StackStatusService[];
}

/** `styxy status`: each service of the stack, its port and URL, its process, and whether something listens. */
export async function runStackStatus(ctx: TransactionContext): Promise<StackStatusResult> {
  const stack = loadStack(ctx);
  const hostStyle = stack.hostStyle;
  const { runList } = await import('./list');
  const { allocations } = await runList(ctx, {});
  const record = liveRecord(ctx, stack);
  const services: StackStatusService[] = [];
  for (const s of stack.services) {
    const a = allocations.find((x) => x.project === stack.projectDir && x.serviceType === s.type && x.instanceId === s.name);
    const started = record?.services.find((r) => r.name === s.name && isSameProcessAlive(r.pid, r.startTime));
    const pid = started?.pid ?? (a?.owner.kind === 'process' ? a.owner.pid : null);
    services.push({
      name: s.name,
      type: s.type,
      port: a?.port ?? null,
      url: a ? urlFor(a.port, { style: hostStyle, name: a.instanceId, project: path.basename(stack.projectDir) }) : null,
      lockId: a?.lockId ?? null,
      pid,
      listening: a ? !(await probePortFree(a.port)) : false,
    });
  }
  const supervisor = record?.supervisor && isSameProcessAlive(record.supervisor.pid, record.supervisor.startTime) ? record.supervisor : undefined;
  return {
    success: true,
    project: stack.projectDir,
    state: supervisor ? 'foreground' : record && record.services.some((r) => isSameProcessAlive(r.pid, r.startTime)) ? 'detached' : 'stopped',
    supervisorPid: supervisor?.pid ?? null,
    services,
  };
}

/** The stack's record, when it names this project (a hash could in theory meet another's). */
function liveRecord(ctx: TransactionContext, stack: LoadedStack): StackRecord | null {
  const record = readStackRecord(ctx.paths, stack.stackId);
  return record && record.project === stack.projectDir ? record : null;
}

export interface StackDownResult {
  success: true;
  project: string;
  /** The services whose trees were ended. */
  stopped: { name: string; pid: number }[];
  /** The foreground `up` asked to end its stack, when one ran it. */
  supervisorPid: number | null;
  /** The lock ids released. */
  released: string[];
}

/** How long `down` waits for a foreground `up` to end its stack and exit. */
const SUPERVISOR_WAIT_MS = 30_000;

/**
 * `styxy down`: ends the stack's trees (a foreground `up` is asked with SIGTERM to end its own;
 * after `up --detach`, each service's tree is ended here, every process checked by PID and start
 * time before it is signalled) and releases the stack's ports. Nothing running: nothing to do.
 */
export async function runStackDown(ctx: TransactionContext): Promise<StackDownResult> {
  const stack = loadStack(ctx);
  const record = liveRecord(ctx, stack);
  const stopped: { name: string; pid: number }[] = [];
  let supervisorPid: number | null = null;
  const supervisor = record?.supervisor;
  if (supervisor && supervisor.startTime === null)
    ctx.warn(`styxy: the stack's styxy up was recorded without a start time; PID ${supervisor.pid} is left alone`);
  if (supervisor && isSameProcessAlive(supervisor.pid, supervisor.startTime)) {
    supervisorPid = supervisor.pid;
    process.kill(supervisor.pid, 'SIGTERM');
    const deadline = Date.now() + SUPERVISOR_WAIT_MS;
    while (isSameProcessAlive(supervisor.pid, supervisor.startTime) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  }
  const { runList } = await import('./list');
  // Held now: a port whose owner ends below is freed by this call too, though not released by it.
  const held = new Set((await runList(ctx, {})).allocations.map((a) => a.lockId));
  for (const s of [...(record?.services ?? [])].reverse()) {
    const ended = await endRecordedService(ctx, stack, s);
    if (ended) stopped.push(ended);
  }
  // A port that was there before `up --detach` (a persistent one) is left as it was, as a foreground `up` leaves it.
  const lockIds = record?.services.filter((s) => s.kept !== true).map((s) => s.lockId) ?? [];
  const releasedHere = new Set(await releaseLockIds(ctx, lockIds));
  const remaining = new Set((await runList(ctx, {})).allocations.map((a) => a.lockId));
  const released = lockIds.filter((id) => releasedHere.has(id) || (held.has(id) && !remaining.has(id)));
  removeStackRecord(ctx.paths, stack.stackId);
  return { success: true, project: stack.projectDir, stopped, supervisorPid, released };
}

/**
 * Ends the whole tree of one service a detached stack started: its recorded process, checked by
 * PID and start time, what runs under it, and whatever carries the service's mark (reparented, or
 * in a session of its own). Never a process by its name. Null when nothing of it was left.
 */
export async function endRecordedService(ctx: TransactionContext, stack: LoadedStack, s: StackServiceRecord): Promise<{ name: string; pid: number } | null> {
  if (s.startTime === null) {
    // Without a start time a PID cannot be told from a reused one: nothing is signalled.
    ctx.warn(`styxy: service '${s.name}' was recorded without a start time; PID ${s.pid} is left alone`);
    return null;
  }
  const { ProcessTreeWatch } = await import('../os/process-tree');
  // Grown from the PID only while it is still the recorded process; else found by the marker alone.
  const watch = new ProcessTreeWatch(s.pid, `${STACK_MARKER}=${serviceMarker(stack, s.name)}`, s.startTime);
  watch.snapshot();
  const alive = isSameProcessAlive(s.pid, s.startTime);
  const survivors = watch.alive();
  if (!alive && survivors.length === 0) return null;
  await endServiceTree({ pid: s.pid, startTime: s.startTime }, watch);
  return { name: s.name, pid: alive ? s.pid : (survivors[0] as { pid: number }).pid };
}
