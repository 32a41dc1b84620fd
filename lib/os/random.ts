import fs = require('fs');

/**
 * `bytes` random bytes as hex, for ids, nonces and temp-file names. Read from /dev/urandom:
 * loading Node's `crypto` costs about 5 ms, a large share of a one-shot call, for the same
 * kernel randomness. Where there is no /dev/urandom (Windows), `crypto` it is.
 */
export function randomHex(bytes: number): string {
  const buffer = Buffer.alloc(bytes);
  let fd: number | undefined;
  try {
    fd = fs.openSync('/dev/urandom', 'r');
    let filled = 0;
    while (filled < bytes) {
      const n = fs.readSync(fd, buffer, filled, bytes - filled, null);
      if (n <= 0) throw new Error('short read from /dev/urandom');
      filled += n;
    }
  } catch {
    return (require('crypto') as typeof import('crypto')).randomBytes(bytes).toString('hex');
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
  return buffer.toString('hex');
}
