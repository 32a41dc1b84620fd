import { StyxyError } from '../errors';
import { planPortFlag, type PortFlagPlan } from '../core/dev-servers';
import { isCreatedByRun, isStarting, planRun, runMarkerEntry, type PortListener } from '../core/run-plan';
import { passwdName } from '../os/identity';
import { readPackageScripts } from '../os/package-scripts';
import { readStartTime } from '../os/processes';
import { attachListenerProcesses, probePortFree, readListeners, waitForPort } from '../os/ports';
import type { TrackedProcess } from '../os/process-tree';
import { startAndWait, type RunOutcome } from '../os/supervise';
import type { TransactionContext } from '../store/transaction';
import type { AllocateInput, AllocateResult } from './allocate';
import type { Asker } from './confirmation';
import { isOwnerInOurPidNamespace } from './why';

export interface RunInput {
  /** What to allocate; `run` itself is the owner of whatever this creates. */
  request: Omit<AllocateInput, 'owner'>;
  /** `run -s web -s api`: these types instead of `request.serviceType`, allocated together, all or nothing. */
  serviceTypes?: readonly string[];
  /** The command and its arguments, as given after `--`. */
  command: readonly string[];
  /** The variables the command gets for its allocations (PORT, STYXY_*). */
  variables: (allocations: readonly AllocateResult[]) => ReadonlyArray<readonly [string, string]>;
  /** The variable `variables` gives the first port as (`--env-name`): a batch refuses one that is a type's own name. */
  envName?: string;
  /**
   * `--port-flag`: appended with the port (`--port 3000`), or glued to it when it ends in `=`.
   * Left out, a known dev server gets its flag from DEV_SERVERS; false (`--no-port-flag`): none.
   */
  portFlag?: string | false;
  /** Asks a person to accept an auto-allocated range where one needs a yes; without it, CONFIRMATION_REQUIRED. */
  ask?: Asker;
  /** Told of what happens on the way, for the conversation on stderr. */
  onNotice?: (notice: RunNotice) => void;
  /** How long to wait for a service found starting to listen (STARTING_WAIT_MS when left out). */
  readyTimeoutMs?: number;
}

export type RunNotice =
  /** The allocations are made; the command has not started yet. */
  | { kind: 'allocated'; allocations: readonly AllocateResult[] }
  /** The command is a known dev server that ignores PORT: `run` adds its port flag. */
  | { kind: 'port-flag'; plan: PortFlagPlan; port: number }
  /** The command's processes listen on other ports, and not on the one allocated. */
  | { kind: 'wrong-port'; ports: number[]; port: number; portFlag: PortFlagPlan | null }
  /** Processes the command left running when it ended (or outlived the grace), now ended. */
  | { kind: 'ended-leftovers'; processes: readonly TrackedProcess[] }
  /**
   * The command failed, and its port is held by something that is not the command's: most likely
   * why it failed (a server run with --strictPort refuses a taken port). The place to say who
   * holds it (`styxy why <port>`).
   */
  | { kind: 'port-taken'; port: number; status?: number };

export type RunResult =
  /** The service already runs (something listens on the port of an allocation run did not make). */
  | { kind: 'running'; allocations: AllocateResult[]; allocation: AllocateResult; pid: number | null; listening: boolean; command?: string }
  | { kind: 'ran'; allocations: AllocateResult[]; outcome: RunOutcome; released: string[]; kept: string[] };

/**
 * `styxy run`: allocate with this process as the owner, decide whether the service already runs,
 * start the command, wait for it, end whatever it left running, and release what this run created.
 * An allocation it found (a sticky reuse, an existing single instance) is left exactly as it was.
 */
export async function runRun(ctx: TransactionContext, input: RunInput): Promise<RunResult> {
  const allocations = await allocateForRun(ctx, input);
  input.onNotice?.({ kind: 'allocated', allocations });

  const foundPorts = await probeFoundPorts(allocations.filter((a) => !isCreatedByRun(a)));
  const taken = otherUsersListener(
    allocations.filter((a) => !isCreatedByRun(a)),
    foundPorts,
  );
  if (taken) {
    await releaseQuietly(
      ctx,
      allocations,
      allocations.filter(isCreatedByRun).map((a) => a.lockId),
    );
    throw taken;
  }
  const plan = planRun(markOwnersElsewhere(allocations), foundPorts);
  if (plan.kind === 'running') {
    await releaseQuietly(ctx, allocations, plan.release);
    const allocation = allocations.find((a) => a.lockId === plan.allocation.lockId) as AllocateResult;
    return { kind: 'running', allocations, allocation, pid: plan.pid, listening: plan.listening, ...(plan.command !== undefined && { command: plan.command }) };
  }
  const outcome = await runCommand(ctx, input, allocations, plan.release);
  return { kind: 'ran', allocations, outcome, released: plan.release, kept: plan.keep };
}

/** Allocates with this process as the owner (one type, or a batch of them); a single service found starting is waited for. */
async function allocateForRun(ctx: TransactionContext, input: RunInput): Promise<AllocateResult[]> {
  const { runAllocate, runAllocateBatch } = await import('./allocate');
  const single = () => runAllocate(ctx, { ...input.request, owner: { pid: process.pid, via: 'run' }, keepFound: true }, input.ask);
  const { serviceType: _one, port: _port, waitReadyMs: _wait, ...shared } = input.request;
  const batch = () =>
    runAllocateBatch(
      ctx,
      {
        ...shared,
        serviceTypes: input.serviceTypes ?? [],
        owner: { pid: process.pid, via: 'run' },
        keepFound: true,
        ...(input.envName !== undefined && { envName: input.envName }),
      },
      input.ask,
    );
  const allocateAll = async () => (input.serviceTypes && input.serviceTypes.length > 1 ? (await batch()).allocations : [await single()]);
  const allocations = await allocateAll();
  // A service found starting (a single instance, or the same sticky name) is waited for, whatever its type.
  return allocations.length === 1 ? awaitStarting(allocations, allocateAll, input.readyTimeoutMs ?? STARTING_WAIT_MS) : allocations;
}

/** Runs the command to its end with its variables and port flag, then releases `release` whatever happened. */
async function runCommand(ctx: TransactionContext, input: RunInput, allocations: AllocateResult[], release: string[]): Promise<RunOutcome> {
  const port = (allocations[0] as AllocateResult).port;
  const detected = input.portFlag === undefined ? planPortFlag(input.command, readPackageScripts(ctx.cwd)) : null;
  if (detected) input.onNotice?.({ kind: 'port-flag', plan: detected, port });
  let outcome: RunOutcome;
  try {
    outcome = await startAndWait(
      {
        command: detected ? [...input.command, ...detected.append] : input.command,
        env: input.variables(allocations),
        port,
        marker: runMarkerEntry({ pid: process.pid, startTime: readStartTime(process.pid) ?? null }),
        ...(typeof input.portFlag === 'string' && { portFlag: input.portFlag }),
      },
      {
        onLeftovers: (processes) => input.onNotice?.({ kind: 'ended-leftovers', processes }),
        onWrongPort: (ports) => input.onNotice?.({ kind: 'wrong-port', ports, port, portFlag: detected }),
      },
    );
  } finally {
    await releaseQuietly(ctx, allocations, release);
  }
  // Its tree has been ended: a listener left on the port now is someone else's.
  if (outcome.status !== 0 && !outcome.startError && !(await probePortFree(port))) input.onNotice?.({ kind: 'port-taken', port, status: outcome.status });
  return outcome;
}

/** The allocations whose owner was recorded in another PID namespace say so: its PID is never named as the server's here. */
export function markOwnersElsewhere(allocations: readonly AllocateResult[]): (AllocateResult & { ownerElsewhere?: boolean })[] {
  return allocations.map((a) => (isOwnerInOurPidNamespace(a) ? a : { ...a, ownerElsewhere: true }));
}

/** How long `run` waits, by default, for a service found starting to listen before it gives up (starting nothing). */
export const STARTING_WAIT_MS = 60_000;

/**
 * A service found starting (a live `run` of it whose server does not listen yet, or the server a
 * killed `run` left behind) is waited for, not started a second time: until its port accepts a
 * connection, or `timeoutMs`. Its holder is looked at again every half second: when it has gone,
 * the allocation asked again is this run's own (created, or taken over), and the command starts.
 */
export async function awaitStarting(allocations: AllocateResult[], allocateAll: () => Promise<AllocateResult[]>, timeoutMs: number): Promise<AllocateResult[]> {
  const deadline = Date.now() + timeoutMs;
  let current = allocations;
  for (;;) {
    const found = current[0] as AllocateResult;
    if (isCreatedByRun(found) || !isStarting(found)) return current;
    const left = deadline - Date.now();
    if (left <= 0 || (await waitForPort(found.port, Math.min(500, left)))) return current;
    current = await allocateAll();
  }
}

/** For each allocation run did not create: does something listen on its port already, and who. */
export async function probeFoundPorts(found: readonly AllocateResult[]): Promise<Map<string, PortListener>> {
  const facts = new Map<string, PortListener>();
  let listeners: ReturnType<typeof readListeners> | undefined;
  for (const a of found) {
    if (await probePortFree(a.port)) {
      facts.set(a.lockId, { busy: false });
      continue;
    }
    if (listeners === undefined) {
      listeners = readListeners();
      if (listeners) attachListenerProcesses(listeners.filter((l) => found.some((f) => f.port === l.port)));
    }
    const holder = listeners?.find((l) => l.port === a.port && l.pid !== undefined);
    facts.set(a.lockId, { busy: true, ...(holder?.pid !== undefined && { pid: holder.pid }), ...(holder?.command && { command: holder.command }) });
  }
  return facts;
}

/*
 * Shared machines (docs/shared-machines.md). Users with homes of their own do not see each
 * other's allocations: Bob can be handed the port Alice reserved but has not bound yet, and
 * start his server there. Alice's `run` then finds the port listened on; that is not her
 * service running (and the PID it would name is her own owner's), so it starts nothing and says
 * whose socket it is. A listener of the allocation's own user (in a shared home, Bob's running
 * single instance that Alice is handed) is the service. /proc/net/tcp gives each socket's user
 * even when the process is hidden.
 */
function otherUsersListener(found: readonly AllocateResult[], facts: ReadonlyMap<string, PortListener>): StyxyError | null {
  const busy = found.filter((a) => facts.get(a.lockId)?.busy);
  if (busy.length === 0 || typeof process.getuid !== 'function') return null;
  const me = process.getuid();
  const listeners = readListeners() ?? [];
  for (const a of busy) {
    const owner = a.user?.uid ?? me;
    const uid = listeners.find((l) => l.port === a.port && l.uid !== undefined && l.uid !== owner)?.uid;
    if (uid === undefined) continue;
    const user = passwdName(uid);
    const whose = user ? `${user} (uid ${uid})` : `uid ${uid}`;
    return new StyxyError(
      'PORT_TAKEN',
      `Port ${a.port} of ${a.serviceType} '${a.instanceId}' is listened on by a process of another user, ${whose}: it is not your service; nothing was started`,
      {
        details: { port: a.port, lockId: a.lockId, uid, ...(user && { user }) },
        suggestions: [
          `Release it, then run again for a free port: styxy release ${a.lockId}`,
          'Users with homes of their own protect only bound ports from each other; share one home to protect reservations too: see docs/shared-machines.md',
        ],
      },
    );
  }
  return null;
}

/**
 * Frees the allocations this run created. Should it fail (the lock held past its deadline, a
 * read-only home), the allocation still goes at the next call: its owner, this process, is about to end.
 */
export async function releaseQuietly(ctx: TransactionContext, allocations: readonly AllocateResult[], lockIds: readonly string[]): Promise<void> {
  if (lockIds.length === 0) return;
  const { runRelease } = await import('./release');
  for (const lockId of lockIds) {
    const allocation = allocations.find((a) => a.lockId === lockId);
    try {
      // Only while it is still this run's: someone may have made it theirs meanwhile.
      await runRelease(ctx, { lockId, ...(allocation && { expectedOwner: allocation.owner }) });
    } catch (err) {
      const code = err instanceof StyxyError ? err.code : 'INTERNAL';
      if (code === 'NOT_FOUND') continue; // released by hand meanwhile
      ctx.warn(`styxy: could not release port ${allocation?.port} (${code}: ${(err as Error).message}); the next styxy call frees it, as its owner has ended`);
    }
  }
}
