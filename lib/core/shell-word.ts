/** A word as a POSIX shell reads it: plain when safe, else single-quoted. */
export function shellWord(word: string): string {
  return /^[A-Za-z0-9._/:=@%+,-]+$/.test(word) ? word : `'${word.replace(/'/g, "'\\''")}'`;
}
