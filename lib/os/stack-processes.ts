import { spawn, type ChildProcess } from 'child_process';
import os = require('os');
import { ProcessTreeWatch, type TrackedProcess } from './process-tree';
import { readProcessStat, isDeadState } from './processes';
import { waitForPort } from './ports';
import { waitUntil } from './supervise';
import { inheritedEnv } from '../core/env-contract';

/**
 * Starting and ending the process trees of a stack's services. Each service runs `sh -c` in a
 * session of its own (so a keyboard's Ctrl-C reaches `up` alone, which then ends every tree in
 * order), and carries a marker in its environment, so that a process it started and that left
 * the tree (reparented, or a session of its own) is still known as the service's.
 */

/** Inherited by every process a service starts: how its tree is still found once reparented. */
export const STACK_MARKER = 'STYXY_STACK_RUN';

/** How long a tree has between SIGTERM and SIGKILL. */
export const STACK_TERM_WAIT_MS = 5_000;

export interface ServiceStart {
  command: string;
  cwd: string;
  env: ReadonlyArray<readonly [string, string]>;
  /** `[stdout, stderr]`: 'pipe' to read the lines, or a file descriptor (a log). */
  output: 'pipe' | number;
  marker: string;
}

/** How a service's first process ended, as a shell reports it. */
export interface ServiceExit {
  status: number;
  signal?: NodeJS.Signals;
}

export interface StartedService {
  child: ChildProcess;
  pid: number;
  startTime: string | null;
  watch: ProcessTreeWatch;
  exited: Promise<ServiceExit>;
}

/** Starts `sh -c command` in a session of its own. */
export function startService(input: ServiceStart): StartedService {
  const env: NodeJS.ProcessEnv = inheritedEnv(process.env);
  for (const [name, value] of input.env) env[name] = value;
  env[STACK_MARKER] = input.marker;
  const stdio = input.output === 'pipe' ? (['ignore', 'pipe', 'pipe'] as const) : (['ignore', input.output, input.output] as const);
  const child = spawn('/bin/sh', ['-c', input.command], { cwd: input.cwd, env, stdio: [...stdio], detached: true });
  const exited = new Promise<ServiceExit>((resolve) => {
    child.once('error', () => resolve({ status: 127 }));
    child.once('exit', (code, signal) => {
      if (signal) resolve({ status: 128 + (os.constants.signals[signal] ?? 0), signal });
      else resolve({ status: code ?? 1 });
    });
  });
  const pid = child.pid ?? 0;
  const watch = new ProcessTreeWatch(pid, `${STACK_MARKER}=${input.marker}`);
  watch.snapshot();
  return { child, pid, startTime: pid > 0 ? (readProcessStat(pid)?.startTime ?? null) : null, watch, exited };
}

/** True while `pid` is still the process that had `startTime` (never for a null one: that could be any process). */
export function isSameProcessAlive(pid: number, startTime: string | null): boolean {
  if (startTime === null) return false;
  const stat = readProcessStat(pid);
  if (!stat || isDeadState(stat.state)) return false;
  return stat.startTime === startTime;
}

/**
 * Ends a service's whole tree: SIGTERM to its first process's group (its session: it was started
 * with one of its own) and to every member of the tree, checked again by PID and start time;
 * SIGKILL to what is left after STACK_TERM_WAIT_MS. The first process is signalled only while it
 * is still the one started.
 */
export async function endServiceTree(root: TrackedProcess, watch: ProcessTreeWatch): Promise<void> {
  const signalAll = (signal: NodeJS.Signals): void => {
    if (isSameProcessAlive(root.pid, root.startTime)) {
      try {
        process.kill(-root.pid, signal);
      } catch {
        try {
          process.kill(root.pid, signal);
        } catch {
          /* ended meanwhile */
        }
      }
    }
    watch.signal(signal);
  };
  watch.snapshot();
  signalAll('SIGTERM');
  // A stopped process acts on SIGTERM only once it is continued.
  signalAll('SIGCONT');
  const gone = () => !isSameProcessAlive(root.pid, root.startTime) && watch.alive().length === 0;
  if (await waitUntil(gone, STACK_TERM_WAIT_MS)) return;
  watch.snapshot();
  signalAll('SIGKILL');
  await waitUntil(gone, 2_000);
}

/**
 * Resolves true once something accepts connections on `port`, false once `stopped()` says to give
 * up (the stack is ending) or `timeoutMs` has passed.
 */
export async function waitUntilListening(port: number, stopped: () => boolean, timeoutMs = Infinity): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!stopped()) {
    if (await waitForPort(port, Math.min(500, Math.max(50, deadline - Date.now())))) return true;
    if (Date.now() >= deadline) return false;
  }
  return false;
}
