import { spawnSync } from 'child_process';
import * as path from 'path';
import { BIN, type Sandbox } from './cli';

export interface PtyResult {
  code: number | null;
  /** Everything the terminal showed, stdout and stderr mixed, with CRLF line ends made LF. */
  output: string;
  answered: boolean;
  /** How many answers were typed (with `answers`, one each time the prompt showed). */
  answers: number;
}

/** True where a pseudo-terminal can be had (python3 with its pty module). */
export function hasPty(): boolean {
  return spawnSync('python3', ['-c', 'import pty, termios'], { stdio: 'ignore' }).status === 0;
}

/**
 * Runs styxy on a pseudo-terminal `cols` wide, in the sandbox; when `prompt` shows, types `answer`
 * (or, with `answers`, the next of them each time the prompt shows again).
 */
export function runInPty(
  box: Sandbox,
  args: string[],
  options: { cols?: number; prompt?: string; answer?: string; answers?: string[]; env?: NodeJS.ProcessEnv; cwd?: string } = {},
): PtyResult {
  const spec = {
    argv: [process.execPath, BIN, ...args],
    env: { ...box.env, ...options.env },
    cwd: options.cwd ?? box.cwd,
    cols: options.cols ?? 80,
    timeout: 30,
    ...(options.prompt !== undefined && { prompt: options.prompt, answer: options.answer ?? '' }),
    ...(options.answers !== undefined && { answers: options.answers }),
  };
  const r = spawnSync('python3', [path.join(__dirname, 'pty-run.py'), JSON.stringify(spec)], { encoding: 'utf8', timeout: 40_000 });
  const result = JSON.parse(r.stdout) as PtyResult;
  return { ...result, output: result.output.replace(/\r\n/g, '\n') };
}
