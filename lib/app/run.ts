import { spawn, type ChildProcess } from 'child_process';
import os = require('os');
import { StyxyError } from '../errors';
import type { TransactionContext } from '../store/transaction';
import type { AllocateResult } from './allocate';

/** The signals `styxy run` passes on to its command. */
export const FORWARDED_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

export interface RunInput {
  /** The command and its arguments, as given after `--`. */
  command: readonly string[];
  /** Variables to add to the command's environment. */
  env: ReadonlyArray<readonly [string, string]>;
  port: number;
  /** `--port-flag`: appended with the port (`--port 3000`), or glued to it when it ends in `=`. */
  portFlag?: string;
}

/** How the command ended, as a shell would report it. */
export interface RunOutcome {
  /** The command's exit status, 128 + the signal's number when a signal ended it. */
  status: number;
  signal?: NodeJS.Signals;
  /** Set when the command could not be started at all (127: not found, 126: not executable). */
  startError?: string;
}

/** The command line with `{port}` replaced in every argument and the port flag appended. */
export function commandLine(input: Pick<RunInput, 'command' | 'port' | 'portFlag'>): string[] {
  const port = String(input.port);
  const line = input.command.map((arg) => arg.split('{port}').join(port));
  if (input.portFlag !== undefined) {
    if (input.portFlag.endsWith('=')) line.push(`${input.portFlag}${port}`);
    else line.push(input.portFlag, port);
  }
  return line;
}

/**
 * Starts the command with the port in its environment and waits for it to end, passing on
 * SIGINT, SIGTERM and SIGHUP. The command shares the terminal (same process group), so a Ctrl-C
 * typed there reaches it directly as well; a signal sent to `styxy run` alone reaches it through
 * Styxy.
 */
export function startAndWait(input: RunInput): Promise<RunOutcome> {
  const [file, ...args] = commandLine(input);
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const [name, value] of input.env) env[name] = value;
  return new Promise((resolve) => {
    let child: ChildProcess;
    const forward = (signal: NodeJS.Signals) => () => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    };
    const handlers = FORWARDED_SIGNALS.map((signal) => [signal, forward(signal)] as const);
    for (const [signal, handler] of handlers) process.on(signal, handler);
    const done = (outcome: RunOutcome) => {
      for (const [signal, handler] of handlers) process.off(signal, handler);
      resolve(outcome);
    };
    child = spawn(file as string, args, { stdio: 'inherit', env });
    child.once('error', (err: NodeJS.ErrnoException) => {
      const notFound = err.code === 'ENOENT';
      done({ status: notFound ? 127 : 126, startError: `cannot start ${JSON.stringify(file)}: ${notFound ? 'command not found' : err.message}` });
    });
    child.once('exit', (code, signal) => {
      if (signal) done({ status: 128 + (os.constants.signals[signal] ?? 0), signal });
      else done({ status: code ?? 1 });
    });
  });
}

/**
 * Frees the run's allocation. Should it fail (the lock held past its deadline, a read-only
 * home), the allocation still goes at the next call: its owner, this process, is about to end.
 */
export async function releaseQuietly(ctx: TransactionContext, result: AllocateResult): Promise<void> {
  const { runRelease } = await import('./release');
  try {
    await runRelease(ctx, { lockId: result.lockId });
  } catch (err) {
    const code = err instanceof StyxyError ? err.code : 'INTERNAL';
    if (code === 'NOT_FOUND') return; // released by hand meanwhile
    ctx.warn(`styxy: could not release port ${result.port} (${code}: ${(err as Error).message}); the next styxy call frees it, as its owner has ended`);
  }
}
