import { mayActOn } from '../core/permissions';
import { pruneGoneProjects, pruneUnused } from '../core/prune';
import type { Allocation } from '../core/types';
import { probePortFree, readListeners } from '../os/ports';
import { isGoneDirectory } from '../os/project';
import type { TransactionContext } from '../store/transaction';
import { withLiveState } from './context';
import { currentCaller, homeOwner } from './users';

export interface CleanupResult {
  success: true;
  /** Allocations whose owner was gone or whose lease ended. */
  pruned: Allocation[];
  /** With --force: live allocations dropped because nothing listened on their port. */
  unused: Allocation[];
  /** With --gone: allocations dropped because their project directory no longer exists. */
  gone: Allocation[];
  /** Without --gone: the allocations --gone would drop (offered, left as they are). */
  goneFound: Allocation[];
}

export interface CleanupInput {
  force?: boolean;
  /** With force: tell what would be dropped, and write nothing (not even the pruning). */
  dryRun?: boolean;
  /** With force: drop only these lock ids (the ones a person agreed to), if they are still unused. */
  only?: readonly string[];
  /** Drop the allocations of project directories that no longer exist (see pruneGoneProjects). */
  gone?: boolean;
}

/**
 * `styxy cleanup`: report what pruning dropped. With `--force`, also drop every allocation
 * whose port nobody listens on, whoever owns it (`only` narrows that to what was agreed to).
 * Neither `--force` nor `--gone` drops another user's allocation in a shared home (root may).
 */
export async function runCleanup(ctx: TransactionContext, input: CleanupInput): Promise<CleanupResult> {
  const { result } = await withLiveState<CleanupResult>(
    ctx,
    async ({ state: live, pruned }) => {
      // In a shared home, another member's allocations are theirs to give up (lib/core/permissions.ts).
      const caller = currentCaller();
      const owner = homeOwner(ctx);
      const mine = (a: Allocation) => mayActOn(a, caller, owner);
      const { state, pruned: gone } = pruneGoneProjects(live, isGoneDirectory, mine);
      const goneAudit = gone.map((a) => ({ action: 'cleanup', serviceType: a.serviceType, lockId: a.lockId, port: a.port, reason: 'project gone' }));
      const after = input.gone ? state : live;
      const goneFields = input.gone ? { gone, goneFound: [] } : { gone: [], goneFound: gone };
      if (!input.force) {
        if (!input.gone || gone.length === 0 || input.dryRun) return { result: { success: true, pruned, unused: [], ...goneFields } };
        return { result: { success: true, pruned, unused: [], ...goneFields }, state: after, audit: goneAudit };
      }
      const listening = await listeningPorts(after.allocations.map((a) => a.port));
      const only = input.only === undefined ? undefined : new Set(input.only);
      const spared = (a: Allocation) => (only !== undefined && !only.has(a.lockId)) || !mine(a);
      const { state: kept, pruned: unused } = pruneUnused(after, (port) => listening.has(port), spared);
      if (input.dryRun) return { result: { success: true, pruned, unused, ...goneFields } };
      return {
        result: { success: true, pruned, unused, ...goneFields },
        state: kept,
        audit: [
          ...(input.gone ? goneAudit : []),
          ...unused.map((a) => ({ action: 'cleanup', serviceType: a.serviceType, lockId: a.lockId, port: a.port, reason: 'nothing listening' })),
        ],
      };
    },
    { configOptional: true, ...(input.dryRun && { write: false }) },
  );
  return result;
}

async function listeningPorts(ports: number[]): Promise<Set<number>> {
  const listeners = readListeners();
  if (listeners) return new Set(listeners.map((l) => l.port));
  const busy = new Set<number>();
  await Promise.all(ports.map(async (p) => (!(await probePortFree(p)) ? busy.add(p) : undefined)));
  return busy;
}
