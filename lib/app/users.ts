import { StyxyError } from '../errors';
import { allocationUser, describeUser, othersAllocations, type Caller } from '../core/permissions';
import { shellWord } from '../core/shell-word';
import type { Allocation, AllocationUser } from '../core/types';
import { callerUser, passwdName } from '../os/identity';
import { homeFacts } from '../store/shared-home';
import type { TransactionContext } from '../store/transaction';

/*
 * The facts lib/core/permissions.ts decides with, gathered for a use case: who is asking, and
 * whose the home is. Call these inside a transaction (the home has been checked by then).
 * `styxy stop` and `cleanup` refuse another user's allocations through `refuseOthers` too.
 */

/** The user this process runs as, for mayActOn. */
export function currentCaller(): Caller {
  const user = callerUser();
  return user ? { uid: user.uid } : null;
}

/** The home's owner: whose an allocation without a recorded user is. Null before the home was checked. */
export function homeOwner(ctx: Pick<TransactionContext, 'paths'>): AllocationUser | null {
  const facts = homeFacts(ctx.paths.home);
  if (!facts) return null;
  const name = passwdName(facts.ownerUid);
  return name ? { uid: facts.ownerUid, name } : { uid: facts.ownerUid };
}

/**
 * Allocations as list, check and the API show them: each with its user, the home owner's where
 * none was recorded. The owner is looked up only when an allocation lacks a user.
 */
export function withUsers<A extends Allocation>(ctx: Pick<TransactionContext, 'paths'>, allocations: readonly A[]): A[] {
  if (allocations.every((a) => a.user)) return [...allocations];
  const owner = homeOwner(ctx);
  return allocations.map((a) => {
    const user = allocationUser(a, owner);
    return a.user || !user ? a : { ...a, user };
  });
}

/**
 * Refuses, with NOT_PERMITTED, an action on allocations some other user made (root may act on
 * any): `verb` says what was refused ("release", "stop").
 */
export function refuseOthers(ctx: Pick<TransactionContext, 'paths'>, allocations: readonly Allocation[], verb: string): void {
  const owner = homeOwner(ctx);
  const refused = othersAllocations(allocations, currentCaller(), owner);
  const first = refused[0];
  if (!first) return;
  const whose = describeUser(allocationUser(first, owner));
  const what = refused.map((a) => `port ${a.port} (${a.serviceType} '${a.instanceId}', lock ${a.lockId})`).join(', ');
  throw new StyxyError('NOT_PERMITTED', `Only its user or root may ${verb} ${what}: it belongs to ${whose}`, {
    details: {
      lockIds: refused.map((a) => a.lockId),
      users: refused.map((a) => allocationUser(a, owner)),
    },
    suggestions: [
      `Ask ${whose} to ${verb} it: styxy ${verb} ${first.lockId}`,
      `Or, as root: sudo env STYXY_HOME=${shellWord(ctx.paths.home)} styxy ${verb} ${first.lockId}`,
      'See your own allocations: styxy list -v',
    ],
  });
}
