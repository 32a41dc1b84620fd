import fs = require('fs');
import path = require('path');
import { seam } from './fs-seam';
import { parseHolderRecord, processLiveness, type HolderRecord } from './lock-holder';
import { shareCreatedDir } from './shared-home';

/**
 * The line of callers waiting for a held lock, so that they are served oldest first and sleep
 * meanwhile. A waiter's ticket is its prepared holding itself, moved into `<lock>.queue/` under
 * the name `<time>-<nonce>-<pid>` (time in fixed-width hex, so that names sort by age); taking
 * the lock renames the ticket onto the lock, so leaving the line and taking the lock are one
 * step. A waiter watches only the ticket just ahead of its own; a ticket whose waiter has died is
 * removed by the waiter behind it, so a dead waiter never blocks the line.
 */
export class LockQueue {
  readonly dir: string;

  constructor(private readonly lock: string) {
    this.dir = `${lock}.queue`;
  }

  /** Moves the prepared holding `staging` (for holder `nonce`) to the end of the line; returns the ticket's name. */
  enqueue(staging: string, nonce: string): string {
    const name = `${Date.now().toString(16).padStart(11, '0')}-${nonce}-${process.pid}`;
    for (let attempt = 0; ; attempt++) {
      try {
        seam.mkdirSync(this.dir, { mode: 0o700 });
        shareCreatedDir(this.dir);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      try {
        seam.renameSync(staging, this.file(name));
        return name;
      } catch (err) {
        // The last waiter out removed the empty queue between the two steps.
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || attempt >= 20) throw err;
      }
    }
  }

  /** Every ticket, oldest first. */
  list(): string[] {
    try {
      return (seam.readdirSync(this.dir) as string[]).filter((n) => TICKET.test(n)).sort();
    } catch {
      return [];
    }
  }

  file(name: string): string {
    return path.join(this.dir, name);
  }

  exists(name: string): boolean {
    try {
      seam.lstatSync(this.file(name));
      return true;
    } catch {
      return false;
    }
  }

  private record(name: string): string {
    return path.join(this.dir, name, (TICKET.exec(name) as RegExpExecArray)[1] as string, 'holder');
  }

  /** Keeps a ticket fresh, for waiters that cannot see this process (another PID namespace or host). */
  touch(name: string): void {
    try {
      const now = new Date();
      fs.utimesSync(this.record(name), now, now);
    } catch {
      /* taken, or removed as dead: the waiter notices */
    }
  }

  /** Whether the waiter behind `name` has ended: by its PID where that can be seen, else by a ticket left untouched. */
  isDead(name: string, now = Date.now()): boolean {
    let holder = this.holders.get(name);
    if (holder === undefined) {
      try {
        holder = parseHolderRecord(seam.readFileSync(this.record(name), 'utf8') as string);
      } catch {
        holder = null;
      }
      this.holders.set(name, holder);
    }
    const liveness = holder ? processLiveness(holder) : 'unknown';
    if (liveness !== 'unknown') return liveness === 'dead';
    try {
      return now - seam.statSync(this.record(name)).mtimeMs > TICKET_SILENT_MS;
    } catch {
      return false;
    }
  }

  private readonly holders = new Map<string, HolderRecord | null>();

  /**
   * Removes a ticket (a dead waiter's, or this waiter's own when it gives up): first moved out of
   * the line whole, to a leftover name of this process's own, so that a remover killed halfway
   * leaves no half ticket in the line, only a leftover the next call sweeps.
   */
  remove(name: string): void {
    this.holders.delete(name);
    const nonce = (TICKET.exec(name) as RegExpExecArray)[1] as string;
    const ticket = `${this.lock}.old-${process.pid}-${nonce}`;
    try {
      seam.renameSync(this.file(name), ticket);
    } catch {
      return;
    }
    for (const [file, isDir] of [
      [path.join(ticket, nonce, 'holder'), false],
      [path.join(ticket, nonce), true],
      [ticket, true],
    ] as const) {
      try {
        if (isDir) seam.rmdirSync(file);
        else seam.unlinkSync(file);
      } catch {
        /* gone already */
      }
    }
  }

  /** Removes the queue once it is empty. */
  removeIfEmpty(): void {
    try {
      seam.rmdirSync(this.dir);
    } catch {
      /* others still wait */
    }
  }
}

const TICKET = /^[0-9a-f]{11}-([0-9a-f]{16})-\d+$/;

/**
 * Removes the tickets of ended waiters from the head of the line up to the first live one, then
 * the queue if it is empty; run under the lock. A dead ticket behind a live one is its
 * successor's to remove, or a later sweep's: the holder's section stays short in a long line.
 */
export function sweepQueue(lock: string): void {
  const queue = new LockQueue(lock);
  for (const name of queue.list()) {
    if (!queue.isDead(name)) return;
    queue.remove(name);
  }
  queue.removeIfEmpty();
}

/** A waiter refreshes its ticket this often; one untouched for TICKET_SILENT_MS is a dead waiter's. */
export const TICKET_TOUCH_MS = 2000;
const TICKET_SILENT_MS = 10_000;
/** After fs.watch fails (no inotify instance left, say), it is tried again after this long. */
const WATCH_RETRY_MS = 1000;

/**
 * Sleeps until something changes at a watched path or a timeout passes, whichever is first.
 * Changes that come between `arm()` and `sleep()` are not lost. Uses fs.watch (inotify on Linux,
 * FSEvents/kqueue on macOS), which may be unavailable: then the caller's timeout is all there is.
 */
export class Wakeup {
  private watcher: fs.FSWatcher | null = null;
  private target: string | null = null;
  private pending = false;
  private wake: (() => void) | null = null;
  private failedAt = -Infinity;

  /** Watches `target`: 'ok', 'gone' when it does not exist, 'unavailable' when the system cannot watch. */
  watch(target: string): 'ok' | 'gone' | 'unavailable' {
    if (this.target === target && this.watcher) return 'ok';
    this.close();
    if (Date.now() - this.failedAt < WATCH_RETRY_MS) return 'unavailable';
    try {
      this.watcher = fs.watch(target, { persistent: false }, () => this.fire());
      this.watcher.on('error', () => {
        this.close();
        this.fire();
      });
      this.target = target;
      return 'ok';
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 'gone';
      this.failedAt = Date.now();
      return 'unavailable';
    }
  }

  get watching(): boolean {
    return this.watcher !== null;
  }

  arm(): void {
    this.pending = false;
  }

  /** Resolves true when woken by a change, false when the time ran out. */
  sleep(ms: number): Promise<boolean> {
    if (this.pending) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wake = null;
        resolve(false);
      }, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve(true);
      };
    });
  }

  /** Wakes a sleeper now, as a change would (an aborted wait). */
  interrupt(): void {
    this.fire();
  }

  close(): void {
    if (this.watcher) {
      try {
        this.watcher.close();
      } catch {
        /* closed already */
      }
    }
    this.watcher = null;
    this.target = null;
  }

  /** A watch fires once: the path may now name another inode (a lock taken anew), so the next look watches afresh. */
  private fire(): void {
    this.close();
    this.pending = true;
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }
}
