import path = require('path');
import { StyxyError } from '../errors';
import { isSingleInstance, planAllocation, type AllocationRequest } from '../core/allocation';
import { urlFor } from '../core/url';
import type { RangeProposal } from '../core/range-placement';
import type { Config } from '../core/types';
import { ownValue } from '../core/types';
import type { LoadedConfig } from '../store/config-files';
import type { TransactionContext } from '../store/transaction';
import { acceptProposal, proposalDetails, proposeRange, rangeQuestion, type AcceptedRange } from './auto-allocate';
import type { Ask } from './confirmation';
import { refuseNearMissType } from './near-miss';
import type { AcceptedRanges, AllocateResult } from './allocate-shapes';
import {
  existingInstance,
  newAllocation,
  stickyReuse,
  type AllocateStep,
  type KnownPlan,
  type StepBase,
  type StepInput,
  type StepView,
} from './allocate-outcomes';
import { withIdentity } from './allocate-request';

// One type's allocation inside a transaction: the type made known (auto-allocated, or a
// question when that needs a yes), then the outcome its plan names.

/**
 * Allocates one type against a view of the config and the state, without writing anything:
 * the running single instance, the caller's sticky allocation, or the first candidate port the
 * OS finds free (an unknown type first gets a range). A batch chains these over one transaction.
 */
export async function allocateStep(
  ctx: TransactionContext,
  input: StepInput,
  request: AllocationRequest,
  view: StepView,
  acceptedRange: readonly [number, number] | undefined,
): Promise<AllocateStep | Unconfirmed> {
  const now = ctx.now();
  const known = await makeTypeKnown(ctx, input, request, view, acceptedRange, now);
  if ('unconfirmed' in known) return known;
  const base = stepBase(input, request, view, known);
  const step = await (async () => {
    switch (known.plan.kind) {
      case 'existing':
        return existingInstance(input, request, known.plan, view, base);
      case 'reused':
        return stickyReuse(input, request, known.plan, view, base);
      case 'candidates':
        return newAllocation(request, known.plan, view.state, base, now);
    }
  })();
  return { ...step, result: { ...step.result, ...origin(input, request, step.result.port, known.config.config) } };
}

/** The type made known: as configured, or given a range by this call, which then plans again. */
interface KnownType {
  config: LoadedConfig;
  plan: KnownPlan;
  auto?: { proposal: RangeProposal; accepted: AcceptedRange };
}

/**
 * A configured type is known as it is. An unknown one is refused when it is a near miss of a
 * known one (unless `--new-type`), else given a proposed range, which needs the user's
 * confirmation when the config asks for it; accepted, the type is in the config and is planned again.
 */
async function makeTypeKnown(
  ctx: TransactionContext,
  input: StepInput,
  request: AllocationRequest,
  view: StepView,
  acceptedRange: readonly [number, number] | undefined,
  now: number,
): Promise<KnownType | Unconfirmed> {
  const plan = planAllocation(view.config.config, view.state, withIdentity(request, view.config), { now });
  if (plan.kind !== 'unknown') return { config: view.config, plan };
  if (!input.newType) refuseNearMissType(request.serviceType, Object.keys(view.config.config.service_types));
  const proposal = await proposeRange(view.config, view.state, request.serviceType);
  if (needsConfirmation(view.config, input, proposal, acceptedRange)) return { unconfirmed: proposal, changed: acceptedRange !== undefined };
  const accepted = acceptProposal(ctx, view.config, proposal);
  const replanned = planAllocation(accepted.config.config, view.state, withIdentity(request, accepted.config), { now });
  if (replanned.kind === 'unknown') throw new StyxyError('INTERNAL', `Service type '${request.serviceType}' is still unknown after auto-allocation`);
  return { config: accepted.config, plan: replanned, auto: { proposal, accepted } };
}

/** With require_confirmation on, a proposal goes ahead only with --yes, on a dry run, or when it is the range the user accepted. */
function needsConfirmation(config: LoadedConfig, input: StepInput, proposal: RangeProposal, acceptedRange: readonly [number, number] | undefined): boolean {
  if (!config.config.auto_allocation.require_confirmation || input.dryRun || input.yes) return false;
  return !(acceptedRange && acceptedRange[0] === proposal.range[0] && acceptedRange[1] === proposal.range[1]);
}

/** A new type's range that needs a yes first; `changed` when the one accepted before is not what is proposed now. */
export interface Unconfirmed {
  unconfirmed: RangeProposal;
  changed: boolean;
}

/** An auto-allocation that needs a yes, as a question; a yes accepts its range, beside those accepted before. */
export function askRange({ unconfirmed, changed }: Unconfirmed, accepted: AcceptedRanges | undefined): Ask<AcceptedRanges> {
  return {
    kind: 'ask',
    question: rangeQuestion(unconfirmed, { changed, answered: accepted !== undefined }),
    yes: { ...accepted, [unconfirmed.serviceType]: unconfirmed.range },
  };
}

function stepBase(input: StepInput, request: AllocationRequest, view: StepView, { config, auto }: KnownType): StepBase {
  return {
    flags: {
      autoAllocated: auto !== undefined,
      singleInstance: isSingleInstance(ownValue(config.config.service_types, request.serviceType)),
      pruned: view.pruned,
      ...(auto && { newRange: auto.proposal.range, autoAllocation: proposalDetails(auto.proposal) }),
      ...(input.dryRun && { dryRun: true as const }),
    },
    config,
    // An auto-allocation is written with whatever the allocation turns out to be.
    writes: auto ? { userConfig: auto.accepted.userLayer, ...(auto.accepted.afterCommit && { afterCommit: auto.accepted.afterCommit }) } : {},
    audit: auto ? [auto.accepted.audit] : [],
  };
}

/**
 * The URL, and the type's own variable names. In the subdomain style the service is named by the
 * instance id the caller gave (`-n web`), else by its type, and the project by its directory's name.
 */
function origin(input: StepInput, request: AllocationRequest, port: number, config: Config): Pick<AllocateResult, 'url' | 'envNames'> {
  const names = ownValue(config.service_types, request.serviceType)?.env;
  const url = urlFor(port, {
    style: input.hostStyle ?? config.urls.host_style,
    name: request.instanceId ?? request.serviceType,
    project: path.basename(request.project),
  });
  return { url, ...(names && (names.port !== undefined || names.url !== undefined) && { envNames: { ...names } }) };
}
