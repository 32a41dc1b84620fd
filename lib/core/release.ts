import type { Allocation, Config, Owner, State } from './types';
import { ownValue } from './types';
import { isSingleInstance } from './allocation';

export type ReleaseSelector = { lockId: string } | { serviceType: string; instanceId?: string; project: string; all?: boolean };

export type ReleasePlan =
  | { kind: 'released'; state: State; released: Allocation[] }
  | { kind: 'rejected'; code: 'NOT_FOUND' | 'INVALID_ARGUMENT'; message: string; suggestions: string[] };

/**
 * Chooses what a release frees. By lock id: that allocation. By type and instance id: the
 * allocation of that instance in the project. By type alone: a single-instance type's holder, or
 * the project's only allocation of the type (several need `--all` or an instance id).
 */
export function planRelease(config: Config, state: State, selector: ReleaseSelector): ReleasePlan {
  let matches: Allocation[];
  let what: string;
  if ('lockId' in selector) {
    matches = state.allocations.filter((a) => a.lockId === selector.lockId);
    what = `lock id '${selector.lockId}'`;
  } else if (selector.instanceId !== undefined) {
    matches = state.allocations.filter((a) => a.serviceType === selector.serviceType && a.instanceId === selector.instanceId && a.project === selector.project);
    what = `'${selector.serviceType}' instance '${selector.instanceId}' in ${selector.project}`;
  } else if (isSingleInstance(ownValue(config.service_types, selector.serviceType))) {
    matches = state.allocations.filter((a) => a.serviceType === selector.serviceType);
    what = `single-instance service '${selector.serviceType}'`;
  } else {
    matches = state.allocations.filter((a) => a.serviceType === selector.serviceType && a.project === selector.project);
    what = `'${selector.serviceType}' in ${selector.project}`;
    if (matches.length > 1 && !selector.all) {
      return {
        kind: 'rejected',
        code: 'INVALID_ARGUMENT',
        message: `${matches.length} allocations match ${what}; name one`,
        suggestions: [
          ...matches.map((a) => `styxy release ${a.lockId}   (port ${a.port}, instance ${a.instanceId})`),
          `or release them all: styxy release -s ${selector.serviceType} --all`,
        ],
      };
    }
  }
  if (matches.length === 0) {
    return {
      kind: 'rejected',
      code: 'NOT_FOUND',
      message: `No allocation for ${what}`,
      suggestions: ['See the live allocations: styxy list -v'],
    };
  }
  const released = new Set(matches);
  return { kind: 'released', state: { ...state, allocations: state.allocations.filter((a) => !released.has(a)) }, released: matches };
}

/**
 * True while an allocation still has the owner its creator gave it: the same kind and, for a
 * process, the same PID and start time. A release made on the creator's behalf (the end of a
 * `run`, of `withPort`) frees the allocation only then: once someone else has made it theirs
 * (`--persistent`, a `--pid` hand-over, a new lease holder), it is theirs to release.
 */
export function isSameOwner(actual: Owner, expected: Owner): boolean {
  if (actual.kind !== expected.kind) return false;
  if (actual.kind === 'process' && expected.kind === 'process') return actual.pid === expected.pid && actual.startTime === expected.startTime;
  return true;
}
