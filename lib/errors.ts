/**
 * Every expected failure in Styxy is a StyxyError with a stable `code`. The code decides the exit
 * status (see EXIT_CODES and the table in docs/cli.md); messages may change, codes never do.
 */

export const EXIT_CODES = {
  OK: 0,
  INTERNAL: 1,
  USAGE: 2,
  INVALID_ARGUMENT: 3,
  UNKNOWN_SERVICE_TYPE: 4,
  RANGE_EXHAUSTED: 5,
  AUTO_ALLOCATION_FAILED: 6,
  CONFIRMATION_REQUIRED: 7,
  NOT_FOUND: 8,
  INVALID_CONFIG: 9,
  LOCK_TIMEOUT: 10,
  UNSAFE_HOME: 11,
  LOCK_COMPROMISED: 12,
  WRITE_FAILED: 13,
  WAIT_TIMEOUT: 14,
  NEEDS_ATTENTION: 15,
  SIMILAR_SERVICE_TYPE: 16,
  STATE_TOO_NEW: 17,
  UNSUPPORTED_PLATFORM: 18,
  SERVER_EXITED: 19,
  FORCE_REQUIRED: 20,
  STOP_FAILED: 21,
  STACK_RUNNING: 22,
  COMPOSE_UNAVAILABLE: 23,
  NOT_PERMITTED: 24,
  PORT_TAKEN: 25,
  STOP_REFUSED: 26,
  ABORTED: 27,
} as const;

export type ErrorCode = Exclude<keyof typeof EXIT_CODES, 'OK'>;

export interface StyxyErrorOptions {
  /** Machine-readable facts that go into `--json` output under `error.details`. */
  details?: Record<string, unknown>;
  /** What the user can do about it; printed on stderr and listed in `error.suggestions`. */
  suggestions?: string[];
  cause?: unknown;
}

export class StyxyError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;
  readonly suggestions: string[];

  constructor(code: ErrorCode, message: string, options: StyxyErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'StyxyError';
    this.code = code;
    this.details = options.details;
    this.suggestions = options.suggestions ?? [];
  }

  get exitCode(): number {
    return EXIT_CODES[this.code];
  }
}

// The bundles are minified without kept names (a start-up saving); the one class the API
// exports keeps its own, which Node prints and callers compare when instanceof cannot serve.
Object.defineProperty(StyxyError, 'name', { value: 'StyxyError' });

export function isStyxyError(err: unknown): err is StyxyError {
  return err instanceof StyxyError;
}

/**
 * The error a call rejects with when its AbortSignal fired before it had the lock: a StyxyError
 * (code ABORTED) named AbortError, as Node's own aborted calls are, with the signal's reason as
 * its cause. Nothing was changed.
 */
export function abortedError(signal: AbortSignal): StyxyError {
  const err = new StyxyError('ABORTED', 'Aborted: the signal fired before the call held the lock; nothing was changed', {
    cause: signal.reason,
    details: { reason: describeReason(signal.reason) },
    suggestions: [],
  });
  // Callers test `err.name === 'AbortError'` across libraries; `instanceof StyxyError` still holds.
  Object.defineProperty(err, 'name', { value: 'AbortError', enumerable: false, writable: true, configurable: true });
  return err;
}

function describeReason(reason: unknown): string | null {
  if (reason instanceof Error) return reason.name;
  return reason === undefined ? null : String(reason);
}
