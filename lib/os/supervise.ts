import { spawn, type ChildProcess } from 'child_process';
import fs = require('fs');
import os = require('os');
import { RUN_MARKER } from '../core/run-plan';
import { readListeners } from './ports';
import { readStartTime } from './processes';
import { ProcessTreeWatch, readProcessGroups, readSocketInodes, type TrackedProcess } from './process-tree';
import { testHooks, type TestHooks } from './test-hooks';
import { inheritedEnv } from '../core/env-contract';

// Supervising a command `styxy run` started: its signals, its process tree, the port it listens
// on, and ending whatever it leaves behind. Here rather than in lib/app so that other use cases
// (stop, the detached start) end trees the same way.

/** The signals `styxy run` passes on to its command. */
export const FORWARDED_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

/** How long the command has to end after a signal `run` passed on, before its whole tree is ended. */
export const FORWARD_GRACE_MS = 5_000;

/** The grace after a forwarded signal: FORWARD_GRACE_MS; tests shorten it to watch it end without waiting 5 s. */
export function forwardGraceMs(hooks: Pick<TestHooks, 'forwardGraceMs'> = testHooks()): number {
  return hooks.forwardGraceMs ?? FORWARD_GRACE_MS;
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

/** How the command ended, as a shell would report it. */
export interface RunOutcome {
  /** The command's exit status, 128 + the signal's number when a signal ended it. */
  status: number;
  signal?: NodeJS.Signals;
  /** Set when the command could not be started at all (127: not found, 126: not executable). */
  startError?: string;
}

export interface StartInput {
  command: readonly string[];
  /** Variables to add to the command's environment. */
  env: ReadonlyArray<readonly [string, string]>;
  port: number;
  portFlag?: string;
  /**
   * The `NAME=value` entry set in the command's environment, inherited by every process started
   * from it: how the tree is still known once the shell that started a background server has
   * ended (see runMarkerEntry). A fresh one when left out.
   */
  marker?: string;
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

export interface StartHooks {
  onLeftovers?: (processes: readonly TrackedProcess[]) => void;
  /** The command's processes listened on these ports, never on `port`, for WRONG_PORT_AFTER_MS. */
  onWrongPort?: (ports: number[]) => void;
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
export function startAndWait(input: StartInput, hooks: StartHooks = {}): Promise<RunOutcome> {
  const [file, ...args] = commandLine(input);
  const marker = input.marker ?? `${RUN_MARKER}=${process.pid}.${Date.now()}`;
  const env: NodeJS.ProcessEnv = inheritedEnv(process.env);
  for (const [name, value] of input.env) env[name] = value;
  const eq = marker.indexOf('=');
  env[marker.slice(0, eq)] = marker.slice(eq + 1);
  const watch = new ProcessTreeWatch(process.pid, marker);
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
export function watchListening(port: number, report: (ports: number[]) => void): (members: readonly TrackedProcess[]) => void {
  let done = false;
  let firstSeen: number | undefined;
  return (members) => {
    if (done || members.length === 0) return;
    const ports = listeningPorts(members);
    if (!ports) {
      done = true;
      return;
    }
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

/** The ports these processes listen on, in order; null where the listeners cannot be read (not Linux). */
export function listeningPorts(members: readonly TrackedProcess[]): number[] | null {
  const listeners = readListeners();
  if (!listeners) return null;
  const inodes = new Set(members.flatMap((m) => readSocketInodes(m.pid)));
  return [...new Set(listeners.filter((l) => inodes.has(l.inode)).map((l) => l.port))].sort((a, b) => a - b);
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

/**
 * Ends a process and every process descended from it (also those reparented since, when they
 * carry `marker`): SIGTERM, then SIGKILL TERM_WAIT_MS later to those still there. Each signal goes
 * only to a process that is still the same one (PID and start time), never by name. Returns the
 * processes it reached. For `styxy stop` and whatever else ends a server Styxy knows by its owner.
 */
export async function endProcessTree(root: TrackedProcess, marker?: string): Promise<TrackedProcess[]> {
  // Not the process it names (ended, or its PID reused), or no way to tell (no start time recorded
  // or readable): neither it nor what runs under that PID now is signalled.
  if (!isSameProcess(root.startTime, readStartTime(root.pid), false)) return [];
  const watch = new ProcessTreeWatch(root.pid, marker);
  watch.include(root);
  return endTree(watch);
}

/** SIGTERM to every live member of the tree, SIGKILL to those still there TERM_WAIT_MS later. */
export async function endTree(watch: ProcessTreeWatch): Promise<TrackedProcess[]> {
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

/** Polls `condition` every `stepMs` until it holds (true) or `timeoutMs` has passed (false). */
export async function waitUntil(condition: () => boolean, timeoutMs: number, stepMs = 25): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (condition()) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, stepMs));
  }
}

export interface DetachedInput extends StartInput {
  /** Where the command's stdout and stderr go (an open file); stdin is /dev/null. */
  logFd: number;
  marker: string;
  /** Where the command runs; this process's working directory when left out. */
  cwd?: string;
}

/**
 * Whether a PID still names the process recorded: only while it has not been seen to exit (its PID
 * may be anyone's once it has been reaped), and only with both start times known and equal.
 */
export function isSameProcess(recorded: string | null, now: string | null | undefined, exited: boolean): boolean {
  return !exited && recorded !== null && now !== undefined && now !== null && now === recorded;
}

export interface DetachedChild {
  pid: number;
  /** The command's start time, read as it was spawned (null when it could not be read). */
  startTime: string | null;
  /** True once this process has seen the command end (and reaped it: its PID is free for reuse). */
  hasExited: () => boolean;
  /** Resolves when the command ends, while this process still runs. */
  exited: Promise<RunOutcome>;
  /** Lets this process end without waiting for the command. */
  let: () => void;
}

/**
 * Starts the command in a session of its own (setsid), stdin from /dev/null and its output to the
 * log: no terminal, no process group and no file descriptor of this process's caller reaches it,
 * so a caller reading this process's output sees its end as soon as this process ends, and the
 * terminal's Ctrl-C or hang-up does not reach the server.
 */
export function startDetached(input: DetachedInput): Promise<DetachedChild> {
  const [file, ...args] = commandLine(input);
  const env: NodeJS.ProcessEnv = inheritedEnv(process.env);
  for (const [name, value] of input.env) env[name] = value;
  const eq = input.marker.indexOf('=');
  env[input.marker.slice(0, eq)] = input.marker.slice(eq + 1);
  return new Promise((resolve) => {
    const stdio: Array<'ignore' | number> = ['ignore', input.logFd, input.logFd];
    // Node closes none of the descriptors it inherited (a make jobserver's pipe, a runner's
    // `40>&1`) in the child, and 'ignore' leaves them open: each goes to /dev/null instead, or
    // the server would hold the caller's pipe open for as long as it runs.
    const devNull = fs.openSync('/dev/null', 'r+');
    for (const fd of inheritedDescriptors()) {
      // No holes: Node reads the array with reduce(), which skips them and shifts what follows.
      while (stdio.length < fd) stdio.push('ignore');
      if (fd !== devNull) stdio[fd] = devNull;
    }
    let child: ChildProcess;
    try {
      child = spawn(file as string, args, { detached: true, stdio, env, ...(input.cwd !== undefined && { cwd: input.cwd }) });
    } finally {
      fs.closeSync(devNull);
    }
    let settle: (outcome: RunOutcome) => void = () => undefined;
    const exited = new Promise<RunOutcome>((r) => (settle = r));
    let done = false;
    const hasExited = () => done;
    // Read now: it is still the command (not yet reaped, even if it has ended), whatever comes later.
    const startTime = child.pid === undefined ? null : (readStartTime(child.pid) ?? null);
    child.once('error', (err: NodeJS.ErrnoException) => {
      done = true;
      const notFound = err.code === 'ENOENT';
      settle({ status: notFound ? 127 : 126, startError: `cannot start ${JSON.stringify(file)}: ${notFound ? 'command not found' : err.message}` });
      resolve({ pid: -1, startTime: null, hasExited, exited, let: () => undefined });
    });
    child.once('exit', (code, signal) => {
      done = true;
      settle(signal ? { status: 128 + (os.constants.signals[signal] ?? 0), signal } : { status: code ?? 1 });
    });
    child.once('spawn', () => resolve({ pid: child.pid as number, startTime, hasExited, exited, let: () => child.unref() }));
  });
}

/** O_CLOEXEC in the `flags:` line of /proc/PID/fdinfo (octal, as Linux writes it). */
const O_CLOEXEC = 0o2000000;

/**
 * The descriptors (3 and up) of this process that a child would inherit: those without
 * close-on-exec, from /proc/self/fdinfo. Where that cannot be read (not Linux), every descriptor
 * from 3 to 63: the closed ones among them become /dev/null in the child, which is harmless.
 */
export function inheritedDescriptors(): number[] {
  let names: string[];
  try {
    names = fs.readdirSync('/proc/self/fdinfo');
  } catch {
    return Array.from({ length: 61 }, (_, i) => i + 3);
  }
  const fds: number[] = [];
  for (const name of names) {
    const fd = Number(name);
    if (!Number.isInteger(fd) || fd < 3) continue;
    try {
      const flags = /^flags:\s*([0-7]+)/m.exec(fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'latin1'));
      if (flags && (parseInt(flags[1] as string, 8) & O_CLOEXEC) === 0) fds.push(fd);
    } catch {
      /* closed meanwhile (the directory's own descriptor) */
    }
  }
  return fds.sort((a, b) => a - b);
}
