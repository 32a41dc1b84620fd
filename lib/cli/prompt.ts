/** True when a person can be asked: stdin is a terminal. */
export function canAsk(): boolean {
  return Boolean(process.stdin.isTTY);
}

/**
 * Asks a yes/no question on stderr (stdout may be captured by `$(...)`) and reads one line from
 * the terminal. Only `y` or `yes` accepts; anything else, or end of input, declines.
 */
export async function askYesNo(question: string): Promise<boolean> {
  const readline = await import('readline');
  const rl = readline.createInterface({ input: process.stdin, output: process.stderr, terminal: false });
  process.stderr.write(`${question} [y/N] `);
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
