import { guardedStream, isTerminal, writeErr } from '../os/stdio';

/** True when a person can be asked: stdin is a terminal. */
export function canAsk(): boolean {
  return isTerminal(0);
}

/**
 * Asks a yes/no question on stderr (stdout may be captured by `$(...)`) and reads one line from
 * the terminal. Only `y` or `yes` accepts; anything else, or end of input, declines.
 */
export async function askYesNo(question: string): Promise<boolean> {
  // require, not import(): the bundle runs in a vm.Script (lib/boot.ts), which has no loader for import().
  const readline = require('readline') as typeof import('readline');
  const rl = readline.createInterface({ input: process.stdin, output: guardedStream(2), terminal: false });
  writeErr(`${question} [y/N] `);
  try {
    const answer = await new Promise<string>((resolve) => {
      rl.once('line', resolve);
      rl.once('close', () => resolve(''));
    });
    return /^\s*y(es)?\s*$/i.test(answer);
  } finally {
    rl.close();
  }
}
