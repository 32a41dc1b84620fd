import { StyxyError } from '../errors';
import { shellWord } from '../core/shell-word';
import { seam } from './fs-seam';

/**
 * The largest files Styxy will read. A state holds at most one allocation per port (~64 500 of
 * a few hundred bytes each); a config with a thousand service types is well under 1 MB. Anything
 * larger was not written by Styxy, and parsing it would cost seconds and hundreds of MB.
 */
export const STATE_MAX_BYTES = 16 * 1024 * 1024;
export const CONFIG_MAX_BYTES = 4 * 1024 * 1024;

export class FileTooLarge extends Error {
  readonly code = 'EFBIG';
  constructor(
    readonly file: string,
    readonly size: number,
    readonly limit: number,
  ) {
    super(`${file} is ${megabytes(size)}, larger than the ${megabytes(limit)} Styxy reads`);
  }

  /** The reason without the file name. */
  get reason(): string {
    return `${megabytes(this.size)}, over the ${megabytes(this.limit)} limit`;
  }
}

/**
 * Opens one of Styxy's files for reading. One its owner may not read (mode 000, say) is said to
 * be so, with the remedy, rather than as an unexpected error.
 */
function openForReading(file: string): number {
  try {
    return seam.openSync(file, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EACCES' && code !== 'EPERM') throw err;
    throw new StyxyError('UNSAFE_HOME', `${file} cannot be read: permission denied; nothing was changed`, {
      details: { path: file, errno: code },
      suggestions: [`Give it back to yourself, readable: chmod u+rw ${shellWord(file)}`],
      cause: err,
    });
  }
}

/** Reads a UTF-8 file unless it is larger than `limit` bytes (checked on the open file, before reading a byte of it). */
export function readTextCapped(file: string, limit: number): string {
  const fd = openForReading(file);
  try {
    const size = seam.fstatSync(fd).size;
    if (size > limit) throw new FileTooLarge(file, size, limit);
    return seam.readFileSync(fd, 'utf8') as string;
  } finally {
    seam.closeSync(fd);
  }
}

/** The bytes of a file unless it is larger than `limit` (checked on the open file, before reading a byte of it). */
export function readBytesCapped(file: string, limit: number): Buffer {
  const fd = openForReading(file);
  try {
    const size = seam.fstatSync(fd).size;
    if (size > limit) throw new FileTooLarge(file, size, limit);
    return seam.readFileSync(fd) as Buffer;
  } finally {
    seam.closeSync(fd);
  }
}

function megabytes(bytes: number): string {
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}
