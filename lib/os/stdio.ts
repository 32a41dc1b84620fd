import fs = require('fs');

/**
 * Writes to stdout (fd 1) or stderr (fd 2) directly with write(2). Touching `process.stdout`
 * builds a Node stream, which for a pipe loads `net` and `stream` (about 3–6 ms of a call that
 * lasts ~70 ms); a one-shot command that prints a line needs none of it. The write is
 * synchronous, so everything is out before the process exits.
 *
 * A reader that has gone away (EPIPE: `styxy list | head -1`) is not an error of Styxy's: the
 * rest of the output is dropped. A descriptor left non-blocking by whoever opened it (EAGAIN
 * once its pipe is full) hands the rest to Node's stream, which waits for the reader.
 */
export function writeFd(fd: 1 | 2, text: string): void {
  if (closed.has(fd)) return;
  if (handedOver.has(fd)) {
    guardedStream(fd).write(text);
    return;
  }
  const buffer = Buffer.from(text, 'utf8');
  let offset = 0;
  while (offset < buffer.length) {
    try {
      offset += fs.writeSync(fd, buffer, offset, buffer.length - offset);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EPIPE') {
        closed.add(fd);
        return;
      }
      if (code !== 'EAGAIN') throw err;
      // From here on the stream writes this fd, so that the output keeps its order.
      handedOver.add(fd);
      guardedStream(fd).write(buffer.subarray(offset));
      return;
    }
  }
}

export const writeOut = (text: string): void => writeFd(1, text);
export const writeErr = (text: string): void => writeFd(2, text);

const closed = new Set<number>();
const handedOver = new Set<number>();

/**
 * The Node stream for fd 1 or 2, with a reader going away (EPIPE) made quiet instead of an
 * uncaught error. For code that must use the streams: yargs' help, the prompt, the EAGAIN path.
 */
export function guardedStream(fd: 1 | 2): NodeJS.WriteStream {
  const stream = fd === 1 ? process.stdout : process.stderr;
  if (!guarded.has(stream)) {
    guarded.add(stream);
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE') throw err;
      stream.destroy();
    });
  }
  return stream;
}

const guarded = new Set<NodeJS.WriteStream>();

/**
 * True when `fd` is a terminal. Only a character device can be one, so pipes and files (the
 * usual case for scripts) are told apart with one fstat, without loading `tty` (which loads `net`).
 */
export function isTerminal(fd: 0 | 1 | 2): boolean {
  let known = terminals.get(fd);
  if (known === undefined) {
    try {
      known = fs.fstatSync(fd).isCharacterDevice() && (require('tty') as typeof import('tty')).isatty(fd);
    } catch {
      known = false;
    }
    terminals.set(fd, known);
  }
  return known;
}

const terminals = new Map<number, boolean>();
