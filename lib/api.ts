import { StyxyError, abortedError, isStyxyError, type ErrorCode } from './errors';
import { envFor, findBatchVarProblem } from './core/env-contract';
import { findEnvNameProblem, findLabelProblem, findNameProblem, findSessionProblem, parseDuration, parsePort } from './core/names';
import { isCallersOwn } from './core/outcome';
import { HOST_STYLES, isHostStyle } from './core/url';
import { assertSupportedPlatform } from './os/platform';
import type { AllocateInput, AllocateResult } from './app/allocate';
import type { ReleaseInput } from './app/release';
import type { StopTarget as AppStopTarget } from './app/stop';
import type { AppContext } from './app/context';
import type {
  AllocateBatchOptions,
  AllocateCommonOptions,
  AllocateOptions,
  Allocation,
  ListedAllocation,
  ListOptions,
  PortAllocation,
  PortHolder,
  ReleaseSelector,
  StopOptions,
  StopReport,
  StopTarget,
  StyxyOptions,
} from '../types/styxy';

/**
 * Styxy from Node code: the same use cases (lib/app) the CLI runs, with the same lock, files,
 * rules and results, returned as values instead of printed. Nothing here runs at load time, and
 * nothing here prints or ends the process: every failure rejects with a StyxyError carrying the
 * CLI's code. The option and result shapes are those of types/styxy.d.ts, the declarations users
 * compile against (test/unit/api-types.test.ts holds this module to them).
 */

export { StyxyError };
export type { ErrorCode };
export type {
  AllocateBatchOptions,
  AllocateCommonOptions,
  AllocateOptions,
  Allocation,
  ListedAllocation,
  ListOptions,
  PortAllocation,
  PortHolder,
  ReleaseSelector,
  StopOptions,
  StopReport,
  StopTarget,
  StyxyOptions,
};

const STYXY_OPTIONS = ['home', 'cwd', 'onWarning', 'signal', 'lockTimeoutMs'];
const COMMON_ALLOCATE_OPTIONS = [
  ...STYXY_OPTIONS,
  'instanceId',
  'project',
  'pid',
  'ttlMs',
  'ttl',
  'persistent',
  'dryRun',
  'yes',
  'newType',
  'waitReadyMs',
  'hostStyle',
  'label',
  'session',
];

/** Allocates a port; resolves to the allocation, owned by this process unless `pid`, `ttl` or `persistent` say otherwise. */
export async function allocate(options: AllocateOptions): Promise<PortAllocation>;
/** `{ serviceTypes: [...] }`: one port per type in one transaction, all or nothing (the CLI's `allocate -s a -s b`). */
export async function allocate(options: AllocateBatchOptions): Promise<PortAllocation[]>;
export async function allocate(options: AllocateOptions | AllocateBatchOptions): Promise<PortAllocation | PortAllocation[]> {
  if (options !== null && typeof options === 'object' && 'serviceTypes' in options) return allocateBatch(options);
  return api(async () => {
    const opts = optionsBag<AllocateOptions>(options, 'allocate', [...COMMON_ALLOCATE_OPTIONS, 'serviceType', 'port', 'block']);
    if (opts.serviceType === undefined) throw invalid('allocate: serviceType is required');
    const input: AllocateInput = {
      ...commonAllocateInput(opts),
      serviceType: opts.serviceType,
      ...(opts.port !== undefined && { port: portOption(opts.port) }),
      ...(opts.block !== undefined && { block: opts.block }),
    };
    const { runAllocate } = await import('./app/allocate');
    const ctx = await contextFor(opts);
    return withRelease(await runAllocate(ctx, input), opts);
  });
}

/**
 * One port per type in `serviceTypes`, in one transaction, all or nothing: `allocate` with
 * `serviceTypes`, under a name of its own (no overload to pick).
 */
export async function allocateMany(options: AllocateBatchOptions): Promise<PortAllocation[]> {
  if (options === null || typeof options !== 'object' || !('serviceTypes' in options)) {
    return api(async () => {
      throw invalid('allocateMany: serviceTypes is required (an array of type names)');
    });
  }
  return allocateBatch(options, 'allocateMany');
}

async function allocateBatch(options: AllocateBatchOptions, call = 'allocate'): Promise<PortAllocation[]> {
  return api(async () => {
    const opts = optionsBag<AllocateBatchOptions>(options, call, [...COMMON_ALLOCATE_OPTIONS.filter((k) => k !== 'waitReadyMs'), 'serviceTypes']);
    if (!Array.isArray(opts.serviceTypes) || !opts.serviceTypes.every((t) => typeof t === 'string'))
      throw invalid(`${call}: serviceTypes must be an array of type names, got ${describe(opts.serviceTypes)}`);
    const { runAllocateBatch } = await import('./app/allocate');
    const common = commonAllocateInput(opts);
    const batch = await runAllocateBatch(await contextFor(opts), { ...common, serviceTypes: opts.serviceTypes });
    return batch.allocations.map((result) => withRelease(result, opts));
  });
}

/**
 * Releases by lock id, by a selector (`{ serviceType, instanceId }`, project from cwd), or an
 * allocation allocate returned. Resolves to the allocations released; NOT_FOUND when none matched.
 */
export async function release(what: string | ReleaseSelector, options: StyxyOptions = {}): Promise<Allocation[]> {
  return api(async () => {
    const opts = optionsBag<StyxyOptions>(options, 'release', STYXY_OPTIONS);
    let input: ReleaseInput;
    if (typeof what === 'string') input = { lockId: what };
    else if (what !== null && typeof what === 'object' && 'port' in what && 'lockId' in what) {
      // An allocation itself: its own release() knows whether it is the caller's to give back.
      throw invalid('release: pass allocation.lockId, or call allocation.release() (which leaves an existing single instance alone)');
    } else {
      const selector = optionsBag<ReleaseSelector>(what, 'release', ['lockId', 'serviceType', 'instanceId', 'project', 'all', ...STYXY_OPTIONS]);
      input = pick(selector, ['lockId', 'serviceType', 'instanceId', 'project', 'all']);
      Object.assign(opts, pick(selector, STYXY_OPTIONS as (keyof StyxyOptions)[]));
    }
    for (const key of ['lockId', 'serviceType', 'instanceId', 'project'] as const) stringOption(input[key], key);
    if (input.all !== undefined && typeof input.all !== 'boolean') throw invalid('all must be true or false');
    const { runRelease } = await import('./app/release');
    return (await runRelease(await contextFor(opts), input)).released;
  });
}

/** The live allocations (owners that have ended are forgotten first), by port. */
export async function list(options: ListOptions = {}): Promise<ListedAllocation[]> {
  return api(async () => {
    const opts = optionsBag<ListOptions>(options, 'list', [...STYXY_OPTIONS, 'serviceType']);
    const { runList } = await import('./app/list');
    return (await runList(await contextFor(opts), { ...(opts.serviceType !== undefined && { serviceType: opts.serviceType }) })).allocations;
  });
}

/** What holds `port` (the CLI's `styxy why --json` without `success`): see PortHolder. */
export async function whoHolds(port: number, options: StyxyOptions = {}): Promise<PortHolder> {
  return api(async () => {
    const opts = optionsBag<StyxyOptions>(options, 'whoHolds', STYXY_OPTIONS);
    const { runWhy } = await import('./app/why');
    const { success: _success, ...holder } = await runWhy(await contextFor(opts), portOption(port));
    return holder;
  });
}

/**
 * Ends what holds a port, an allocation or a session's allocations, then releases (the CLI's
 * `styxy stop`): a number is a port, a string a lock id, or an object `{ port }`, `{ lockId }`,
 * `{ serviceType, instanceId?, project?, all? }`, `{ session }`.
 */
export async function stop(target: StopTarget, options: StopOptions = {}): Promise<StopReport> {
  return api(async () => {
    const opts = optionsBag<StopOptions>(options, 'stop', [...STYXY_OPTIONS, 'force', 'dryRun', 'graceMs']);
    for (const key of ['force', 'dryRun'] as const) {
      if (opts[key] !== undefined && typeof opts[key] !== 'boolean') throw invalid(`${key} must be true or false, got ${describe(opts[key])}`);
    }
    if (opts.graceMs !== undefined && !(typeof opts.graceMs === 'number' && opts.graceMs >= 0 && opts.graceMs <= 3_600_000)) {
      throw invalid(`graceMs must be a number of milliseconds, got ${describe(opts.graceMs)}`);
    }
    let resolved: AppStopTarget;
    if (typeof target === 'number') resolved = { port: portOption(target) };
    else if (typeof target === 'string') resolved = { lockId: target };
    else if (target !== null && typeof target === 'object' && !Array.isArray(target)) {
      const bag = optionsBag<Record<string, unknown>>(target, 'stop', ['port', 'lockId', 'serviceType', 'instanceId', 'project', 'all', 'session']);
      const keys = ['port', 'lockId', 'serviceType', 'session'].filter((k) => bag[k] !== undefined);
      if (keys.length !== 1) throw invalid('stop: give exactly one of port, lockId, serviceType or session');
      if (bag.port !== undefined) resolved = { port: portOption(bag.port) };
      else {
        for (const key of ['lockId', 'serviceType', 'instanceId', 'project', 'session'] as const) stringOption(bag[key], key);
        resolved = pick(bag, ['lockId', 'serviceType', 'instanceId', 'project', 'all', 'session']) as AppStopTarget;
      }
    } else throw invalid(`stop: expected a port, a lock id or a target object, got ${describe(target)}`);
    const { runStop } = await import('./app/stop');
    const { success: _success, ...report } = await runStop(await contextFor(opts), resolved, {
      ...(opts.force && { force: true }),
      ...(opts.dryRun && { dryRun: true }),
      ...(opts.graceMs !== undefined && { graceMs: opts.graceMs }),
    });
    return report;
  });
}

/**
 * The variables `styxy allocate --env` and `styxy run` give for these allocations (one, or the
 * allocations of a batch), by name: PORT (or `envName`), STYXY_PORT, STYXY_URL, ..., and in a
 * batch each type's <TYPE>_PORT and <TYPE>_URL. For a child process: `spawn(cmd, { env: { ...process.env, ...envVars(a) } })`.
 */
export function envVars(allocations: PortAllocation | readonly PortAllocation[], options: { envName?: string } = {}): Record<string, string> {
  const list = (Array.isArray(allocations) ? allocations : [allocations]) as readonly PortAllocation[];
  const opts = optionsBag<{ envName?: string }>(options, 'envVars', ['envName']);
  const envName = opts.envName ?? 'PORT';
  const problem = findEnvNameProblem(envName);
  if (problem) throw invalid(`envName ${problem}`);
  if (list.length === 0 || !list.every((a) => a !== null && typeof a === 'object' && typeof a.port === 'number'))
    throw invalid('envVars: pass what allocate resolved to');
  if (list.length > 1) {
    const clash = findBatchVarProblem(
      list.map((a) => a.serviceType),
      envName,
    );
    if (clash) throw invalid(clash.message);
  }
  return Object.fromEntries(envFor(list, envName));
}

/**
 * Allocates a port, runs `fn` with it, and releases it however `fn` ends (returned, threw,
 * rejected); resolves or rejects as `fn` did. An existing single instance is not released.
 */
export async function withPort<T>(options: AllocateOptions, fn: (port: number, allocation: PortAllocation) => T | Promise<T>): Promise<T> {
  if (typeof fn !== 'function') throw invalid('withPort: the second argument must be a function');
  const allocation = await allocate(options);
  try {
    return await fn(allocation.port, allocation);
  } finally {
    await (allocation as PortAllocation & { [quietRelease]: () => Promise<boolean> })[quietRelease]();
  }
}

// ---------------------------------------------------------------------------------------------

async function api<T>(work: () => Promise<T>): Promise<T> {
  try {
    assertSupportedPlatform();
    return await work();
  } catch (err) {
    if (isStyxyError(err)) throw err;
    throw new StyxyError('INTERNAL', `Unexpected error: ${(err as Error)?.message ?? String(err)}`, { cause: err });
  }
}

function invalid(message: string): StyxyError {
  return new StyxyError('INVALID_ARGUMENT', message);
}

/** An options object with only known keys: a misspelt option is an error, not silently ignored. */
function optionsBag<T extends object>(value: unknown, call: string, known: readonly string[]): T {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw invalid(`${call}: expected an options object`);
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) throw invalid(`${call}: unknown option ${JSON.stringify(key)} (known: ${known.join(', ')})`);
  }
  const opts = { ...(value as T) };
  const bag = opts as StyxyOptions;
  stringOption(bag.home, 'home');
  stringOption(bag.cwd, 'cwd');
  if (bag.onWarning !== undefined && typeof bag.onWarning !== 'function') throw invalid('onWarning must be a function');
  if (bag.signal !== undefined && !isAbortSignal(bag.signal)) throw invalid(`signal must be an AbortSignal, got ${describe(bag.signal)}`);
  if (bag.lockTimeoutMs !== undefined && !(typeof bag.lockTimeoutMs === 'number' && bag.lockTimeoutMs >= 0 && bag.lockTimeoutMs <= 86_400_000)) {
    throw invalid(`lockTimeoutMs must be a number of milliseconds from 0 to 86400000, got ${describe(bag.lockTimeoutMs)}`);
  }
  return opts;
}

/** An AbortSignal, also one of another realm (a vm context, a polyfill) that behaves as one. */
function isAbortSignal(value: unknown): value is AbortSignal {
  if (value instanceof AbortSignal) return true;
  const v = value as Partial<AbortSignal> | null;
  return (
    v !== null &&
    typeof v === 'object' &&
    typeof v.aborted === 'boolean' &&
    typeof v.addEventListener === 'function' &&
    typeof v.removeEventListener === 'function'
  );
}

function stringOption(value: unknown, name: string): void {
  if (value !== undefined && (typeof value !== 'string' || value === '')) throw invalid(`${name} must be a non-empty string, got ${describe(value)}`);
}

function describe(value: unknown): string {
  return typeof value === 'string' ? JSON.stringify(value) : typeof value === 'object' ? (value === null ? 'null' : 'an object') : String(value);
}

function pick<T extends object, K extends keyof T>(from: T, keys: readonly K[]): Pick<T, K> {
  const out = {} as Pick<T, K>;
  for (const key of keys) if (from[key] !== undefined) out[key] = from[key];
  return out;
}

function portOption(value: unknown): number {
  const port = typeof value === 'number' ? parsePort(value) : null;
  if (port === null) throw invalid(`port must be a port number from 1 to 65535, got ${describe(value)}`);
  return port;
}

/** The parts of an allocate request that every form of allocate shares (the owner, above all). */
function commonAllocateInput(opts: AllocateCommonOptions): Omit<AllocateInput, 'serviceType'> {
  const owners = (['pid', 'ttlMs', 'ttl', 'persistent'] as const).filter((k) => opts[k] !== undefined && opts[k] !== false);
  if (owners.length > 1) throw invalid(`${owners.join(' and ')} cannot be given together: an allocation has one owner`);
  if (opts.pid !== undefined && !(Number.isSafeInteger(opts.pid) && opts.pid > 0)) throw invalid(`pid must be a process id, got ${describe(opts.pid)}`);
  const ttlMs = leaseMs(opts);
  for (const key of ['persistent', 'dryRun', 'yes', 'newType'] as const) {
    if (opts[key] !== undefined && typeof opts[key] !== 'boolean') throw invalid(`${key} must be true or false, got ${describe(opts[key])}`);
  }
  if (opts.waitReadyMs !== undefined && !(typeof opts.waitReadyMs === 'number' && opts.waitReadyMs >= 0 && opts.waitReadyMs <= 86_400_000)) {
    throw invalid(`waitReadyMs must be a number of milliseconds, got ${describe(opts.waitReadyMs)}`);
  }
  if (opts.instanceId !== undefined) {
    const problem = findNameProblem(opts.instanceId, 'instance id');
    if (problem) throw invalid(problem);
  }
  stringOption(opts.project, 'project');
  if (opts.hostStyle !== undefined && !isHostStyle(opts.hostStyle))
    throw invalid(`hostStyle must be one of ${HOST_STYLES.join(', ')}, got ${describe(opts.hostStyle)}`);
  for (const [key, find] of [
    ['label', findLabelProblem],
    ['session', findSessionProblem],
  ] as const) {
    const problem = opts[key] !== undefined ? find(opts[key]) : null;
    if (problem) throw invalid(problem);
  }
  return {
    ...(opts.hostStyle !== undefined && { hostStyle: opts.hostStyle }),
    ...(opts.label !== undefined && { label: opts.label }),
    ...(opts.session !== undefined && { session: opts.session }),
    ...(opts.instanceId !== undefined && { instanceId: opts.instanceId }),
    ...(opts.project !== undefined && { project: opts.project }),
    // The CLI's default owner is the process that ran it; here that is this process itself.
    owner: opts.persistent ? { persistent: true } : ttlMs !== undefined ? { ttlMs } : { pid: opts.pid ?? process.pid },
    // Like `run`: the default owner never takes a found allocation from its owner (only one whose
    // owner has ended and that is kept by its reservation alone).
    ...(opts.pid === undefined && ttlMs === undefined && !opts.persistent && { keepFound: true }),
    ...(opts.dryRun && { dryRun: true }),
    ...(opts.yes && { yes: true }),
    ...(opts.newType && { newType: true }),
    ...(opts.waitReadyMs !== undefined && { waitReadyMs: opts.waitReadyMs }),
  };
}

/**
 * The lease of `ttlMs` (milliseconds), or of `ttl`, its older name, which also takes a duration
 * such as '30m'; undefined when neither is given.
 */
function leaseMs(opts: AllocateCommonOptions): number | undefined {
  if (opts.ttlMs !== undefined) {
    if (!(typeof opts.ttlMs === 'number' && Number.isSafeInteger(opts.ttlMs) && opts.ttlMs > 0))
      throw invalid(`ttlMs must be a whole number of milliseconds, got ${describe(opts.ttlMs)}`);
    return opts.ttlMs;
  }
  if (opts.ttl === undefined) return undefined;
  const ms = typeof opts.ttl === 'number' ? (Number.isSafeInteger(opts.ttl) && opts.ttl > 0 ? opts.ttl : null) : parseDuration(opts.ttl);
  if (ms === null) throw invalid(`ttl must be milliseconds or a duration like 30m, 8h or 2d, got ${describe(opts.ttl)}`);
  deprecatedOnce(opts, 'ttl', 'STYXY_DEP_TTL', "the allocate option 'ttl' is deprecated: use 'ttlMs' (milliseconds)");
  return ms;
}

const deprecationsTold = new Set<string>();

/** A deprecated name still works; its user is told once per process (through onWarning when given). */
function deprecatedOnce(opts: StyxyOptions, name: string, code: string, message: string): void {
  if (deprecationsTold.has(name)) return;
  deprecationsTold.add(name);
  if (opts.onWarning) opts.onWarning(`styxy: ${message}`, code);
  else process.emitWarning(message, { type: 'DeprecationWarning', code });
}

/**
 * What the CLI prints on stderr goes, from Node code, to `onWarning` when given, else to
 * process.emitWarning, so that it is seen (Node prints it) and a `process.on('warning')`
 * listener or `--no-warnings` decides, as for Node's own warnings.
 */
function warnerFor(opts: StyxyOptions): (message: string, code?: string) => void {
  if (opts.onWarning) {
    const onWarning = opts.onWarning;
    return (message, code = 'STYXY_WARNING') => onWarning(message, code);
  }
  return (message, code = 'STYXY_WARNING') => process.emitWarning(message.replace(/^styxy: /, ''), { type: 'StyxyWarning', code });
}

/** The CLI's context, with the home, directory, warnings, signal and lock timeout of this call. */
async function contextFor(opts: StyxyOptions): Promise<AppContext> {
  // optionsBag has checked that it is one (the declarations ask only for what Styxy uses of it).
  const signal = opts.signal as AbortSignal | undefined;
  if (signal?.aborted) throw abortedError(signal);
  const { callContext } = await import('./app/call-context');
  return callContext({
    ...(opts.home !== undefined && { home: opts.home }),
    ...(opts.cwd !== undefined && { cwd: opts.cwd }),
    warn: warnerFor(opts),
    ...(signal !== undefined && { signal }),
    ...(opts.lockTimeoutMs !== undefined && { lockTimeoutMs: opts.lockTimeoutMs }),
  });
}

/** withPort's release: the same as release(), without the warning when someone else owns it now. */
const quietRelease = Symbol('quietRelease');

function withRelease(result: AllocateResult, opts: StyxyOptions): PortAllocation {
  const { success: _success, ...found } = result;
  const rest = found.cooling ? { ...found, cooling: { ...found.cooling, ...coolingMs(found.cooling) } } : found;
  // Made by this call, or a sticky one whose owner had ended that this call took over: not one it
  // merely found (a live owner's, a persistent one, a lease), which stays as it was.
  const mine = !result.dryRun && isCallersOwn(result.outcome);
  let released = false;
  const allocation = { ...rest, dryRun: result.dryRun === true } as PortAllocation;
  const give = async (quiet: boolean): Promise<boolean> => {
    if (!mine || released) return false;
    try {
      const answer = await api(async () => {
        const { runRelease } = await import('./app/release');
        // Giving back what is one's own is neither cancelled nor cut short with the call that took
        // it (no signal, no lockTimeoutMs): it waits for the lock as the CLI does.
        return runRelease(await contextFor(pick(opts, ['home', 'cwd', 'onWarning'])), { lockId: result.lockId, expectedOwner: result.owner });
      });
      if (answer.keptFor) {
        if (!quiet)
          warnerFor(opts)(`styxy: port ${result.port} (${result.lockId}) was not released: it has another owner now, whose it stays`, 'STYXY_NOT_RELEASED');
        released = true;
        return false;
      }
    } catch (err) {
      // Already gone (released elsewhere, or its owner ended and it was forgotten): released all the same.
      if (!(isStyxyError(err) && err.code === 'NOT_FOUND')) throw err;
    }
    released = true;
    return true;
  };
  Object.defineProperty(allocation, 'release', { enumerable: false, value: () => give(false) });
  Object.defineProperty(allocation, quietRelease, { enumerable: false, value: () => give(true) });
  // `await using a = await allocate(...)`: released as withPort releases, when the block ends.
  Object.defineProperty(allocation, asyncDisposeSymbol(), {
    enumerable: false,
    value: async () => {
      await give(true);
    },
  });
  return allocation;
}

/** The cool-down's durations in milliseconds, the API's one unit (the seconds stay, deprecated). */
function coolingMs(cooling: NonNullable<AllocateResult['cooling']>): { freedAgoMs: number; cooldownMs: number } {
  return { freedAgoMs: Math.max(0, Date.now() - Date.parse(cooling.freedAt)), cooldownMs: cooling.cooldownSeconds * 1000 };
}

/**
 * Symbol.asyncDispose, defined where the runtime lacks it (Node before 18.18 and 20.4), as
 * TypeScript's handbook does for `await using`: its compiled code looks the symbol up on Symbol.
 */
function asyncDisposeSymbol(): symbol {
  const symbols = Symbol as unknown as { asyncDispose?: symbol };
  symbols.asyncDispose ??= Symbol('Symbol.asyncDispose');
  return symbols.asyncDispose;
}
