/**
 * The `STYXY_TEST_*` variables: how Styxy's own tests reach inside a real run of the built CLI,
 * to show what happens at a moment no user can reach on purpose (a crash between two writes, a
 * disk that fills mid-append, a Windows host on a Linux machine). This is the one module that reads
 * them (test/unit/os/test-hooks.test.ts checks that nothing else in lib/ does), so the whole list
 * of ways a test can bend Styxy is here. Each is unset on every user's machine, and then changes
 * nothing.
 */
export interface TestHooks {
  /**
   * `STYXY_TEST_PLATFORM`: stands in for `process.platform`, so that the refusal of native
   * Windows (lib/os/platform.ts), which must happen before anything is read, is tested here.
   */
  readonly platform: string | undefined;
  /**
   * `STYXY_TEST_KILL_AT`: the fault point (`faultPoint`, lib/store/fs-seam.ts) where the process
   * SIGKILLs itself, to prove that a crash at any step leaves the old state or the new, never a mix.
   */
  readonly killAt: string | undefined;
  /**
   * `STYXY_TEST_STOP_AT`: the fault point where the process SIGSTOPs itself, as a stalled disk or
   * a debugger would hold it, to prove that a holder whose lock was taken over never writes.
   */
  readonly stopAt: string | undefined;
  /**
   * `STYXY_TEST_FAIL_AT`: the fault point that fails once with EIO, as a transient I/O error
   * would, to prove that a half-done change (an auto-allocation, an undo) is rolled back.
   */
  readonly failAt: string | undefined;
  /**
   * `STYXY_TEST_FULL_AT`: from this fault point on the disk is full (one short write, then
   * ENOSPC), to prove that a full disk mid-write loses nothing and leaves whole lines.
   */
  readonly fullAt: string | undefined;
  /**
   * `STYXY_TEST_LOCK_SILENT_MS`: replaces how long a holder of unknown liveness may stay silent
   * before its lock is taken over (30 s), so that a test shows such a takeover without waiting.
   */
  readonly lockSilentMs: number | undefined;
  /**
   * `STYXY_TEST_FORWARD_GRACE_MS`: replaces how long a command `styxy run` passed a signal to has
   * before its whole tree is ended (5 s), so that a test watches a stubborn command end.
   */
  readonly forwardGraceMs: number | undefined;
}

/** A positive number of milliseconds, or undefined for anything else (then the default holds). */
function positiveMs(text: string | undefined): number | undefined {
  const value = Number(text);
  return text !== undefined && text !== '' && Number.isFinite(value) && value > 0 ? value : undefined;
}

/** The hooks `env` sets; an empty value is unset. */
export function readTestHooks(env: NodeJS.ProcessEnv): TestHooks {
  return {
    platform: env.STYXY_TEST_PLATFORM || undefined,
    killAt: env.STYXY_TEST_KILL_AT,
    stopAt: env.STYXY_TEST_STOP_AT,
    failAt: env.STYXY_TEST_FAIL_AT,
    fullAt: env.STYXY_TEST_FULL_AT,
    lockSilentMs: positiveMs(env.STYXY_TEST_LOCK_SILENT_MS),
    forwardGraceMs: positiveMs(env.STYXY_TEST_FORWARD_GRACE_MS),
  };
}

let hooks: TestHooks | undefined;

/**
 * This process's hooks, read from its environment once: a test sets them for the whole CLI run
 * it starts, and the fault points on the everyday path then cost one property read each.
 */
export function testHooks(): TestHooks {
  return (hooks ??= readTestHooks(process.env));
}
