import path = require('path');
import { StyxyError } from '../errors';
import { callerUser } from '../os/identity';
import type { AllocationRequest } from '../core/allocation';
import { findLabelProblem, findNameProblem, findSessionProblem } from '../core/names';
import type { AllocationUser } from '../core/types';
import { ownValue } from '../core/types';
import { findProjectRoot, readProjectIdentity } from '../os/project';
import { identityWithName } from '../core/origin';
import { BUILT_IN, type LoadedConfig } from '../store/config-files';
import type { TransactionContext } from '../store/transaction';
import { resolveOwner } from './owner';
import type { AllocateInput } from './allocate-shapes';

// The request of an allocation, settled before the lock: its names checked, its project and
// owner found (core/allocation.ts's AllocationRequest).

/** Checks what the user typed, before any lock is taken. */
export function checkAllocateInput(input: AllocateInput): void {
  const problem =
    findNameProblem(input.serviceType, 'service type') ??
    (input.instanceId === undefined ? null : findNameProblem(input.instanceId, 'instance id')) ??
    (input.label === undefined ? null : findLabelProblem(input.label)) ??
    (input.session === undefined ? null : findSessionProblem(input.session));
  if (problem) throw new StyxyError('INVALID_ARGUMENT', problem);
  if (input.block !== undefined && !(Number.isInteger(input.block) && input.block >= 2 && input.block <= MAX_BLOCK)) {
    throw new StyxyError('INVALID_ARGUMENT', `a block is 2 to ${MAX_BLOCK} ports, got ${JSON.stringify(input.block)}`);
  }
}

/** The most ports one `--block` holds. */
export const MAX_BLOCK = 100;

export function buildRequest(
  ctx: TransactionContext,
  input: Omit<AllocateInput, 'serviceType'>,
  serviceType: string,
  sticky: boolean = input.instanceId !== undefined,
): AllocationRequest {
  const project = input.project ? path.resolve(ctx.cwd, input.project) : findProjectRoot(ctx.cwd);
  const request: AllocationRequest = {
    serviceType,
    project,
    owner: resolveOwner(input.owner, ctx.now(), ctx.warn),
    ...withUser(callerUser()),
    ...(input.instanceId !== undefined && { instanceId: input.instanceId }),
    ...(input.port !== undefined && { port: input.port }),
    ...(input.block !== undefined && { block: input.block }),
    ...(input.label !== undefined && { label: input.label }),
    ...(input.session !== undefined && { session: input.session }),
  };
  // Read before the lock, from the repository's files (no git subprocess), and only for a sticky
  // request: its derived home port (core/origin.ts). A batch with an instance id per type (a
  // stack, a compose file) is sticky though it has no shared one.
  const identity = sticky ? readProjectIdentity(project) : null;
  return identity ? { ...request, identity } : request;
}

/**
 * The request's identity, where a project's `name` replaces the repository's (core/origin.ts); a
 * type's preferred ports that a project or user config set come before a derived port, the
 * built-in ones after it.
 */
export function withIdentity(request: AllocationRequest, config: LoadedConfig): AllocationRequest {
  const identity = request.instanceId === undefined ? undefined : identityWithName(request.identity, projectName(config, request.project));
  if (identity === undefined) return request;
  const preferredSource = config.preferredSources && ownValue(config.preferredSources, request.serviceType);
  return { ...request, identity, preferredFirst: preferredSource !== undefined && preferredSource !== BUILT_IN };
}

/**
 * A project's `name` counts only from the `.styxy.json` at the project's top level: one found
 * higher up (in a home directory, say) would give every repository below it the same name.
 */
function projectName(config: LoadedConfig, project: string): string | undefined {
  return config.projectFile !== null && path.dirname(config.projectFile) === project ? config.projectLayer?.name : undefined;
}

function withUser(user: AllocationUser | null): { user?: AllocationUser } {
  return user ? { user } : {};
}

export const graceMs = (config: LoadedConfig): number => config.config.lifetime.reservation_grace_seconds * 1000;
