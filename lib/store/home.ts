import { StyxyError } from '../errors';
import { seam } from './fs-seam';
import type { StyxyPaths } from './paths';

const currentUid = (): number | null => (typeof process.getuid === 'function' ? process.getuid() : null);

/**
 * Creates `$STYXY_HOME` (0700) when missing and refuses one that another user owns or that
 * group/others may write, like ssh refuses such a `~/.ssh`.
 */
export function ensureHome(paths: StyxyPaths): void {
  try {
    seam.mkdirSync(paths.home, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new StyxyError('WRITE_FAILED', `Cannot create Styxy's home ${paths.home}: ${(err as Error).message}`, {
      cause: err,
      suggestions: ['Point STYXY_HOME at a directory you can write'],
    });
  }
  checkHomeSafety(paths.home);
}

export function checkHomeSafety(home: string): void {
  const stat = seam.statSync(home);
  if (!stat.isDirectory()) {
    throw new StyxyError('UNSAFE_HOME', `${home} is not a directory`, { details: { path: home } });
  }
  checkOwnership(home, stat.uid, stat.mode);
}

/**
 * Refuses a file of Styxy's that is a symlink, belongs to another user or is writable by
 * group/others. Returns false when the file does not exist.
 */
export function checkFileSafety(file: string): boolean {
  let stat;
  try {
    stat = seam.lstatSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
  if (stat.isSymbolicLink()) {
    throw new StyxyError('UNSAFE_HOME', `${file} is a symbolic link; Styxy never reads or writes through one`, {
      details: { path: file },
      suggestions: [`Inspect it, then remove it: rm ${file}`],
    });
  }
  if (!stat.isFile()) throw new StyxyError('UNSAFE_HOME', `${file} is not a regular file`, { details: { path: file } });
  checkOwnership(file, stat.uid, stat.mode);
  return true;
}

function checkOwnership(file: string, uid: number, mode: number): void {
  const me = currentUid();
  if (me === null) return; // Windows has neither uids nor these mode bits.
  if (uid !== me) {
    throw new StyxyError('UNSAFE_HOME', `${file} belongs to uid ${uid}, not to you (uid ${me})`, {
      details: { path: file, owner: uid },
      suggestions: [`If it is yours, take it back: chown -R $(id -u) ${file}`, 'Or use a home of your own: STYXY_HOME=...'],
    });
  }
  if ((mode & 0o022) !== 0) {
    throw new StyxyError('UNSAFE_HOME', `${file} is writable by group or others (mode ${(mode & 0o777).toString(8)})`, {
      details: { path: file, mode: (mode & 0o777).toString(8) },
      suggestions: [`Restrict it: chmod go-w ${file}`],
    });
  }
}
