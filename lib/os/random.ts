import fs = require('fs');

/**
 * `bytes` random bytes as hex, for ids, nonces and temp-file names. Read from /dev/urandom:
 * loading Node's `crypto` costs about 5 ms, a large share of a one-shot call, for the same
 * kernel randomness. A call needs a few of these (the lock's nonce, a temp file's name, an
 * allocation's id), so they are drawn from one read of POOL_BYTES, made when first needed, and
 * each byte is handed out once. Where there is no /dev/urandom (Windows), `crypto` it is.
 */
export function randomHex(bytes: number): string {
  if (bytes > POOL_BYTES) return readRandom(bytes).toString('hex');
  if (pool.length - used < bytes) {
    pool = readRandom(POOL_BYTES);
    used = 0;
  }
  used += bytes;
  return pool.toString('hex', used - bytes, used);
}

const POOL_BYTES = 64;
let pool: Buffer = Buffer.alloc(0);
let used = 0;

function readRandom(bytes: number): Buffer {
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
    return (require('crypto') as typeof import('crypto')).randomBytes(bytes);
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
  return buffer;
}
