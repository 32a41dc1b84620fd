import { spawn, type ChildProcess } from 'child_process';
import os = require('os');
import { StyxyError } from '../errors';
import { planPortFlag, type PortFlagPlan } from '../core/dev-servers';
import { isCreatedByRun, planRun, type PortListener } from '../core/run-plan';
import { passwdName } from '../os/identity';
import { readPackageScripts } from '../os/package-scripts';
import { attachListenerProcesses, probePortFree, readListeners } from '../os/ports';
import { ProcessTreeWatch, readProcessGroups, readSocketInodes, type TrackedProcess } from '../os/process-tree';
import type { TransactionContext } from '../store/transaction';
import type { AllocateInput, AllocateResult } from './allocate';

/** The signals `styxy run` passes on to its command. */
export const FORWARDED_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/** How long the command has to end after a signal `run` passed on, before its whole tree is ended. */
export const FORWARD_GRACE_MS = 5_000;

/** The grace after a forwarded signal: FORWARD_GRACE_MS; tests shorten it to watch it end without waiting 5 s. */
export function forwardGraceMs(env: NodeJS.ProcessEnv = process.env): number {
  const value = Number(env.STYXY_TEST_FORWARD_GRACE_MS);
  return Number.isFinite(value) && value > 0 ? value : FORWARD_GRACE_MS;
}
/** How long the processes left behind have between SIGTERM and SIGKILL. */
export const TERM_WAIT_MS = 2_000;
/** How often the picture of the command's process tree is refreshed while it runs. */
const SNAPSHOT_EVERY_MS = 500;
/**
 * How long the command may listen on other ports only before `run` says it missed its own: a
 * server may open a side port (an inspector, a websocket) a moment before its main one.
 */
export const WRONG_PORT_AFTER_MS = 3_000;
/**
 * Set in the command's environment, and so inherited by every process started from it: how `run`
 * still knows a background server as its own once the shell that started it has ended.
 */
export const RUN_MARKER = 'STYXY_RUN_ID';

export interface RunInput {
  /** What to allocate; `run` itself is the owner of whatever this creates. */
  request: Omit<AllocateInput, 'owner'>;
  /** `run -s web -s api`: these types instead of `request.serviceType`, allocated together, all or nothing. */
  serviceTypes?: readonly string[];
  /** The command and its arguments, as given after `--`. */
  command: readonly string[];
  /** The variables the command gets for its allocations (PORT, STYXY_*). */
  variables: (allocations: readonly AllocateResult[]) => ReadonlyArray<readonly [string, string]>;
  /**
   * `--port-flag`: appended with the port (`--port 3000`), or glued to it when it ends in `=`.
   * Left out, a known dev server gets its flag from DEV_SERVERS; false (`--no-port-flag`): none.
   */
  portFlag?: string | false;
  /** Runs an allocation attempt, asking the user to confirm an auto-allocated range where needed. */
  confirm?: <R>(attempt: (acceptedRange?: [number, number], acceptedRanges?: Record<string, [number, number]>) => Promise<R>) => Promise<R>;
  /** Told of what happens on the way, for the conversation on stderr. */
  onNotice?: (notice: RunNotice) => void;
}

export type RunNotice =
  /** The allocations are made; the command has not started yet. */
  | { kind: 'allocated'; allocations: readonly AllocateResult[] }
  /** The command is a known dev server that ignores PORT: `run` adds its port flag. */
  | { kind: 'port-flag'; plan: PortFlagPlan; port: number }
  /** The command's processes listen on other ports, and not on the one allocated. */
  | { kind: 'wrong-port'; ports: number[]; port: number; portFlag: PortFlagPlan | null }
  /** Processes the command left running when it ended (or outlived the grace), now ended. */
  | { kind: 'ended-leftovers'; processes: readonly TrackedProcess[] };

export type RunResult =
  /** The service already runs (something listens on the port of an allocation run did not make). */
  | { kind: 'running'; allocations: AllocateResult[]; allocation: AllocateResult; pid: number | null; command?: string }
  | { kind: 'ran'; allocations: AllocateResult[]; outcome: RunOutcome; released: string[]; kept: string[] };

/** How the command ended, as a shell would report it. */
export interface RunOutcome {
  /** The command's exit status, 128 + the signal's number when a signal ended it. */
  status: number;
  signal?: NodeJS.Signals;
  /** Set when the command could not be started at all (127: not found, 126: not executable). */
  startError?: string;
}

/**
 * `styxy run`: allocate with this process as the owner, decide whether the service already runs,
 * start the command, wait for it, end whatever it left running, and release what this run created.
 * An allocation it found (a sticky reuse, an existing single instance) is left exactly as it was.
 */
export async function runRun(ctx: TransactionContext, input: RunInput): Promise<RunResult> {
  const { runAllocate, runAllocateBatch } = await import('./allocate');
  const attempt = (acceptedRange?: [number, number]) =>
    runAllocate(ctx, { ...input.request, owner: { pid: process.pid, via: 'run' }, keepFound: true, ...(acceptedRange && { acceptedRange }) });
  const { serviceType: _one, port: _port, acceptedRange: _range, waitReadyMs: _wait, ...shared } = input.request;
  const batch = (_first?: [number, number], acceptedRanges?: Record<string, [number, number]>) =>
    runAllocateBatch(ctx, {
      ...shared,
      serviceTypes: input.serviceTypes ?? [],
      owner: { pid: process.pid, via: 'run' },
      keepFound: true,
      ...(acceptedRanges && { acceptedRanges }),
    });
  const allocations =
    input.serviceTypes && input.serviceTypes.length > 1
      ? (await (input.confirm ? input.confirm(batch) : batch())).allocations
      : [await (input.confirm ? input.confirm(attempt) : attempt())];
  input.onNotice?.({ kind: 'allocated', allocations });

  const foundPorts = await probeFoundPorts(allocations.filter((a) => !isCreatedByRun(a)));
  const taken = otherUsersListener(
    allocations.filter((a) => !isCreatedByRun(a)),
    foundPorts,
  );
  if (taken) {
    await releaseQuietly(
      ctx,
      allocations,
      allocations.filter(isCreatedByRun).map((a) => a.lockId),
    );
    throw taken;
  }
  const plan = planRun(allocations, foundPorts);
  if (plan.kind === 'running') {
    await releaseQuietly(ctx, allocations, plan.release);
    const allocation = allocations.find((a) => a.lockId === plan.allocation.lockId) as AllocateResult;
    return { kind: 'running', allocations, allocation, pid: plan.pid, ...(plan.command !== undefined && { command: plan.command }) };
  }
  const port = (allocations[0] as AllocateResult).port;
  const detected = input.portFlag === undefined ? planPortFlag(input.command, readPackageScripts(ctx.cwd)) : null;
  if (detected) input.onNotice?.({ kind: 'port-flag', plan: detected, port });
  let outcome: RunOutcome;
  try {
    outcome = await startAndWait(
      {
        command: detected ? [...input.command, ...detected.append] : input.command,
        env: input.variables(allocations),
        port,
        ...(typeof input.portFlag === 'string' && { portFlag: input.portFlag }),
      },
      {
        onLeftovers: (processes) => input.onNotice?.({ kind: 'ended-leftovers', processes }),
        onWrongPort: (ports) => input.onNotice?.({ kind: 'wrong-port', ports, port, portFlag: detected }),
      },
    );
  } finally {
    await releaseQuietly(ctx, allocations, plan.release);
  }
  return { kind: 'ran', allocations, outcome, released: plan.release, kept: plan.keep };
}

/** For each allocation run did not create: does something listen on its port already, and who. */
async function probeFoundPorts(found: readonly AllocateResult[]): Promise<Map<string, PortListener>> {
  const facts = new Map<string, PortListener>();
  let listeners: ReturnType<typeof readListeners> | undefined;
  for (const a of found) {
    if (await probePortFree(a.port)) {
      facts.set(a.lockId, { busy: false });
      continue;
    }
    if (listeners === undefined) {
      listeners = readListeners();
      if (listeners) attachListenerProcesses(listeners.filter((l) => found.some((f) => f.port === l.port)));
    }
    const holder = listeners?.find((l) => l.port === a.port && l.pid !== undefined);
    facts.set(a.lockId, { busy: true, ...(holder?.pid !== undefined && { pid: holder.pid }), ...(holder?.command && { command: holder.command }) });
  }
  return facts;
}

/*
 * Shared machines (docs/shared-machines.md). Users with homes of their own do not see each
 * other's allocations: Bob can be handed the port Alice reserved but has not bound yet, and
 * start his server there. Alice's `run` then finds the port listened on; that is not her
 * service running (and the PID it would name is her own owner's), so it starts nothing and says
 * whose socket it is. A listener of the allocation's own user (in a shared home, Bob's running
 * single instance that Alice is handed) is the service. /proc/net/tcp gives each socket's user
 * even when the process is hidden.
 */
function otherUsersListener(found: readonly AllocateResult[], facts: ReadonlyMap<string, PortListener>): StyxyError | null {
  const busy = found.filter((a) => facts.get(a.lockId)?.busy);
  if (busy.length === 0 || typeof process.getuid !== 'function') return null;
  const me = process.getuid();
  const listeners = readListeners() ?? [];
  for (const a of busy) {
    const owner = a.user?.uid ?? me;
    const uid = listeners.find((l) => l.port === a.port && l.uid !== undefined && l.uid !== owner)?.uid;
    if (uid === undefined) continue;
    const user = passwdName(uid);
    const whose = user ? `${user} (uid ${uid})` : `uid ${uid}`;
    return new StyxyError(
      'PORT_TAKEN',
      `Port ${a.port} of ${a.serviceType} '${a.instanceId}' is listened on by a process of another user, ${whose}: it is not your service; nothing was started`,
      {
        details: { port: a.port, lockId: a.lockId, uid, ...(user && { user }) },
        suggestions: [
          `Release it, then run again for a free port: styxy release ${a.lockId}`,
          'Users with homes of their own protect only bound ports from each other; share one home to protect reservations too: see docs/shared-machines.md',
        ],
      },
    );
  }
  return null;
}

export interface StartInput {
  command: readonly string[];
  /** Variables to add to the command's environment. */
  env: ReadonlyArray<readonly [string, string]>;
  port: number;
  portFlag?: string;
}

/** The command line with `{port}` replaced in every argument and the port flag appended. */
export function commandLine(input: Pick<StartInput, 'command' | 'port' | 'portFlag'>): string[] {
  const port = String(input.port);
  const line = input.command.map((arg) => arg.split('{port}').join(port));
  if (input.portFlag !== undefined) {
    if (input.portFlag.endsWith('=')) line.push(`${input.portFlag}${port}`);
    else line.push(input.portFlag, port);
  }
  return line;
}

/**
 * Starts the command and waits for it, then ends every process it left behind.
 *
 * The command stays in this process group, so it keeps the terminal: the keyboard's Ctrl-C
 * reaches it straight from the terminal, and is not passed on a second time. A SIGINT, SIGTERM or
 * SIGHUP sent to `run` alone is passed on (a SIGINT while both hold the terminal's foreground is
 * taken for the keyboard's); either way, if the command is still running FORWARD_GRACE_MS
 * later, its whole tree is ended. Once the command has ended, every process descended from it
 * that still runs (found through the tree picture: see ProcessTreeWatch) gets SIGTERM, then
 * SIGKILL after TERM_WAIT_MS.
 */
export interface StartHooks {
  onLeftovers?: (processes: readonly TrackedProcess[]) => void;
  /** The command's processes listened on these ports, never on `port`, for WRONG_PORT_AFTER_MS. */
  onWrongPort?: (ports: number[]) => void;
}

export function startAndWait(input: StartInput, hooks: StartHooks = {}): Promise<RunOutcome> {
  const [file, ...args] = commandLine(input);
  const marker = `${process.pid}.${Date.now()}`;
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const [name, value] of input.env) env[name] = value;
  env[RUN_MARKER] = marker;
  const watch = new ProcessTreeWatch(process.pid, `${RUN_MARKER}=${marker}`);
  return new Promise((resolve) => {
    let child: ChildProcess;
    let ended = false;
    let grace: NodeJS.Timeout | undefined;
    let ending: Promise<TrackedProcess[]> | undefined;
    const listening = hooks.onWrongPort ? watchListening(input.port, hooks.onWrongPort) : undefined;
    const ticker = setInterval(() => {
      watch.snapshot();
      listening?.(watch.members());
    }, SNAPSHOT_EVERY_MS);
    const forward = (signal: NodeJS.Signals) => () => {
      if (ended || child.pid === undefined) return;
      // The picture first: the signal may end a parent whose children are then reparented.
      watch.snapshot();
      // The keyboard's Ctrl-C has reached the command from the terminal already; a `kill -INT` to
      // run alone has not, and cannot be told apart: not passed on, but the grace holds for both.
      if (!(signal === 'SIGINT' && sharesTerminalForeground(child.pid))) child.kill(signal);
      grace ??= setTimeout(() => {
        ending = endTree(watch);
      }, forwardGraceMs());
    };
    const handlers = FORWARDED_SIGNALS.map((signal) => [signal, forward(signal)] as const);
    for (const [signal, handler] of handlers) process.on(signal, handler);
    const done = async (outcome: RunOutcome) => {
      if (ended) return;
      ended = true;
      clearInterval(ticker);
      if (grace) clearTimeout(grace);
      const first = (await ending) ?? [];
      const rest = await endTree(watch);
      // Signals stay caught until here: a second Ctrl-C must not cut the clean-up short.
      for (const [signal, handler] of handlers) process.off(signal, handler);
      const leftovers = [...first, ...rest].filter((p) => p.pid !== child.pid);
      if (leftovers.length > 0) hooks.onLeftovers?.(leftovers);
      resolve(outcome);
    };
    child = spawn(file as string, args, { stdio: 'inherit', env });
    watch.snapshot();
    child.once('error', (err: NodeJS.ErrnoException) => {
      const notFound = err.code === 'ENOENT';
      void done({ status: notFound ? 127 : 126, startError: `cannot start ${JSON.stringify(file)}: ${notFound ? 'command not found' : err.message}` });
    });
    child.once('exit', (code, signal) => {
      if (signal) void done({ status: 128 + (os.constants.signals[signal] ?? 0), signal });
      else void done({ status: code ?? 1 });
    });
  });
}

/**
 * Looks, at each call, at the ports the tree's processes listen on: once one is the allocated
 * port, or the listeners cannot be read (not Linux), it stops; when only others have been seen for
 * WRONG_PORT_AFTER_MS, it reports them once. A command that never listens is never reported.
 */
function watchListening(port: number, report: (ports: number[]) => void): (members: readonly TrackedProcess[]) => void {
  let done = false;
  let firstSeen: number | undefined;
  return (members) => {
    if (done || members.length === 0) return;
    const listeners = readListeners();
    if (!listeners) {
      done = true;
      return;
    }
    const inodes = new Set(members.flatMap((m) => readSocketInodes(m.pid)));
    const ports = [...new Set(listeners.filter((l) => inodes.has(l.inode)).map((l) => l.port))].sort((a, b) => a - b);
    if (ports.includes(port)) {
      done = true;
      return;
    }
    if (ports.length === 0) return;
    firstSeen ??= Date.now();
    if (Date.now() - firstSeen < WRONG_PORT_AFTER_MS) return;
    done = true;
    report(ports);
  };
}

/**
 * True when this process and the command are both in their terminal's foreground process group:
 * a SIGINT then came from the keyboard, and the terminal has sent it to the command as well.
 */
function sharesTerminalForeground(childPid: number): boolean {
  const mine = readProcessGroups(process.pid);
  if (!mine || mine.foreground <= 0 || mine.pgrp !== mine.foreground) return false;
  return readProcessGroups(childPid)?.pgrp === mine.foreground;
}

/** SIGTERM to every live member of the tree, SIGKILL to those still there TERM_WAIT_MS later. */
async function endTree(watch: ProcessTreeWatch): Promise<TrackedProcess[]> {
  watch.snapshot();
  const reached = watch.signal('SIGTERM');
  if (reached.length === 0) return reached;
  // A stopped process acts on SIGTERM only once it is continued.
  watch.signal('SIGCONT');
  if (!(await waitUntil(() => watch.alive().length === 0, TERM_WAIT_MS))) {
    watch.snapshot();
    watch.signal('SIGKILL');
    await waitUntil(() => watch.alive().length === 0, 1_000);
  }
  return reached;
}

async function waitUntil(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (condition()) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, 25));
  }
}

/**
 * Frees the allocations this run created. Should it fail (the lock held past its deadline, a
 * read-only home), the allocation still goes at the next call: its owner, this process, is about to end.
 */
async function releaseQuietly(ctx: TransactionContext, allocations: readonly AllocateResult[], lockIds: readonly string[]): Promise<void> {
  if (lockIds.length === 0) return;
  const { runRelease } = await import('./release');
  for (const lockId of lockIds) {
    const allocation = allocations.find((a) => a.lockId === lockId);
    try {
      // Only while it is still this run's: someone may have made it theirs meanwhile.
      await runRelease(ctx, { lockId, ...(allocation && { expectedOwner: allocation.owner }) });
    } catch (err) {
      const code = err instanceof StyxyError ? err.code : 'INTERNAL';
      if (code === 'NOT_FOUND') continue; // released by hand meanwhile
      ctx.warn(`styxy: could not release port ${allocation?.port} (${code}: ${(err as Error).message}); the next styxy call frees it, as its owner has ended`);
    }
  }
}
