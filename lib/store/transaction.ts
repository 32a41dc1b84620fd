import type { ConfigLayer, State } from '../core/types';
import { abortedError } from '../errors';
import { appendAudit, type AuditInput } from './audit-log';
import { pruneBackups } from './backups';
import { describeProblems, loadConfig, loadConfigTolerant, undoConfigWrite, writeUserConfig, type ConfigWrite, type LoadedConfig } from './config-files';
import { seam } from './fs-seam';
import { checkFileSafety, ensureHome } from './home';
import { acquireLock, lockDeadlineMs, sweepLockLeftovers, type LockHandle } from './lock';
import { TEMP_FILE_PATTERN, type StyxyPaths } from './paths';
import { mergeSettled, readState, setAsideSettledLeftovers, writeState, type StateRead } from './state-file';
import { isWellFormedSummary } from '../core/settled';
import { isoTime } from '../core/time';

export interface TransactionContext {
  paths: StyxyPaths;
  cwd: string;
  now: () => number;
  /**
   * Where warnings go (stderr in the CLI), each with a stable code (`STYXY_*`) for the Node API's
   * StyxyWarning; one given none is STYXY_WARNING.
   */
  warn: (message: string, code?: string) => void;
  /**
   * The Node API's `signal`: fired before the call's first lock is taken, the call gives up
   * (ABORTED) having changed nothing. withTransaction clears it once it holds the lock, since
   * from there a call runs to its end (a stop that has signalled a tree still releases its port).
   */
  signal?: AbortSignal;
  /** The Node API's `lockTimeoutMs`: the most this call waits for its first lock, progress or not. */
  lockTimeoutMs?: number;
}

export interface TransactionView {
  config: LoadedConfig;
  state: State;
}

export interface TransactionOutcome<T> {
  result: T;
  /** The new state; written only when it is a different object from the one read. */
  state?: State;
  /** The user's new config.json; backed up and written when given. */
  userConfig?: ConfigLayer;
  audit?: AuditInput[];
  /** Runs after everything has been written, still under the lock; a failure there is only a warning. */
  afterCommit?: () => void;
  /**
   * Write the state before the config. The config goes first by default, so that the state never
   * names a type the config does not have yet (a new type). A change that takes a type away
   * (undo of an auto-allocation) needs the reverse: its allocations leave the state before the
   * type leaves the config, so that a crash between the two leaves the old config with the new
   * state, which holds together, and asking again finishes the change.
   */
  stateFirst?: boolean;
}

export interface TransactionOptions {
  /**
   * The command needs only the state (list, check, scan, release, cleanup): an invalid config
   * is a warning, and the layers without a problem are used. Everything that allocates or
   * changes the config leaves this off, and INVALID_CONFIG stops it.
   */
  configOptional?: boolean;
  /**
   * The work needs of the settled allocations (core/settled.ts) only the ports they hold, given
   * the config and the state as read with its summary: then their file is not read. Without it,
   * or when it answers false, the state is read whole.
   */
  summaryWillDo?: (config: LoadedConfig, state: State) => boolean;
}

/** What `withTransaction` hands back: the work's result, and what the commit did. */
export interface TransactionCommit<T> {
  result: T;
  /** Where the user's previous config.json was copied, when it was rewritten. */
  configBackup: string | null;
}

/**
 * The one place where Styxy reads and writes its shared files: lock, sweep leftovers of killed
 * writers, read config and state, let `work` decide, write what changed, append the audit
 * events, unlock. Nothing is written unless `work` returns; a lost lock refuses every write.
 */
export async function withTransaction<T>(
  ctx: TransactionContext,
  work: (view: TransactionView) => Promise<TransactionOutcome<T>> | TransactionOutcome<T>,
  options: TransactionOptions = {},
): Promise<TransactionCommit<T>> {
  const { paths } = ctx;
  if (ctx.signal?.aborted) throw abortedError(ctx.signal);
  ensureHome(paths);
  checkFileSafety(paths.audit);
  const lock = await acquireLock(paths, lockDeadlineMs(), {
    ...(ctx.signal && { signal: ctx.signal }),
    ...(ctx.lockTimeoutMs !== undefined && { limitMs: ctx.lockTimeoutMs }),
  });
  // Both bound the wait for the call's first lock only: once it holds one, the call runs to its
  // end (a stop that has signalled still takes the lock again to release).
  delete ctx.signal;
  delete ctx.lockTimeoutMs;
  try {
    const names = sweepTempFiles(paths);
    const config = options.configOptional ? loadConfigWarning(ctx) : loadConfig(paths, ctx.cwd);
    let read = readState(paths, ctx.now(), { settled: options.summaryWillDo ? 'summary' : 'merge' });
    const summary = read.state.settled;
    if (summary && (!isWellFormedSummary(summary) || !options.summaryWillDo?.(config, read.state))) read = mergeSettled(paths, ctx.now(), read);
    if (read.movedCorruptTo) {
      ctx.warn(
        `styxy: state.json was unusable (${read.corruptReason}); moved it to ${read.movedCorruptTo} and started from an empty state`,
        'STYXY_STATE_CORRUPT',
      );
    }
    if (read.settledProblem) {
      const { reason, movedTo } = read.settledProblem;
      ctx.warn(
        read.settled
          ? `styxy: ${reason}; wrote the true one into state.json (no allocation was dropped)`
          : `styxy: the settled allocations could not be used (${reason})${movedTo ? `; moved the file to ${movedTo}` : ''}; going on without them`,
        'STYXY_SETTLED_PROBLEM',
      );
    }
    for (const { from, file, count, reason } of read.setAside ?? []) {
      ctx.warn(
        `styxy: ${count} record(s) of ${from} fail the state schema (${reason}); set them aside in ${paths.home}/${file} and kept every other allocation (styxy doctor lists it)`,
        'STYXY_RECORDS_SET_ASIDE',
      );
    }
    const orphans = setAsideSettledLeftovers(paths, names, read, ctx.now());
    if (orphans.length > 0) {
      ctx.warn(
        `styxy: set aside ${orphans.join(', ')}: settled allocations state.json does not refer to (left by an interrupted write, or by a state.json put back or removed); kept for inspection`,
        'STYXY_SETTLED_LEFTOVERS',
      );
    }
    const outcome = await work({ config, state: read.state });
    const configBackup = writeOutcome(ctx, lock, read, outcome);
    recordCommit(ctx, outcome, configBackup);
    return { result: outcome.result, configBackup };
  } finally {
    await lock.release();
  }
}

/** The state to write: the work's, when it is not the one read (or the file read was moved aside). */
function changedState(read: StateRead, outcome: TransactionOutcome<unknown>): State | null {
  if (outcome.state === undefined) return null;
  return outcome.state !== read.state || read.movedCorruptTo !== undefined ? outcome.state : null;
}

/**
 * Config first, then state: when the state cannot be written, the config is put back. With
 * `stateFirst`, the other way round, the state put back when the config cannot be written.
 * Returns the config's backup.
 */
function writeOutcome(ctx: TransactionContext, lock: LockHandle, read: StateRead, outcome: TransactionOutcome<unknown>): string | null {
  const state = changedState(read, outcome);
  if (state || outcome.userConfig) lock.assertHeld();
  if (outcome.stateFirst && state && outcome.userConfig) {
    writeState(ctx.paths, state, read);
    try {
      return writeUserConfig(ctx.paths, outcome.userConfig, ctx.now()).backup;
    } catch (err) {
      putStateBack(ctx, read);
      throw err;
    }
  }
  const configWrite = outcome.userConfig ? writeUserConfig(ctx.paths, outcome.userConfig, ctx.now()) : null;
  if (!state) return configWrite?.backup ?? null;
  try {
    writeState(ctx.paths, state, read);
  } catch (err) {
    if (configWrite) putConfigBack(ctx, configWrite);
    throw err;
  }
  return configWrite?.backup ?? null;
}

/**
 * Writes the state read back, whole: not against the layout read, whose settled file the write
 * just made may have replaced (a settled file left over is set aside by the next call).
 */
function putStateBack(ctx: TransactionContext, read: StateRead): void {
  try {
    writeState(ctx.paths, read.state);
  } catch (undoErr) {
    // The new state with the old config still holds together (see stateFirst): only the change is half made.
    ctx.warn(`styxy: state.json could not be put back (${(undoErr as Error).message}); the allocations released stay released`, 'STYXY_UNDO_FAILED');
  }
}

function putConfigBack(ctx: TransactionContext, configWrite: ConfigWrite): void {
  try {
    undoConfigWrite(ctx.paths, configWrite);
  } catch (undoErr) {
    ctx.warn(`styxy: config.json could not be put back (${(undoErr as Error).message}); its previous text is in ${configWrite.backup}`, 'STYXY_UNDO_FAILED');
  }
}

/** Committed. What follows records the change; failing there must not report it as not made. */
function recordCommit(ctx: TransactionContext, outcome: TransactionOutcome<unknown>, configBackup: string | null): void {
  if (configBackup) afterwards(ctx, 'dropping old config backups', () => pruneBackups(ctx.paths));
  if (outcome.audit?.length) {
    const timestamp = isoTime(ctx.now());
    const events = outcome.audit.map((e) => ({ timestamp, ...e }));
    afterwards(ctx, 'writing the audit log', () => appendAudit(ctx.paths, events));
  }
  if (outcome.afterCommit) afterwards(ctx, 'finishing', outcome.afterCommit);
}

function loadConfigWarning(ctx: TransactionContext): LoadedConfig {
  const { config, problems } = loadConfigTolerant(ctx.paths, ctx.cwd);
  if (problems.length > 0) {
    const skipped = [...new Set(problems.map((p) => p.file))].filter((f) => f !== config.projectFile && f !== config.userFile);
    const lines = describeProblems(problems)
      .map((line) => `  ${line}`)
      .join('\n');
    ctx.warn(
      `styxy: warning: the config is invalid; this command goes on without ${skipped.length ? skipped.join(', ') : 'the layers that break it'} (allocate, run and config changes refuse until it is fixed):\n${lines}\n  hint: check it with: styxy config validate`,
      'STYXY_CONFIG_INVALID',
    );
  }
  return config;
}

function afterwards(ctx: TransactionContext, what: string, step: () => void): void {
  try {
    step();
  } catch (err) {
    // The step's own error may say "nothing was changed" of its file; the change itself was made.
    const reason = (err as Error).message.replace(/; nothing was changed$/, '; that file was left as it was');
    ctx.warn(`styxy: the change was made, but ${what} failed: ${reason}`, 'STYXY_AFTER_COMMIT_FAILED');
  }
}

/** While the lock is held no writer is running, so every temp file present is a leftover. Returns the home's names. */
function sweepTempFiles(paths: StyxyPaths): string[] {
  const names = seam.readdirSync(paths.home) as string[];
  sweepLockLeftovers(paths, names);
  for (const name of names) {
    if (TEMP_FILE_PATTERN.test(name)) {
      try {
        seam.unlinkSync(`${paths.home}/${name}`);
      } catch {
        /* raced with nothing: we hold the lock */
      }
    }
  }
  return names;
}
