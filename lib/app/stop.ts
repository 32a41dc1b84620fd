import path = require('path');
import { StyxyError } from '../errors';
import { findNameProblem, findSessionProblem, LOCK_ID_PATTERN, parsePort } from '../core/names';
import { planRelease } from '../core/release';
import { findStopRefusal, planStop, refusedTree, type StopPlan, type StopProcess, type StopReason } from '../core/stop-plan';
import type { Allocation } from '../core/types';
import { attachListenerProcesses, readListeners } from '../os/ports';
import { ProcessTreeWatch, type TrackedProcess } from '../os/process-tree';
import { hasProc, isProcOwnNamespace, readCommandLine, readProcessStat, readStartTime } from '../os/processes';
import { isNamespaceInit, readAncestors, readUid } from '../os/process-info';
import { waitUntil } from '../os/supervise';
import { findProjectRoot } from '../os/project';
import type { TransactionContext } from '../store/transaction';
import { withLiveState } from './context';
import { refuseOthers } from './users';
import { isOwnerInOurPidNamespace } from './why';

/** What to stop: the holder of a port, an allocation by lock id or by type (and instance), or a session's. */
export type StopTarget =
  { port: number } | { lockId: string } | { serviceType: string; instanceId?: string; project?: string; all?: boolean } | { session: string };

export interface StopOptions {
  /** End a process Styxy cannot attribute (outside Styxy, another user's): that exact tree only. */
  force?: boolean;
  /** Say what would be signalled; signal and release nothing. */
  dryRun?: boolean;
  /** Stop every allocation recorded with this session (when no other target is given). */
  session?: string;
  /** How long the tree has between SIGTERM and SIGKILL (default DEFAULT_GRACE_MS). */
  graceMs?: number;
}

/** The grace between SIGTERM and SIGKILL when none is given: what `run` gives a command it forwards a signal to. */
export const DEFAULT_GRACE_MS = 5_000;

/** One process of a stopped tree, and the signals it was sent. */
export interface StoppedProcess {
  pid: number;
  startTime: string | null;
  command?: string;
  signals: ('SIGTERM' | 'SIGKILL')[];
  /** Still running after SIGKILL (uninterruptible, or not this user's to signal). */
  survived?: true;
}

/** What became of one port. */
export interface StopOutcome {
  port: number;
  allocation: Allocation | null;
  /** Why this tree (StopReason), or `release-only` when nothing was signalled. */
  reason: StopReason | 'release-only';
  note?: string;
  processes: StoppedProcess[];
  /** The allocation is gone (released here, or by its `run` as it ended). */
  released: boolean;
}

export interface StopResult {
  success: true;
  dryRun: boolean;
  stopped: StopOutcome[];
  /** With several targets (a session, --all): those refused, each with its code, left as they were. */
  refused: { port: number; lockId?: string; code: string; message: string; reason?: string }[];
}

/**
 * `styxy stop` (API `stop`): ends what holds a port, an allocation or a session's allocations —
 * the whole process tree under a root Styxy can vouch for (a `run`, an owner that is the server,
 * or what the owning shell started for it), every process checked by PID and start time just
 * before each signal; SIGTERM, then SIGKILL to what is left after the grace — then releases the
 * allocation. A process Styxy cannot attribute is FORCE_REQUIRED, and with `force` only that
 * exact tree is ended, never anything found by name. `dryRun` lists the processes and changes
 * nothing. A session with nothing recorded stops nothing and succeeds.
 */
export async function runStop(ctx: TransactionContext, target: StopTarget | null, options: StopOptions = {}): Promise<StopResult> {
  const resolved = target ?? (options.session !== undefined ? { session: options.session } : null);
  if (!resolved) throw new StyxyError('INVALID_ARGUMENT', 'Name what to stop: a port, a lock id, -s TYPE [-n ID], or --session ID');
  checkTarget(resolved);
  refuseForeignProc(Boolean(options.dryRun));
  const graceMs = options.graceMs ?? DEFAULT_GRACE_MS;
  const selected = await selectTargets(ctx, resolved);
  const callerUid = typeof process.getuid === 'function' ? process.getuid() : undefined;
  const plans = selected.map(({ port, allocation }) => {
    const facts = readStopFacts(port, allocation, Boolean(options.force), callerUid);
    return { port, allocation, plan: planStop(facts), facts };
  });
  const single = 'port' in resolved || 'lockId' in resolved || ('serviceType' in resolved && !resolved.all);
  // Another member's allocation is not this caller's to stop at all: say that first, rather than
  // a FORCE_REQUIRED whose --force would only meet NOT_PERMITTED.
  if (single) for (const { allocation } of plans) assertMayStop(ctx, allocation);
  const refused: StopResult['refused'] = [];
  for (const { port, allocation, plan } of plans) {
    if (plan.kind !== 'refused') continue;
    const reason = 'reason' in plan ? { reason: plan.reason } : {};
    if (single) throw new StyxyError(plan.code, plan.message, { suggestions: plan.suggestions, details: { port, ...reason } });
    refused.push({ port, ...(allocation && { lockId: allocation.lockId }), code: plan.code, message: plan.message, ...reason });
  }
  const stopped: StopOutcome[] = [];
  for (const { port, allocation, plan, facts } of plans) {
    if (plan.kind === 'refused') continue;
    assertMayStop(ctx, allocation);
    const outcome = await carryOut(ctx, port, allocation, plan, Boolean(options.dryRun), graceMs);
    stopped.push(withOtherListeners(outcome, facts, Boolean(options.dryRun)));
  }
  const failed = stopped.filter((s) => s.processes.some((p) => p.survived));
  if (failed.length > 0) {
    const pids = failed.flatMap((s) => s.processes.filter((p) => p.survived).map((p) => p.pid));
    throw new StyxyError(
      'STOP_FAILED',
      `PID ${pids.join(', ')} could not be ended (still running after SIGKILL, or not this user's to signal); the allocation was kept`,
      {
        details: { stopped },
        suggestions: ['A process in uninterruptible sleep ends when its I/O does; one of another user needs that user (or root)'],
      },
    );
  }
  return { success: true, dryRun: Boolean(options.dryRun), stopped, refused };
}

/**
 * The one place that asks whether this caller may act on someone's allocation: in a shared home
 * (docs/shared-machines.md) only its user or root may (mayActOn, lib/core/permissions.ts);
 * another's is refused with NOT_PERMITTED before anything is signalled.
 */
function assertMayStop(ctx: TransactionContext, allocation: Allocation | null): void {
  if (allocation) refuseOthers(ctx, [allocation], 'stop');
}

/**
 * After `unshare -p` without `--mount-proc`, /proc is the parent namespace's: the PIDs read there
 * are not the ones kill() reaches from here, so no process could be verified. Nothing is signalled.
 */
function refuseForeignProc(dryRun: boolean): void {
  if (dryRun || !hasProc() || isProcOwnNamespace()) return;
  throw new StyxyError(
    'STOP_FAILED',
    "This process's /proc belongs to another PID namespace (unshare -p without --mount-proc): no process can be verified from here; nothing was signalled",
    {
      details: { signalled: [], procOfAnotherNamespace: true },
      suggestions: ["Run styxy stop where /proc is this namespace's own (unshare --mount-proc), or from the host"],
    },
  );
}

function checkTarget(target: StopTarget): void {
  let problem: string | null;
  if ('port' in target) problem = parsePort(target.port) === null ? `port must be a number from 1 to 65535, got ${JSON.stringify(target.port)}` : null;
  else if ('lockId' in target) problem = LOCK_ID_PATTERN.test(target.lockId) ? null : `lock id ${JSON.stringify(target.lockId)} is not valid`;
  else if ('session' in target) problem = findSessionProblem(target.session);
  else
    problem =
      findNameProblem(target.serviceType, 'service type') ?? (target.instanceId !== undefined ? findNameProblem(target.instanceId, 'instance id') : null);
  if (problem) throw new StyxyError('INVALID_ARGUMENT', problem);
}

/** The ports to stop, with their live allocations, chosen under the lock (ended owners pruned first). */
async function selectTargets(ctx: TransactionContext, target: StopTarget): Promise<{ port: number; allocation: Allocation | null }[]> {
  const { result } = await withLiveState(
    ctx,
    ({ config, state }) => {
      if ('port' in target) return { result: [{ port: target.port, allocation: state.allocations.find((a) => a.port === target.port) ?? null }] };
      if ('session' in target) return { result: state.allocations.filter((a) => a.session === target.session).map((a) => ({ port: a.port, allocation: a })) };
      const selector =
        'lockId' in target
          ? { lockId: target.lockId }
          : {
              serviceType: target.serviceType,
              project: target.project ? path.resolve(ctx.cwd, target.project) : findProjectRoot(ctx.cwd),
              ...(target.instanceId !== undefined && { instanceId: target.instanceId }),
              ...(target.all && { all: true }),
            };
      const plan = planRelease(config.config, state, selector);
      if (plan.kind === 'rejected') {
        throw new StyxyError(plan.code, plan.message, { suggestions: plan.suggestions.map((s) => s.replace('styxy release', 'styxy stop')) });
      }
      return { result: plan.released.map((a) => ({ port: a.port, allocation: a })) };
    },
    { configOptional: true },
  );
  return result;
}

/** What the OS says about a port's holder and an allocation's owner, for planStop. */
function readStopFacts(port: number, allocation: Allocation | null, force: boolean, callerUid: number | undefined) {
  const sockets = (readListeners() ?? []).filter((l) => l.port === port);
  attachListenerProcesses(sockets);
  const seen = new Set<number>();
  const listeners: StopProcess[] = [];
  for (const l of sockets) {
    if (l.pid === undefined || seen.has(l.pid)) continue;
    seen.add(l.pid);
    const proc = readStopProcess(l.pid);
    if (proc) listeners.push({ ...proc, ...(l.uid !== undefined && { uid: l.uid }) });
  }
  let owner: StopProcess | null = null;
  if (allocation?.owner.kind === 'process' && !allocation.owner.reservedUntil && isOwnerInOurPidNamespace(allocation)) {
    const proc = readStopProcess(allocation.owner.pid);
    // An owner recorded without a start time cannot be told from a newcomer on its PID: unverified.
    if (proc && allocation.owner.startTime !== null && proc.startTime === allocation.owner.startTime) owner = proc;
  }
  return {
    port,
    allocation,
    owner,
    listeners,
    hiddenListener: sockets.some((l) => l.pid === undefined),
    ...(allocation && !isOwnerInOurPidNamespace(allocation) && { ownerElsewhere: true }),
    ...hiddenUid(sockets),
    spared: [...selfAndAncestors()],
    force,
    ...(callerUid !== undefined && { callerUid }),
  };
}

function hiddenUid(sockets: readonly { pid?: number; uid?: number }[]): { hiddenListenerUid?: number } {
  const uid = sockets.find((l) => l.pid === undefined && l.uid !== undefined)?.uid;
  return uid !== undefined ? { hiddenListenerUid: uid } : {};
}

function readStopProcess(pid: number): StopProcess | null {
  const stat = readProcessStat(pid);
  if (!stat) return null;
  const ancestors = readAncestors(pid);
  const command = readCommandLine(pid);
  const uid = readUid(pid);
  return {
    pid,
    startTime: stat.startTime,
    ancestors,
    ...(command && { command }),
    ...(uid !== undefined && { uid }),
    ...(isNamespaceInit(pid) && { namespaceInit: true }),
  };
}

async function carryOut(
  ctx: TransactionContext,
  port: number,
  allocation: Allocation | null,
  plan: Exclude<StopPlan, { kind: 'refused' }>,
  dryRun: boolean,
  graceMs: number,
): Promise<StopOutcome> {
  const outcome: StopOutcome = { port, allocation, reason: plan.kind === 'end-tree' ? plan.reason : 'release-only', processes: [], released: false };
  if (plan.kind === 'release-only') outcome.note = plan.reason;
  if (plan.kind === 'end-tree') outcome.processes = await endVerifiedTree(port, plan.root, graceMs, dryRun);
  if (dryRun || !allocation || outcome.processes.some((p) => p.survived)) return outcome;
  outcome.released = await releaseIfThere(ctx, allocation);
  return outcome;
}

/**
 * Another program that listens on the same port (one on 127.0.0.1, the other on ::1) is not in the
 * tree that was ended, and still holds the port: the outcome says so, rather than a plain success.
 */
function withOtherListeners(outcome: StopOutcome, facts: ReturnType<typeof readStopFacts>, dryRun: boolean): StopOutcome {
  if (outcome.processes.length === 0) return outcome;
  const ended = new Set(outcome.processes.map((p) => p.pid));
  const others = facts.listeners.filter((l) => !ended.has(l.pid)).map((l) => `PID ${l.pid}${l.command ? ` (${l.command})` : ''}`);
  if (facts.hiddenListener) others.push('a process this caller cannot see');
  if (others.length === 0) return outcome;
  const note = `port ${outcome.port} is also listened on by ${others.join(', ')}, which ${dryRun ? 'this would not end' : 'still runs'}: styxy why ${outcome.port}`;
  return { ...outcome, note: outcome.note ? `${outcome.note}; ${note}` : note };
}

/** Frees the allocation unless it is gone already (its `run` released it as it ended). */
async function releaseIfThere(ctx: TransactionContext, allocation: Allocation): Promise<boolean> {
  const { runRelease } = await import('./release');
  try {
    await runRelease(ctx, { lockId: allocation.lockId });
  } catch (err) {
    if (!(err instanceof StyxyError && err.code === 'NOT_FOUND')) throw err;
  }
  return true;
}

/**
 * Ends `root` and every process descended from it (found through ProcessTreeWatch, which keeps a
 * reparented child in the tree): SIGTERM (and SIGCONT, so a stopped process acts on it), then
 * SIGKILL to what still runs after `graceMs`. Each signal goes only to a process whose start time
 * is still the one first seen, read again just before: a PID reused meanwhile is never signalled.
 * Backstop to planStop: a tree whose root is init, a PID namespace's init, or that holds this
 * process or one of its ancestors is refused here too (STOP_REFUSED), before any signal.
 * Slice `run` moves run's own tree ending into lib/os (endTree); this shares its ProcessTreeWatch.
 */
async function endVerifiedTree(port: number, root: StopProcess, graceMs: number, dryRun: boolean): Promise<StoppedProcess[]> {
  const spared = selfAndAncestors();
  const refuse = (reason: NonNullable<ReturnType<typeof findStopRefusal>>): never => {
    const plan = refusedTree(port, root, reason);
    if (plan.kind !== 'refused') throw new Error('unreachable');
    throw new StyxyError('STOP_REFUSED', plan.message, { suggestions: plan.suggestions, details: { port, reason } });
  };
  const early = findStopRefusal({ pid: root.pid, namespaceInit: isNamespaceInit(root.pid) }, [...spared]);
  if (early) refuse(early);
  const rootProcess = { pid: root.pid, startTime: root.startTime };
  // The tree is walked from the root's PID: only while that PID is still the root. Once the root
  // has ended, its PID may name a newcomer, whose children are not the tree's; the members known
  // by then (kept by PID and start time, reparented or not) are all that is signalled.
  if (!isSameProcess(rootProcess)) return [];
  const watch = new ProcessTreeWatch(root.pid);
  watch.snapshot();
  if (!isSameProcess(rootProcess)) return [];
  const records = new Map<string, StoppedProcess>();
  const key = (p: TrackedProcess) => `${p.pid}@${p.startTime ?? '?'}`;
  const collect = (): TrackedProcess[] => {
    const members = [rootProcess, ...watch.members()];
    // A process reparented into the tree cannot make it hold the caller; if it ever does, stop.
    if (members.some((p) => spared.has(p.pid))) refuse('caller-in-tree');
    for (const m of members) {
      if (records.has(key(m))) continue;
      const command = readCommandLine(m.pid);
      records.set(key(m), { pid: m.pid, startTime: m.startTime, ...(command && { command }), signals: [] });
    }
    return members;
  };
  const first = collect();
  if (dryRun) return [...records.values()];
  const send = (members: TrackedProcess[], signal: 'SIGTERM' | 'SIGKILL') => {
    for (const m of members) {
      if (!isSameProcess(m)) continue;
      try {
        process.kill(m.pid, signal);
        records.get(key(m))?.signals.push(signal);
        if (signal === 'SIGTERM') process.kill(m.pid, 'SIGCONT');
      } catch {
        /* ended meanwhile, or not this user's to signal (then it survives, and says so) */
      }
    }
  };
  send(first, 'SIGTERM');
  const stillRunning = () => {
    if (isSameProcess(rootProcess)) watch.snapshot();
    return collect().filter(isSameProcess);
  };
  if (!(await waitUntil(() => stillRunning().length === 0, graceMs, 50))) {
    send(stillRunning(), 'SIGKILL');
    await waitUntil(() => stillRunning().length === 0, 2_000, 50);
    for (const m of stillRunning()) {
      const record = records.get(key(m));
      if (record) record.survived = true;
    }
  }
  return [...records.values()];
}

/** The process still runs as the one recorded: same PID and the same start time (an unknown one verifies nothing). */
function isSameProcess(p: TrackedProcess): boolean {
  const now = readStartTime(p.pid);
  return now !== undefined && now !== null && p.startTime !== null && now === p.startTime;
}

function selfAndAncestors(): Set<number> {
  const pids = new Set<number>([process.pid]);
  let pid = process.ppid;
  for (let hops = 0; hops < 64 && pid > 1; hops++) {
    pids.add(pid);
    pid = readProcessStat(pid)?.ppid ?? 0;
  }
  return pids;
}
