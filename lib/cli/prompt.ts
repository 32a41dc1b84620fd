import type { Asker } from '../app/confirmation';
import { guardedStream, isTerminal, writeErr } from '../os/stdio';
import { warn, type OutputMode } from './output';

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

/**
 * Who answers a use case's questions (lib/app/confirmation.ts) in this output mode: a person at
 * the terminal, asked on stderr, for human text and `-q`; nobody for `--json` and `--env`, whose
 * reader is a program (the question then fails as CONFIRMATION_REQUIRED, with what was proposed).
 * Whether stdin is a terminal is looked at only when there is a question.
 */
export function askerFor(mode: OutputMode): Asker | undefined {
  if (mode !== 'human' && mode !== 'quiet') return undefined;
  return async (question) => {
    if (!canAsk()) return 'nobody';
    for (const line of question.context) warn(line);
    return (await askYesNo(question.prompt)) ? 'yes' : 'no';
  };
}
