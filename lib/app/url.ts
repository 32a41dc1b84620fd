import path = require('path');
import { StyxyError } from '../errors';
import { findNameProblem } from '../core/names';
import { urlFor, type HostStyle } from '../core/url';
import { findProjectRoot } from '../os/project';
import type { TransactionContext } from '../store/transaction';
import { withLiveState } from './context';

export interface UrlInput {
  serviceType: string;
  instanceId?: string;
  /** Project directory (default: the git top level of cwd, else cwd). */
  project?: string;
  /** Default: the config's `urls.host_style`. */
  hostStyle?: HostStyle;
}

export interface UrlEntry {
  url: string;
  port: number;
  serviceType: string;
  instanceId: string;
  lockId: string;
}

export interface UrlResult {
  success: true;
  /** The URL, when exactly one live allocation matched. */
  url?: string;
  /** Every live allocation of the type in the project (with the instance id, if given), by port. */
  allocations: UrlEntry[];
}

/**
 * `styxy url`: the URL of this project's live allocation of a type (and instance id), written as
 * `allocate` writes it. NOT_FOUND when there is none.
 */
export async function runUrl(ctx: TransactionContext, input: UrlInput): Promise<UrlResult> {
  const problem =
    findNameProblem(input.serviceType, 'service type') ?? (input.instanceId === undefined ? null : findNameProblem(input.instanceId, 'instance id'));
  if (problem) throw new StyxyError('INVALID_ARGUMENT', problem);
  const project = input.project ? path.resolve(ctx.cwd, input.project) : findProjectRoot(ctx.cwd);
  const { result } = await withLiveState<UrlResult>(
    ctx,
    ({ config, state }) => {
      const style = input.hostStyle ?? config.config.urls.host_style;
      const allocations = state.allocations
        .filter((a) => a.serviceType === input.serviceType && a.project === project && (input.instanceId === undefined || a.instanceId === input.instanceId))
        .sort((a, b) => a.port - b.port)
        .map((a) => ({
          // Named as allocate names it: by the instance id the caller gave, else by the type.
          url: urlFor(a.port, { style, name: a.sticky ? a.instanceId : a.serviceType, project: path.basename(a.project) }),
          port: a.port,
          serviceType: a.serviceType,
          instanceId: a.instanceId,
          lockId: a.lockId,
        }));
      return { result: { success: true, ...(allocations.length === 1 && { url: allocations[0]?.url }), allocations } };
    },
    { configOptional: true },
  );
  if (result.allocations.length === 0) {
    const what = `${input.serviceType}${input.instanceId === undefined ? '' : ` instance '${input.instanceId}'`}`;
    throw new StyxyError('NOT_FOUND', `No live allocation of ${what} in ${project}`, {
      details: { serviceType: input.serviceType, project, ...(input.instanceId !== undefined && { instanceId: input.instanceId }) },
      suggestions: [
        `Allocate one: styxy allocate -s ${input.serviceType}${input.instanceId === undefined ? '' : ` -n ${input.instanceId}`}`,
        'See what is allocated: styxy list -v',
      ],
    });
  }
  return result;
}
