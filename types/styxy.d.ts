// Type declarations for the styxy package: the Node API (`require('styxy')` and `import ... from 'styxy'`).
// test/unit/api-types.test.ts holds lib/api.ts to these declarations, and checks that every
// exported function carries an @example and its @throws codes.

// AsyncDisposable and Symbol.asyncDispose (`await using`), whatever `lib` the user compiles with (TypeScript >= 5.2).
/// <reference lib="esnext.disposable" />

/** The stable codes every failure carries; the CLI exits with the matching status (see the README). */
export type ErrorCode =
  | 'INTERNAL'
  | 'USAGE'
  | 'INVALID_ARGUMENT'
  | 'UNKNOWN_SERVICE_TYPE'
  | 'RANGE_EXHAUSTED'
  | 'AUTO_ALLOCATION_FAILED'
  | 'CONFIRMATION_REQUIRED'
  | 'NOT_FOUND'
  | 'INVALID_CONFIG'
  | 'LOCK_TIMEOUT'
  | 'UNSAFE_HOME'
  | 'LOCK_COMPROMISED'
  | 'WRITE_FAILED'
  | 'WAIT_TIMEOUT'
  | 'NEEDS_ATTENTION'
  | 'SIMILAR_SERVICE_TYPE'
  | 'STATE_TOO_NEW'
  | 'UNSUPPORTED_PLATFORM'
  | 'SERVER_EXITED'
  | 'FORCE_REQUIRED'
  | 'STOP_FAILED'
  | 'STACK_RUNNING'
  | 'COMPOSE_UNAVAILABLE'
  | 'NOT_PERMITTED'
  | 'PORT_TAKEN'
  | 'STOP_REFUSED'
  | 'ABORTED';

/**
 * What every call rejects with: the CLI's code, message and suggestions. An aborted call's error
 * (code ABORTED) is named `AbortError`, as Node's own are, with the signal's reason as `cause`.
 *
 * @example
 * try {
 *   await allocate({ serviceType: 'tiny' });
 * } catch (err) {
 *   if (err instanceof StyxyError && err.code === 'RANGE_EXHAUSTED') console.error(err.message, err.suggestions);
 *   else throw err;
 * }
 */
export declare class StyxyError extends Error {
  readonly code: ErrorCode;
  /** Machine-readable facts (the CLI's `error.details` in `--json`). */
  readonly details: Record<string, unknown> | undefined;
  /** What the user can do about it. */
  readonly suggestions: string[];
  /** The status the CLI exits with for this code. */
  readonly exitCode: number;
  constructor(code: ErrorCode, message: string, options?: { details?: Record<string, unknown>; suggestions?: string[]; cause?: unknown });
}

/**
 * What `signal` needs of an AbortSignal (Node's and the DOM's are ones), so that these declarations
 * compile whatever `lib` and `types` a project has.
 */
export interface AbortSignalLike {
  readonly aborted: boolean;
  readonly reason?: unknown;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

/** Where Styxy keeps its files and which directory stands for "here"; every call takes these. */
export interface StyxyOptions {
  /** Styxy's home (as STYXY_HOME; default: STYXY_HOME, else ~/.styxy). */
  home?: string;
  /** The directory the project is found from (default: process.cwd()). */
  cwd?: string;
  /**
   * Warnings the CLI would print on stderr (a corrupt state set aside, ...), with a stable code
   * (`STYXY_STATE_CORRUPT`, ...). Without it they go to `process.emitWarning` as a `StyxyWarning`.
   */
  onWarning?: (message: string, code: string) => void;
  /**
   * Gives up when it is aborted before the call holds Styxy's lock: the call rejects with
   * ABORTED (`name` 'AbortError') and changes nothing. Once the lock is held the call runs to its end.
   */
  signal?: AbortSignalLike;
  /**
   * The most the call waits for Styxy's lock in all, in milliseconds (0: only take it if free);
   * then it rejects with LOCK_TIMEOUT. Default: until one holder keeps it 10 s without working
   * (STYXY_LOCK_TIMEOUT_MS), or 10 min in a line that moves.
   */
  lockTimeoutMs?: number;
}

/** Who owns what allocate hands out, and how the request is made. */
export interface AllocateCommonOptions extends StyxyOptions {
  instanceId?: string;
  /** Project directory (default: the git top level of cwd, else cwd). */
  project?: string;
  /** Owner process (default: process.pid, the calling process). */
  pid?: number;
  /** A lease instead of an owner process, in milliseconds. */
  ttlMs?: number;
  /** @deprecated Use `ttlMs`. A lease: milliseconds, or a duration such as '30m', '8h', '2d'. */
  ttl?: number | string;
  /** Keep the allocation until it is released. */
  persistent?: boolean;
  /** Decide, write nothing. */
  dryRun?: boolean;
  /** Accept an auto-allocation even with auto_allocation.require_confirmation (the API never asks). */
  yes?: boolean;
  /** Create an unknown type even when its name is a near miss of a known one (else SIMILAR_SERVICE_TYPE). */
  newType?: boolean;
  /** When the answer is a running single instance, wait this long (ms) for its port to accept a connection. */
  waitReadyMs?: number;
  /** How `url` is written: 'localhost' (`http://localhost:PORT`) or 'subdomain' (`http://<name>.<project>.localhost:PORT`); default: the config's urls.host_style. */
  hostStyle?: 'localhost' | 'subdomain';
  /** A label recorded on a new allocation (1-200 characters, no control characters): shown by list and whoHolds. */
  label?: string;
  /** The session recorded on a new allocation (1-200 visible ASCII characters); `stop({ session })` ends them all. */
  session?: string;
}

export interface AllocateOptions extends AllocateCommonOptions {
  serviceType: string;
  /** Try this port first. */
  port?: number;
  /** N contiguous ports (2-100) for this one service, all or nothing, released together: `ports` in the result. */
  block?: number;
}

/** Several types in one transaction, all or nothing (the CLI's `allocate -s dev -s api`). */
export interface AllocateBatchOptions extends Omit<AllocateCommonOptions, 'waitReadyMs'> {
  /** Each type once, in order; `instanceId` applies to each. */
  serviceTypes: string[];
}

export type Owner =
  { kind: 'process'; pid: number; startTime: string | null; command?: string } | { kind: 'lease'; expiresAt: string } | { kind: 'persistent' };

/** One allocation as Styxy's state holds it. */
export interface Allocation {
  lockId: string;
  serviceType: string;
  instanceId: string;
  port: number;
  project: string;
  owner: Owner;
  allocatedAt: string;
  /** The free-form label given when it was made (`--label`, option `label`). */
  label?: string;
  /** The session that made it (`--session`, STYXY_SESSION, option `session`). */
  session?: string;
  /** The Unix user that made it (absent on allocations older Styxy versions made: the home's owner's). */
  user?: { uid: number; name?: string };
}

export interface ListedAllocation extends Allocation {
  singleInstance: boolean;
}

/** How an auto-allocated range was placed. */
export interface AutoAllocationDetails {
  serviceType: string;
  range: [number, number];
  chunkSize: number;
  placement: string;
  requestedPlacement: string;
  rule: string | null;
  instanceBehavior: 'single' | 'multi';
  reason: string;
  tried: string[];
}

/**
 * What allocate resolves to: the allocation as the CLI's `--json` shows it, and a way to give it
 * back: `release()`, or `await using`, which releases it (as withPort does) when the block ends.
 */
export interface PortAllocation extends Allocation, AsyncDisposable {
  /**
   * What the call came to: `new` (made by this call), `claimed` (a sticky allocation whose owner
   * had ended, taken over by this call), `reused` (the caller's sticky allocation, found alive),
   * `existing` (the running single instance: use its port, do not start it). `release()` gives
   * back `new` and `claimed` ones.
   */
  outcome: 'new' | 'claimed' | 'reused' | 'existing';
  /** A single instance that was already running: its port, its owner's allocation (outcome `existing`). */
  existing: boolean;
  /** The caller's own allocation (same type, instance id and project) handed back (outcome `reused` or `claimed`). */
  reused: boolean;
  /** Something already listened on the port (probed for a reused or existing allocation; false for a new one). */
  listening: boolean;
  /** With `block`: every port the allocation holds, `port` first. */
  ports?: number[];
  /** Where the service is reached: `http://localhost:PORT`, or `http://<name>.<project>.localhost:PORT` with `hostStyle: 'subdomain'`. */
  url: string;
  /** The type's own names for its port and URL variables (`env` in its config), when it has them. */
  envNames?: { port?: string; url?: string };
  autoAllocated: boolean;
  singleInstance: boolean;
  dryRun: boolean;
  /** Allocations of ended owners forgotten on the way. */
  pruned: number;
  /** With autoAllocated: the range the new type was given, and how it was placed. */
  newRange?: [number, number];
  autoAllocation?: AutoAllocationDetails;
  existingInstanceId?: string;
  existingPid?: number | null;
  requestedPort?: number;
  /** Why the requested port was not given, when it was not. */
  requestedPortNote?: string;
  message?: string;
  ready?: true;
  waitedMs?: number;
  /** The port this service held last, given back (see the README's home ports). */
  homePort?: true;
  /** The sticky service's derived home port (docs/origins.md): the same on every machine while it is free. */
  derivedPort?: true;
  /** The port was still cooling from another service: used because its range had no other free port. */
  cooling?: {
    freedAt: string;
    /** How long ago it was freed when it was given, in milliseconds. */
    freedAgoMs: number;
    /** The cool-down (port_reuse.cooldown_seconds), in milliseconds. */
    cooldownMs: number;
    /** @deprecated Use `freedAgoMs`. */
    freedSecondsAgo: number;
    /** @deprecated Use `cooldownMs`. */
    cooldownSeconds: number;
    previousHolder: { serviceType: string; instanceId: string; project: string };
    message: string;
  };
  /** A sticky allocation's owner changed: 'hand-over' (to `pid`, or to this process from an owner that had ended), 'renew', 'persist'. */
  ownerChange?: 'hand-over' | 'renew' | 'persist';
  /**
   * Releases it, if it is this caller's: made by this call, or taken over from an owner that had
   * ended. Resolves to false, and changes nothing, for a dry run, one it found (an `existing`
   * single instance, a sticky reuse) or one someone else has made theirs meanwhile (onWarning says so).
   */
  release(): Promise<boolean>;
}

export interface ListOptions extends StyxyOptions {
  serviceType?: string;
}

export interface ReleaseSelector extends StyxyOptions {
  lockId?: string;
  serviceType?: string;
  instanceId?: string;
  project?: string;
  /** With serviceType and no instanceId: every allocation of the type in the project. */
  all?: boolean;
}

/**
 * Allocates a port, owned by this process unless `pid`, `ttlMs` or `persistent` say otherwise.
 *
 * @example
 * await using web = await allocate({ serviceType: 'dev', instanceId: 'web' });
 * server.listen(web.port); // released when the block ends
 *
 * @throws {StyxyError} INVALID_ARGUMENT for a misspelt or mistyped option, or a bad name
 * @throws {StyxyError} UNKNOWN_SERVICE_TYPE, SIMILAR_SERVICE_TYPE, AUTO_ALLOCATION_FAILED or CONFIRMATION_REQUIRED for a type the config lacks
 * @throws {StyxyError} RANGE_EXHAUSTED when every port of the type's range is taken
 * @throws {StyxyError} INVALID_CONFIG when a config layer fails its schema
 * @throws {StyxyError} ABORTED when `signal` fired before the lock was taken (nothing changed)
 * @throws {StyxyError} LOCK_TIMEOUT when the lock was not had within `lockTimeoutMs` (or its holder stopped working)
 * @throws {StyxyError} UNSAFE_HOME, WRITE_FAILED, LOCK_COMPROMISED, STATE_TOO_NEW when Styxy's home cannot be used safely
 * @throws {StyxyError} UNSUPPORTED_PLATFORM on a system Styxy does not run on (not Linux)
 * @throws {StyxyError} WAIT_TIMEOUT when `waitReadyMs` passed before a running single instance accepted a connection
 */
export declare function allocate(options: AllocateOptions): Promise<PortAllocation>;
/**
 * Allocates one port per type, all or nothing: when one type fails, nothing is allocated and the
 * error names it (`details.serviceType`). Prefer `allocateMany`, which says so in its name.
 *
 * @example
 * const [web, api] = await allocate({ serviceTypes: ['dev', 'api'], instanceId: 'app' });
 *
 * @throws {StyxyError} INVALID_ARGUMENT for a misspelt or mistyped option, or a bad name
 * @throws {StyxyError} UNKNOWN_SERVICE_TYPE, SIMILAR_SERVICE_TYPE, AUTO_ALLOCATION_FAILED or CONFIRMATION_REQUIRED for a type the config lacks
 * @throws {StyxyError} RANGE_EXHAUSTED when every port of the type's range is taken
 * @throws {StyxyError} INVALID_CONFIG when a config layer fails its schema
 * @throws {StyxyError} ABORTED when `signal` fired before the lock was taken (nothing changed)
 * @throws {StyxyError} LOCK_TIMEOUT when the lock was not had within `lockTimeoutMs` (or its holder stopped working)
 * @throws {StyxyError} UNSAFE_HOME, WRITE_FAILED, LOCK_COMPROMISED, STATE_TOO_NEW when Styxy's home cannot be used safely
 * @throws {StyxyError} UNSUPPORTED_PLATFORM on a system Styxy does not run on (not Linux)
 */
export declare function allocate(options: AllocateBatchOptions): Promise<PortAllocation[]>;

/**
 * Allocates one port per type of `serviceTypes`, in that order, in one transaction, all or
 * nothing: when one type fails, nothing is allocated and the error names it (`details.serviceType`).
 *
 * @example
 * const [web, api] = await allocateMany({ serviceTypes: ['dev', 'api'], instanceId: 'app' });
 * const env = envVars([web, api]); // PORT, DEV_PORT, API_PORT, ...
 *
 * @throws {StyxyError} INVALID_ARGUMENT for a misspelt or mistyped option, or a bad name
 * @throws {StyxyError} UNKNOWN_SERVICE_TYPE, SIMILAR_SERVICE_TYPE, AUTO_ALLOCATION_FAILED or CONFIRMATION_REQUIRED for a type the config lacks
 * @throws {StyxyError} RANGE_EXHAUSTED when every port of the type's range is taken
 * @throws {StyxyError} INVALID_CONFIG when a config layer fails its schema
 * @throws {StyxyError} ABORTED when `signal` fired before the lock was taken (nothing changed)
 * @throws {StyxyError} LOCK_TIMEOUT when the lock was not had within `lockTimeoutMs` (or its holder stopped working)
 * @throws {StyxyError} UNSAFE_HOME, WRITE_FAILED, LOCK_COMPROMISED, STATE_TOO_NEW when Styxy's home cannot be used safely
 * @throws {StyxyError} UNSUPPORTED_PLATFORM on a system Styxy does not run on (not Linux)
 */
export declare function allocateMany(options: AllocateBatchOptions): Promise<PortAllocation[]>;

/**
 * Releases by lock id or selector; resolves to what was released.
 *
 * @example
 * await release('dev-5b1f0c9a-2e53b1');
 * await release({ serviceType: 'dev', instanceId: 'web' });
 *
 * @throws {StyxyError} NOT_FOUND when nothing matched
 * @throws {StyxyError} NOT_PERMITTED for another user's allocation in a shared home
 * @throws {StyxyError} INVALID_ARGUMENT for a misspelt option or an allocation object (use its `release()`)
 * @throws {StyxyError} ABORTED when `signal` fired before the lock was taken (nothing changed)
 * @throws {StyxyError} LOCK_TIMEOUT when the lock was not had within `lockTimeoutMs` (or its holder stopped working)
 * @throws {StyxyError} UNSAFE_HOME, WRITE_FAILED, LOCK_COMPROMISED, STATE_TOO_NEW when Styxy's home cannot be used safely
 * @throws {StyxyError} UNSUPPORTED_PLATFORM on a system Styxy does not run on (not Linux)
 */
export declare function release(what: string | ReleaseSelector, options?: StyxyOptions): Promise<Allocation[]>;

/**
 * The live allocations (ended owners forgotten first), by port.
 *
 * @example
 * for (const a of await list({ serviceType: 'dev' })) console.log(a.port, a.instanceId);
 *
 * @throws {StyxyError} INVALID_ARGUMENT for a misspelt or mistyped option
 * @throws {StyxyError} ABORTED when `signal` fired before the lock was taken (nothing changed)
 * @throws {StyxyError} LOCK_TIMEOUT when the lock was not had within `lockTimeoutMs` (or its holder stopped working)
 * @throws {StyxyError} UNSAFE_HOME, WRITE_FAILED, LOCK_COMPROMISED, STATE_TOO_NEW when Styxy's home cannot be used safely
 * @throws {StyxyError} UNSUPPORTED_PLATFORM on a system Styxy does not run on (not Linux)
 */
export declare function list(options?: ListOptions): Promise<ListedAllocation[]>;

/**
 * The variables `styxy allocate --env` and `styxy run` give for these allocations (one, or a batch's), by name:
 * PORT (or `envName`), STYXY_PORT, STYXY_URL, STYXY_LOCK_ID, ..., and in a batch each type's <TYPE>_PORT and <TYPE>_URL.
 * It reads and writes nothing.
 *
 * @example
 * const api = await allocate({ serviceType: 'api' });
 * spawn('node', ['server.js'], { env: { ...process.env, ...envVars(api) } });
 *
 * @throws {StyxyError} INVALID_ARGUMENT for a bad `envName`, something allocate did not return, or a batch whose variables clash
 */
export declare function envVars(allocations: PortAllocation | readonly PortAllocation[], options?: { envName?: string }): Record<string, string>;
/**
 * Allocates, runs fn with the port, and releases however fn ends (returned, threw, rejected);
 * resolves or rejects as fn did. An existing single instance is not released.
 *
 * @example
 * const body = await withPort({ serviceType: 'test' }, async (port) => {
 *   const server = http.createServer((req, res) => res.end('ok')).listen(port);
 *   try { return await (await fetch(`http://127.0.0.1:${port}/`)).text(); } finally { server.close(); }
 * });
 *
 * @throws {StyxyError} INVALID_ARGUMENT when fn is not a function, or for allocate's reasons
 * @throws {StyxyError} UNKNOWN_SERVICE_TYPE, SIMILAR_SERVICE_TYPE, AUTO_ALLOCATION_FAILED or CONFIRMATION_REQUIRED for a type the config lacks
 * @throws {StyxyError} RANGE_EXHAUSTED when every port of the type's range is taken
 * @throws {StyxyError} INVALID_CONFIG when a config layer fails its schema
 * @throws {StyxyError} ABORTED when `signal` fired before the lock was taken (nothing changed)
 * @throws {StyxyError} LOCK_TIMEOUT when the lock was not had within `lockTimeoutMs` (or its holder stopped working)
 * @throws {StyxyError} UNSAFE_HOME, WRITE_FAILED, LOCK_COMPROMISED, STATE_TOO_NEW when Styxy's home cannot be used safely
 * @throws {StyxyError} UNSUPPORTED_PLATFORM on a system Styxy does not run on (not Linux)
 * @throws {StyxyError} WAIT_TIMEOUT as allocate does with `waitReadyMs`
 * @throws whatever fn throws, after the port is released
 */
export declare function withPort<T>(options: AllocateOptions, fn: (port: number, allocation: PortAllocation) => T | Promise<T>): Promise<T>;

/** A process as far as the caller may see it: what the OS does not let it read is absent. */
export interface SeenProcess {
  pid: number;
  uid?: number;
  user?: string;
  command?: string;
  argv?: string[];
  cwd?: string;
  startTime?: string | null;
  startedAt?: string;
  pidNs?: string;
}

/** What `whoHolds` resolves to: the CLI's `styxy why --json`. */
export interface PortHolder {
  port: number;
  /** Stable: 'free', 'allocation', 'process', 'container', 'other-user' or 'unknown' (the CLI exits 0, 40, 41, 42, 43, 44). */
  kind: 'free' | 'allocation' | 'process' | 'container' | 'other-user' | 'unknown';
  /** One line: what holds the port and what to do. */
  summary: string;
  suggestions: string[];
  listening: boolean;
  reserved?: boolean;
  allocation?: Allocation;
  owner?: SeenProcess;
  /** The process serving the port (for a `run`, the server it started). */
  server?: SeenProcess;
  uid?: number;
  /** The name of `uid`, where /etc/passwd has it. */
  user?: string;
  container?: { proxy: string; containerIp?: string; containerPort?: number };
  otherPidNamespace?: boolean;
  coolingDown?: { until: string; freedAt: string; serviceType: string; instanceId: string; project: string };
  homeOf?: { serviceType: string; instanceId: string; project: string; freedAt: string };
  url?: string;
}

/** What `stop` acts on: a port's holder, an allocation (by lock id or type and instance), or a session's allocations. */
export type StopTarget =
  number | string | { port: number } | { lockId: string } | { serviceType: string; instanceId?: string; project?: string; all?: boolean } | { session: string };

export interface StopOptions extends StyxyOptions {
  /** End a process Styxy cannot attribute (outside Styxy, another user's): that exact tree only. */
  force?: boolean;
  /** List what would be signalled; signal and release nothing. */
  dryRun?: boolean;
  /** Milliseconds between SIGTERM and SIGKILL (default 5000). */
  graceMs?: number;
}

/** What `stop` did for each port (the CLI's `styxy stop --json`). */
export interface StopReport {
  dryRun: boolean;
  stopped: {
    port: number;
    allocation: Allocation | null;
    reason: 'run' | 'owner' | 'started-by-owner' | 'forced' | 'release-only';
    note?: string;
    processes: { pid: number; startTime: string | null; command?: string; signals: ('SIGTERM' | 'SIGKILL')[]; survived?: true }[];
    released: boolean;
  }[];
  refused: { port: number; lockId?: string; code: string; message: string }[];
}

/**
 * What holds `port`: a Styxy allocation, a process outside Styxy, a container's proxy, another
 * user's process, or nothing (the CLI's `styxy why`).
 *
 * @example
 * const holder = await whoHolds(3000);
 * if (holder.kind !== 'free') console.log(holder.summary);
 *
 * @throws {StyxyError} INVALID_ARGUMENT for a port outside 1-65535 or a misspelt option
 * @throws {StyxyError} ABORTED when `signal` fired before the lock was taken (nothing changed)
 * @throws {StyxyError} LOCK_TIMEOUT when the lock was not had within `lockTimeoutMs` (or its holder stopped working)
 * @throws {StyxyError} UNSAFE_HOME, WRITE_FAILED, LOCK_COMPROMISED, STATE_TOO_NEW when Styxy's home cannot be used safely
 * @throws {StyxyError} UNSUPPORTED_PLATFORM on a system Styxy does not run on (not Linux)
 */
export declare function whoHolds(port: number, options?: StyxyOptions): Promise<PortHolder>;

/**
 * Ends the process tree holding a port or an allocation (owner verified by PID and start time before
 * every signal; SIGTERM, then SIGKILL after the grace), then releases it. A number is a port, a
 * string a lock id. `signal` counts until the lock is taken: a stop that has begun is finished.
 *
 * @example
 * const report = await stop(3000, { graceMs: 2000 });
 * for (const s of report.stopped) console.log(s.port, s.processes.map((p) => p.pid));
 *
 * @throws {StyxyError} FORCE_REQUIRED for a process Styxy cannot attribute, unless `force`
 * @throws {StyxyError} STOP_REFUSED for init's tree, a namespace's PID 1, or the caller's own tree
 * @throws {StyxyError} STOP_FAILED when a process outlived SIGKILL
 * @throws {StyxyError} NOT_FOUND when no allocation matched
 * @throws {StyxyError} NOT_PERMITTED for another user's allocation in a shared home
 * @throws {StyxyError} INVALID_ARGUMENT for a bad target or option
 * @throws {StyxyError} ABORTED when `signal` fired before the lock was taken (nothing changed)
 * @throws {StyxyError} LOCK_TIMEOUT when the lock was not had within `lockTimeoutMs` (or its holder stopped working)
 * @throws {StyxyError} UNSAFE_HOME, WRITE_FAILED, LOCK_COMPROMISED, STATE_TOO_NEW when Styxy's home cannot be used safely
 * @throws {StyxyError} UNSUPPORTED_PLATFORM on a system Styxy does not run on (not Linux)
 */
export declare function stop(target: StopTarget, options?: StopOptions): Promise<StopReport>;
