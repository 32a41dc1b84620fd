import type { Allocation, AllocationUser } from './types';

/*
 * Who may act on an allocation (release it, stop its server, clean it up): the user that made
 * it, or root. In a private home every allocation is its owner's, so this only ever refuses in a
 * shared home (docs/shared-machines.md), where the group's members share ports but not the
 * right to take each other's away.
 */

/** The user asking: their uid (0 is root). Null where there are no uids (Windows): no limits. */
export type Caller = { uid: number } | null;

/**
 * The user an allocation belongs to: the one recorded on it, or, for an allocation written
 * before users were recorded, the home's owner. Null when neither is known.
 */
export function allocationUser(allocation: Pick<Allocation, 'user'>, homeOwner: AllocationUser | null): AllocationUser | null {
  return allocation.user ?? homeOwner;
}

/** Whether `caller` may release or stop `allocation`: root, or the allocation's own user. */
export function mayActOn(allocation: Pick<Allocation, 'user'>, caller: Caller, homeOwner: AllocationUser | null): boolean {
  if (caller === null || caller.uid === 0) return true;
  const user = allocationUser(allocation, homeOwner);
  return user === null || user.uid === caller.uid;
}

/** The allocations of `allocations` that `caller` may not act on. */
export function othersAllocations<A extends Pick<Allocation, 'user'>>(allocations: readonly A[], caller: Caller, homeOwner: AllocationUser | null): A[] {
  return allocations.filter((a) => !mayActOn(a, caller, homeOwner));
}

/** A user as people read it: the name, else the uid. */
export function describeUser(user: AllocationUser | null | undefined): string {
  if (!user) return '-';
  return user.name ?? `uid ${user.uid}`;
}
