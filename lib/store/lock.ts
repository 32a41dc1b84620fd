import fs = require('fs');
import path = require('path');
import { StyxyError, abortedError } from '../errors';
import { randomHex } from '../os/random';
import { isDeadState, readProcessStat } from '../os/processes';
import { stageWritesIn } from './atomic-write';
import { faultPoint, seam } from './fs-seam';
import { currentHolding, inspectLock, lockSilentMs, LOCK_TOUCH_MS, prepareHolding, releaseHolding, takeOver, tryTake } from './lock-dir';
import { lockCompromised, lockFailure, lockTimeout } from './lock-errors';
import { ownHolderRecord, parseHolderRecord, readWorkMark } from './lock-holder';
import { LockQueue, sweepQueue, TICKET_TOUCH_MS, Wakeup } from './lock-queue';
import type { StyxyPaths } from './paths';

/**
 * Styxy's lock on state.json: the directory `state.json.lock/`. How it is taken, taken over and
 * released, and why a holder that lost it cannot write, is in lock-dir.ts; the holder record in
 * lock-holder.ts; the line of waiters in lock-queue.ts; the messages in lock-errors.ts. This file
 * joins them: take the lock at once when it is free (no more I/O than that), else take over a
 * reclaimable holder, else queue and sleep until it is this caller's turn.
 */

/**
 * However the line moves, a waiter gives up after this many deadlines (10 min by default): a
 * safety net only, since a fair line cannot starve a waiter, and 400 callers at once on a loaded
 * 2-core machine were measured to need close to 2 min.
 */
const ABSOLUTE_CAP_FACTOR = 60;
/** The head of the line re-checks the holder this often (a holder killed outright sends no event). */
const HEAD_RECHECK_MS = 100;
/**
 * A watching waiter re-checks the one ahead of it this often: only a waiter killed outright sends
 * no event, and in a crowd of 50 the re-checks were most of the waiting's CPU at 250 ms.
 */
const WATCHED_RECHECK_MS = 1000;
/** Without a watch, a waiter polls every POLL_STEP_MS per place from the head: the nearer, the more often. */
const POLL_STEP_MS = 3;
const MAX_SLEEP_MS = 1000;
/** Only waiters this near the head watch. */
const WATCH_WITHIN = 48;
/** Leftovers of killed callers: a staging directory, a released lock not yet removed. */
export const LOCK_LEFTOVER_PATTERN = /^state\.json\.lock\.(new|old)-(\d+)-[0-9a-f]+$/;

export function lockDeadlineMs(env: NodeJS.ProcessEnv = process.env): number {
  const value = Number(env.STYXY_LOCK_TIMEOUT_MS);
  return Number.isFinite(value) && value > 0 ? value : 10_000;
}

/** How one caller waits for the lock, beyond the deadline every caller has. */
export interface LockWait {
  /** Give up (ABORTED, nothing changed) when it fires before the lock is taken. */
  signal?: AbortSignal;
  /**
   * The most this caller waits in all, progress or not (LOCK_TIMEOUT): the Node API's
   * `lockTimeoutMs`. 0 takes a free lock (or a dead holder's) and never waits.
   */
  limitMs?: number;
}

export interface LockHandle {
  /** Throws LOCK_COMPROMISED when the lock has been lost; a cheap early look before the writes, which each prove it again. */
  assertHeld(): void;
  release(): Promise<void>;
}

/**
 * Takes the exclusive lock. A free lock is taken at once; a dead holder's lock, or that of a
 * holder of unknown liveness silent for LOCK_SILENT_MS, is taken over at once; otherwise the call
 * queues and sleeps until its turn. The deadline counts time without progress: while the lock
 * keeps changing hands a waiter keeps waiting, up to sixty deadlines in all; when one holder
 * keeps it for a whole deadline the call fails with LOCK_TIMEOUT naming the lock, the holder
 * and the remedy. Losing the lock never kills the process: its next write refuses.
 */
export async function acquireLock(paths: StyxyPaths, deadlineMs = lockDeadlineMs(), wait: LockWait = {}): Promise<LockHandle> {
  const lock = paths.lock;
  if (wait.signal?.aborted) throw abortedError(wait.signal);
  const nonce = randomHex(8);
  const record = ownHolderRecord(nonce);
  const staging = `${lock}.new-${process.pid}-${nonce}`;
  const text = JSON.stringify(record);
  try {
    prepareHolding(staging, nonce, text);
  } catch (err) {
    removeTree(staging);
    throw lockFailure(lock, paths.home, err);
  }
  try {
    if (!take(lock, staging, paths)) await waitInLine(paths, staging, nonce, text, deadlineMs, wait);
  } catch (err) {
    // Taking the lock renames the prepared directory away (onto the lock, or into the line as a
    // ticket); only a call that failed can have left it.
    removeTree(staging);
    throw err;
  }
  faultPoint('after-lock');

  const holding = path.join(lock, nonce);
  const unstage = stageWritesIn(paths.home, holding, lock);
  const stopTouching = keepRecordFresh(path.join(holding, 'holder'));
  let released = false;
  return {
    assertHeld() {
      let here = !released;
      if (here) {
        try {
          seam.lstatSync(holding);
        } catch {
          here = false;
        }
      }
      if (!here) throw lockCompromised(lock);
    },
    async release() {
      if (released) return;
      released = true;
      stopTouching();
      unstage();
      faultPoint('before-unlock');
      releaseHolding(lock, nonce, `${lock}.old-${process.pid}-${nonce}`);
    },
  };
}

/**
 * Keeps the holder's record fresh for callers that cannot see this process (another PID
 * namespace or host), until the returned function is called. A timer fires only once the event
 * loop turns, and an everyday section ends within the turn it began in; so the touching starts at
 * the first turn with the lock still held, and a short section never sets up Node's timers (about
 * 0.3 ms of a one-shot call).
 */
function keepRecordFresh(recordFile: string): () => void {
  let touch: NodeJS.Timeout | undefined;
  const startTouching = setImmediate(() => {
    touch = setInterval(() => {
      try {
        const now = new Date();
        fs.utimesSync(recordFile, now, now);
      } catch {
        /* lost: the next write will tell */
      }
    }, LOCK_TOUCH_MS);
    touch.unref();
  });
  startTouching.unref();
  return () => {
    clearImmediate(startTouching);
    if (touch) clearInterval(touch);
  };
}

/**
 * One attempt: take the lock if free, or (with `judge`) take over a reclaimable holder and then
 * take it. Judging reads the holder's record and its process; a waiter woken because the lock
 * changed hands skips it, as a holder that has just come cannot be a dead one yet.
 */
function take(lock: string, staging: string, paths: StyxyPaths, judge = true): boolean {
  if (attempt(lock, staging, paths)) return true;
  if (!judge) return false;
  const state = inspectLock(lock);
  if (state.kind === 'reclaimable' && takeOver(lock, state.holding, `${lock}.old-${process.pid}-${randomHex(8)}`)) return attempt(lock, staging, paths);
  return false;
}

function attempt(lock: string, staging: string, paths: StyxyPaths): boolean {
  try {
    return tryTake(lock, staging);
  } catch (err) {
    throw lockFailure(lock, paths.home, err);
  }
}

/**
 * Waits in line: moves the prepared holding into the queue as a ticket, sleeps until the ticket
 * ahead is gone (watching it), then, at the head, until the lock changes hands (watching the
 * lock directory), and renames the ticket onto the lock. A timed re-check catches what sends no
 * event (a waiter or holder killed outright) and stands in for fs.watch where there is none.
 */
async function waitInLine(paths: StyxyPaths, staging: string, nonce: string, record: string, deadlineMs: number, wait: LockWait): Promise<void> {
  const lock = paths.lock;
  const queue = new LockQueue(lock);
  const wake = new Wakeup();
  const bounds = new CallerBounds(lock, wait, wake);
  let ticket = enqueue(queue, staging, nonce, paths);
  const touch = setInterval(() => queue.touch(ticket), TICKET_TOUCH_MS).unref();
  const progress = new WaitProgress(lock, bounds.started, deadlineMs, wait.limitMs);
  let freeBefore = false;
  let taken = false;
  let woken = false;
  try {
    for (;;) {
      bounds.check();
      // The facts are gathered before the deadline is judged: on a busy file system the looking
      // itself can block for seconds, and what it finds (a holder still in the disk) is progress.
      const tickets = queue.list();
      const mine = tickets.indexOf(ticket);
      if (mine < 0) {
        // Judged dead by mistake (its touches came late): back in line with a new ticket.
        removeTree(staging);
        prepareHolding(staging, nonce, record);
        ticket = enqueue(queue, staging, nonce, paths);
        continue;
      }
      const ahead = mine === 0 ? null : (tickets[mine - 1] as string);
      const holding = currentHolding(lock);
      progress.judge(ahead, holding, Date.now());
      wake.arm();
      if (ahead === null) {
        // At the head: watch first, so that a release between the attempt and the sleep still wakes us.
        const watched = wake.watch(lock);
        if ((taken = take(lock, queue.file(ticket), paths, !woken))) return;
        woken = await bounds.nap(watched === 'ok' ? HEAD_RECHECK_MS : POLL_STEP_MS);
        continue;
      }
      if (queue.isDead(ahead)) {
        queue.remove(ahead);
        continue;
      }
      // Far back in a long line, polling slowly costs less than a watch, and leaves the system's
      // few inotify instances (128 per user by default) to the waiters near the head.
      const watched = mine <= WATCH_WITHIN ? wake.watch(queue.file(ahead)) : 'unavailable';
      if (watched === 'gone') continue;
      // The lock free at two looks in a row while the line stands still: the head is stopped or
      // starved of CPU, and waiting for it helps no one.
      const free = holding === null;
      if (free && freeBefore && (taken = take(lock, queue.file(ticket), paths))) return;
      freeBefore = free;
      woken = await bounds.nap(watched === 'ok' ? WATCHED_RECHECK_MS : clamp(POLL_STEP_MS * mine, POLL_STEP_MS, MAX_SLEEP_MS));
    }
  } finally {
    bounds.close();
    clearInterval(touch);
    wake.close();
    if (!taken) queue.remove(ticket);
    queue.removeIfEmpty();
  }
}

/**
 * What ends one caller's wait early, beyond the deadline every caller has (LockWait): its signal,
 * which wakes the sleeper at once so that the next look gives up, and its limit, which no nap
 * outlasts. A limit of 0 refuses to queue at all.
 */
class CallerBounds {
  readonly started = Date.now();
  private listening = false;
  private readonly onAbort = () => this.wake.interrupt();

  constructor(
    lock: string,
    private readonly wait: LockWait,
    private readonly wake: Wakeup,
  ) {
    if (wait.limitMs !== undefined && wait.limitMs <= 0) throw lockTimeout(lock, 0, inspectLock(lock), lockSilentMs());
  }

  check(): void {
    if (this.wait.signal?.aborted) throw abortedError(this.wait.signal);
  }

  /** Sleeps (see Wakeup.sleep); listening to the signal from the first nap on, until close(). */
  nap(ms: number): Promise<boolean> {
    if (!this.listening) this.wait.signal?.addEventListener('abort', this.onAbort, { once: true });
    this.listening = true;
    if (this.wait.signal?.aborted) return Promise.resolve(true);
    const { limitMs } = this.wait;
    return this.wake.sleep(limitMs === undefined ? ms : clamp(this.started + limitMs - Date.now(), 1, ms));
  }

  close(): void {
    this.wait.signal?.removeEventListener('abort', this.onAbort);
  }
}

/**
 * The waiter's deadline counts time without progress: the line moving, the lock changing hands,
 * or (judged from half a deadline on) the same holder still working. It fails with LOCK_TIMEOUT
 * after a whole deadline without any, or after ABSOLUTE_CAP_FACTOR deadlines in all.
 */
class WaitProgress {
  private lastAhead: string | null | undefined;
  private lastHolding: string | null | undefined;
  private lastMark: string | null = null;
  private lastProgress: number;

  constructor(
    private readonly lock: string,
    private readonly started: number,
    private readonly deadlineMs: number,
    private readonly limitMs: number | undefined,
  ) {
    this.lastProgress = started;
  }

  judge(ahead: string | null, holding: string | null, now: number): void {
    if (ahead !== this.lastAhead || holding !== this.lastHolding) {
      this.lastAhead = ahead;
      this.lastHolding = holding;
      this.lastProgress = now;
    } else if (holding !== null && now - this.lastProgress >= this.deadlineMs / 2) {
      // A holder that still works (on a loaded machine, a slow disk) is progress too; a stopped one is not.
      const mark = holderWorkMark(this.lock, holding);
      if (mark !== null && mark !== this.lastMark) {
        this.lastMark = mark;
        this.lastProgress = now;
      }
    }
    const waited = now - this.started;
    if (
      now - this.lastProgress >= this.deadlineMs ||
      waited >= this.deadlineMs * ABSOLUTE_CAP_FACTOR ||
      (this.limitMs !== undefined && waited >= this.limitMs)
    ) {
      throw lockTimeout(this.lock, now - this.started, inspectLock(this.lock), lockSilentMs());
    }
  }
}

/** The work mark of the holder named `holding` (see readWorkMark); null when it cannot be told. */
function holderWorkMark(lock: string, holding: string): string | null {
  try {
    const holder = parseHolderRecord(seam.readFileSync(path.join(lock, holding, 'holder'), 'utf8') as string);
    return holder ? readWorkMark(holder) : null;
  } catch {
    return null;
  }
}

function clamp(value: number, low: number, high: number): number {
  return Math.min(high, Math.max(low, value));
}

function enqueue(queue: LockQueue, staging: string, nonce: string, paths: StyxyPaths): string {
  try {
    return queue.enqueue(staging, nonce);
  } catch (err) {
    throw lockFailure(paths.lock, paths.home, err);
  }
}

/** Removes a lock-shaped directory (its files, takeover guards, a holding inside it, then itself), or a waiter's ticket. */
function removeTree(dir: string): void {
  let names: string[];
  try {
    names = seam.readdirSync(dir) as string[];
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOTDIR') removeFile(dir);
    return;
  }
  for (const name of names) {
    const full = path.join(dir, name);
    try {
      if (name.startsWith('takeover-')) seam.rmdirSync(full);
      else if (seam.lstatSync(full).isDirectory()) removeTree(full);
      else seam.unlinkSync(full);
    } catch {
      /* raced with its owner */
    }
  }
  removeEmptyDir(dir);
}

function removeFile(file: string): void {
  try {
    seam.unlinkSync(file);
  } catch {
    /* gone already */
  }
}

function removeEmptyDir(dir: string): void {
  try {
    seam.rmdirSync(dir);
  } catch {
    /* not empty after all, or gone */
  }
}

/**
 * Removes the staging and released-lock directories of callers that were killed. Called under
 * the lock; a directory whose PID still runs belongs to a live waiter and stays.
 */
export function sweepLockLeftovers(paths: StyxyPaths, names: readonly string[]): void {
  for (const name of names) {
    if (!isDeadLockLeftover(name)) continue;
    const leftover = path.join(paths.home, name);
    // Styxy's leftovers are directories; a symlink in their place would have its target emptied.
    let isLink: boolean;
    try {
      isLink = seam.lstatSync(leftover).isSymbolicLink();
    } catch {
      continue;
    }
    if (isLink)
      throw new StyxyError('UNSAFE_HOME', `${leftover} is a symbolic link; Styxy never removes anything through one`, {
        details: { path: leftover },
        suggestions: [`Inspect it, then remove the link itself: rm ${leftover}`],
      });
    removeTree(leftover);
  }
  if (names.includes(`${path.basename(paths.lock)}.queue`)) sweepQueue(paths.lock);
}

/** A staging or released-lock directory whose process has ended. */
export function isDeadLockLeftover(name: string): boolean {
  const match = LOCK_LEFTOVER_PATTERN.exec(name);
  if (!match) return false;
  const stat = readProcessStat(Number(match[2]));
  return !stat || isDeadState(stat.state);
}

export { inspectLock, type LockState } from './lock-dir';
export { describeLockState } from './lock-errors';
