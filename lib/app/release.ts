import path = require('path');
import { StyxyError } from '../errors';
import { LOCK_ID_PATTERN, findNameProblem } from '../core/names';
import { mayActOn } from '../core/permissions';
import { isSameOwner, planRelease, type ReleaseSelector } from '../core/release';
import type { Allocation, Owner } from '../core/types';
import { findProjectRoot } from '../os/project';
import type { TransactionContext } from '../store/transaction';
import { withLiveState } from './context';
import { currentCaller, homeOwner, refuseOthers } from './users';

export interface ReleaseInput {
  lockId?: string;
  /**
   * Several lock ids at once (`styxy release $STYXY_LOCK_IDS`): each one there is released, in
   * one transaction; when any is not there, the call then fails with NOT_FOUND naming them, its
   * details listing what was released and what was not found.
   */
  lockIds?: readonly string[];
  serviceType?: string;
  instanceId?: string;
  project?: string;
  all?: boolean;
  /**
   * A release on the creator's behalf (by lock id): frees the allocation only while its owner is
   * still this one; otherwise nothing changes and the answer names it in `keptFor`.
   */
  expectedOwner?: Owner;
}

export interface ReleaseResult {
  success: true;
  released: Allocation[];
  pruned: number;
  /** With expectedOwner: the allocation left alone, as someone else has made it theirs. */
  keptFor?: Allocation;
  /** What the release left running: a `run` whose server still listens on the port just released. */
  warnings?: string[];
}

export function checkReleaseInput(input: ReleaseInput): void {
  const byId = input.lockId !== undefined || input.lockIds !== undefined;
  if (!byId && input.serviceType === undefined) {
    throw new StyxyError('INVALID_ARGUMENT', 'Name what to release: a lock id, or -s TYPE [-n ID]');
  }
  if (byId && input.serviceType !== undefined) {
    throw new StyxyError('INVALID_ARGUMENT', 'Give either lock ids or -s TYPE, not both');
  }
  const badId = [...(input.lockId !== undefined ? [input.lockId] : []), ...(input.lockIds ?? [])].find((id) => !LOCK_ID_PATTERN.test(id));
  const problem =
    (badId !== undefined ? `lock id ${JSON.stringify(badId)} is not valid` : null) ??
    (input.serviceType !== undefined ? findNameProblem(input.serviceType, 'service type') : null) ??
    (input.instanceId !== undefined ? findNameProblem(input.instanceId, 'instance id') : null);
  if (problem) throw new StyxyError('INVALID_ARGUMENT', problem);
}

/** `styxy release`: frees allocations by lock id (one or several) or by type (and instance id). */
export async function runRelease(ctx: TransactionContext, input: ReleaseInput): Promise<ReleaseResult> {
  checkReleaseInput(input);
  if (input.lockIds !== undefined) return warnRunsStillServing(ctx, await releaseMany(ctx, [...new Set(input.lockIds)]));
  const selector: ReleaseSelector =
    input.lockId !== undefined
      ? { lockId: input.lockId }
      : {
          serviceType: input.serviceType as string,
          project: input.project ? path.resolve(ctx.cwd, input.project) : findProjectRoot(ctx.cwd),
          ...(input.instanceId !== undefined && { instanceId: input.instanceId }),
          ...(input.all && { all: true }),
        };
  const { result } = await withLiveState<ReleaseResult>(
    ctx,
    ({ config, state, pruned }) => {
      // An allocation whose owner just died is still the user's to release by name.
      const everything = { ...state, allocations: [...state.allocations, ...pruned] };
      // By name, a shared home's `-s dev -n web` is the caller's own; another user's only when the caller has none.
      const caller = currentCaller();
      const owner = homeOwner(ctx);
      const own = 'lockId' in selector ? everything : { ...everything, allocations: everything.allocations.filter((a) => mayActOn(a, caller, owner)) };
      let plan = planRelease(config.config, own, selector);
      if (plan.kind === 'rejected' && plan.code === 'NOT_FOUND' && own !== everything) plan = planRelease(config.config, everything, selector);
      if (plan.kind === 'rejected') throw new StyxyError(plan.code, plan.message, { suggestions: plan.suggestions });
      // In a shared home, another user's live allocation is theirs to release (one whose owner has ended goes anyway).
      refuseOthers(
        ctx,
        plan.released.filter((a) => !pruned.includes(a)),
        'release',
      );
      const taken = input.expectedOwner && plan.released.find((a) => !isSameOwner(a.owner, input.expectedOwner as Owner));
      if (taken) return { result: { success: true, released: [], pruned: pruned.length, keptFor: taken } };
      const releasedIds = new Set(plan.released.map((a) => a.lockId));
      return {
        result: { success: true, released: plan.released, pruned: pruned.filter((a) => !releasedIds.has(a.lockId)).length },
        state: { ...state, allocations: state.allocations.filter((a) => !releasedIds.has(a.lockId)) },
        audit: plan.released.map((a) => ({ action: 'release', serviceType: a.serviceType, lockId: a.lockId, port: a.port, instanceId: a.instanceId })),
      };
    },
    { configOptional: true },
  );
  // A release on a run's own behalf (expectedOwner) comes as it ends; a user's leaves it running.
  return input.expectedOwner ? result : warnRunsStillServing(ctx, result);
}

async function warnRunsStillServing(ctx: TransactionContext, result: ReleaseResult): Promise<ReleaseResult> {
  const warnings = await findRunsStillServing(result.released);
  if (warnings.length === 0) return result;
  for (const w of warnings) ctx.warn(`styxy: ${w}`, 'STYXY_RUN_STILL_SERVING');
  return { ...result, warnings };
}

/**
 * Releases every allocation named that is there, as `rm a b c` removes what exists: one missing
 * (pruned since, or released already) must not keep the others held. Those not found are named
 * afterwards by a NOT_FOUND error whose details list both.
 */
async function releaseMany(ctx: TransactionContext, lockIds: readonly string[]): Promise<ReleaseResult> {
  const { result } = await withLiveState<ReleaseResult & { notFound: string[] }>(
    ctx,
    ({ state, pruned }) => {
      // An allocation whose owner just died is still the user's to release by name.
      const known = new Map([...state.allocations, ...pruned].map((a) => [a.lockId, a]));
      const released = lockIds.flatMap((id) => known.get(id) ?? []);
      // Another user's among them (a shared home): refused, and none of them is released.
      refuseOthers(
        ctx,
        released.filter((a) => !pruned.includes(a)),
        'release',
      );
      const notFound = lockIds.filter((id) => !known.has(id));
      const releasedIds = new Set(released.map((a) => a.lockId));
      const result = { success: true as const, released, pruned: pruned.filter((a) => !releasedIds.has(a.lockId)).length, notFound };
      if (released.length === 0) return { result };
      return {
        result,
        state: { ...state, allocations: state.allocations.filter((a) => !releasedIds.has(a.lockId)) },
        audit: released.map((a) => ({ action: 'release', serviceType: a.serviceType, lockId: a.lockId, port: a.port, instanceId: a.instanceId })),
      };
    },
    { configOptional: true },
  );
  const { notFound, ...done } = result;
  if (notFound.length > 0) {
    const missing = notFound.map((id) => `'${id}'`).join(', ');
    throw new StyxyError(
      'NOT_FOUND',
      `No allocation for lock id${notFound.length > 1 ? 's' : ''} ${missing}${done.released.length ? `; released the other ${done.released.length}` : ''}`,
      { details: { released: done.released, notFound }, suggestions: ['See the live allocations: styxy list -v'] },
    );
  }
  return done;
}

/**
 * The released allocations whose `styxy run` still serves the port: releasing the allocation
 * does not end the server, and the port is now unrecorded while something listens on it.
 */
async function findRunsStillServing(released: readonly Allocation[]): Promise<string[]> {
  const runs = released.filter((a) => a.owner.kind === 'process' && a.owner.via === 'run');
  if (runs.length === 0) return [];
  const { probePortFree } = await import('../os/ports');
  const { isOwnerInOurPidNamespace } = await import('./why');
  const warnings: string[] = [];
  for (const a of runs) {
    if (await probePortFree(a.port)) continue;
    const owner = a.owner as { pid: number; pidNs?: string };
    // A run in another PID namespace (a container) is numbered there; only the host or that namespace can end it.
    const elsewhere = !isOwnerInOurPidNamespace(a);
    warnings.push(
      `port ${a.port} was released, but its styxy run (PID ${owner.pid}${elsewhere ? ` in PID namespace ${owner.pidNs}` : ''}) still runs and its server still listens on it. ` +
        `To end them${elsewhere ? ', from the host or from that namespace' : ''}: styxy stop ${a.port} --force (next time, styxy stop ${a.port} ends the server and releases in one step)`,
    );
  }
  return warnings;
}
