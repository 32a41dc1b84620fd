import { StyxyError } from '../errors';
import type { Question } from './confirmation';
import { withServiceType } from '../core/config-keys';
import { newServiceType, placeRange, type PlacementFacts, type RangeProposal } from '../core/range-placement';
import type { ConfigLayer, State } from '../core/types';
import { probePortFree, readEphemeralRange, readListeners } from '../os/ports';
import { currentUser } from '../store/audit-log';
import { buildEffectiveConfig, type LoadedConfig } from '../store/config-files';
import { appendPortDocsRow, resolveDocsPath } from '../store/port-docs';
import type { TransactionContext } from '../store/transaction';
import { isoTime } from '../core/time';

/** Matches a type name against a rule's glob. minimatch is loaded only when a rule has a glob. */
export function globMatch(name: string, pattern: string): boolean {
  const { minimatch } = require('minimatch') as typeof import('minimatch');
  return minimatch(name, pattern, { nocomment: true });
}

/** How many times a range is re-placed when probing finds a listener that /proc could not show. */
const PROBE_ROUNDS = 20;

/**
 * Finds a range for an unknown type (see core/range-placement), given what the OS reports: the
 * listening ports from /proc and the ephemeral range. Where /proc cannot be read, each port of a
 * proposed range is probed and a busy one sends the placement round again.
 */
export async function proposeRange(config: LoadedConfig, state: State, serviceType: string): Promise<RangeProposal> {
  const auto = config.config.auto_allocation;
  if (!auto.enabled) {
    throw new StyxyError('UNKNOWN_SERVICE_TYPE', `Unknown service type '${serviceType}', and auto-allocation is disabled`, {
      details: { serviceType },
      suggestions: [
        `Known types: ${Object.keys(config.config.service_types).sort().join(', ')}`,
        'Let Styxy give new types a range of their own: styxy config auto-allocation enable',
        'Or add it under service_types in your config (styxy config path)',
      ],
    });
  }
  const listeners = readListeners();
  const facts: PlacementFacts & { listeningPorts: number[] } = {
    listeningPorts: listeners ? listeners.map((l) => l.port) : [],
    heldPorts: state.allocations.map((a) => a.port),
    ephemeral: readEphemeralRange(),
  };
  for (let round = 0; round < PROBE_ROUNDS; round++) {
    const outcome = placeRange({ serviceType, config: config.config, facts, match: globMatch });
    if (outcome.kind === 'failed') {
      throw new StyxyError('AUTO_ALLOCATION_FAILED', outcome.message, {
        details: { serviceType, chunkSize: outcome.chunkSize, rule: outcome.rule, tried: outcome.tried, bounds: [auto.min_port, auto.max_port] },
        suggestions: [
          `Widen the bounds: styxy config set auto-allocation.min-port N / auto-allocation.max-port N`,
          `Ask for fewer ports: styxy config auto-allocation set-rule '${serviceType}' --chunk-size N`,
          `Or add '${serviceType}' under service_types with a port_range of your choice (styxy config path)`,
        ],
      });
    }
    if (listeners) return outcome.proposal;
    const busy = await busyPorts(outcome.proposal.range);
    if (busy.length === 0) return outcome.proposal;
    facts.listeningPorts.push(...busy);
  }
  throw new StyxyError('AUTO_ALLOCATION_FAILED', `Every range proposed for '${serviceType}' had ports in use`, { details: { serviceType } });
}

async function busyPorts([low, high]: readonly [number, number]): Promise<number[]> {
  const busy: number[] = [];
  for (let port = low; port <= high; port++) if (!(await probePortFree(port))) busy.push(port);
  return busy;
}

/** Stops an unconfirmed auto-allocation, carrying the proposal so that the caller can ask. */
export function confirmationRequired(proposal: RangeProposal, changed: boolean): StyxyError {
  const [low, high] = proposal.range;
  const lead = changed ? `The proposed range changed while waiting for an answer: now` : 'Auto-allocation needs confirmation:';
  return new StyxyError(
    'CONFIRMATION_REQUIRED',
    `${lead} ports ${low}-${high} (${proposal.chunkSize}) for new service type '${proposal.serviceType}', placed ${describePlacement(proposal)}. Nothing was written`,
    {
      details: { proposal: proposalDetails(proposal) },
      suggestions: [
        `Accept it: styxy allocate -s ${proposal.serviceType} --yes`,
        'Or stop asking: styxy config set auto-allocation.require-confirmation false',
      ],
    },
  );
}

/**
 * The question an unconfirmed auto-allocation asks. After an answer (a batch's earlier type, or
 * this type's range that has changed since), the reason for another question is said first.
 */
export function rangeQuestion(proposal: RangeProposal, { changed, answered }: { changed: boolean; answered: boolean }): Question {
  const unanswered = confirmationRequired(proposal, changed);
  const [low, high] = proposal.range;
  return {
    prompt: `Auto-allocate ports ${low}-${high} for '${proposal.serviceType}'?`,
    context: answered ? [`styxy: ${unanswered.message}`] : [],
    unanswered,
    declined: new StyxyError('CONFIRMATION_REQUIRED', `Declined: no range was given to '${proposal.serviceType}' and nothing was written`, {
      details: unanswered.details,
    }),
  };
}

export function describePlacement(p: RangeProposal): string {
  return `${p.placement === 'preferred-start' ? 'by preferred start' : p.placement}: ${p.reason}`;
}

export function proposalDetails(p: RangeProposal) {
  return {
    serviceType: p.serviceType,
    range: p.range,
    chunkSize: p.chunkSize,
    placement: p.placement,
    requestedPlacement: p.requestedPlacement,
    rule: p.rule,
    instanceBehavior: p.instanceBehavior,
    reason: p.reason,
    tried: p.tried,
  };
}

export interface AcceptedRange {
  /** The config with the new type, as it will be after the commit. */
  config: LoadedConfig;
  userLayer: ConfigLayer;
  audit: { action: string; [key: string]: unknown };
  afterCommit?: () => void;
}

/**
 * What accepting a proposal writes: the type in the user's config.json (marked auto_allocated),
 * the audit event, and, after the commit, the row in the port document. The config is checked
 * as a whole before anything is written.
 */
export function acceptProposal(ctx: TransactionContext, loaded: LoadedConfig, proposal: RangeProposal): AcceptedRange {
  const now = ctx.now();
  const type = newServiceType(proposal, { at: isoTime(now), by: currentUser(), rule: proposal.rule });
  const userLayer = withServiceType(loaded.userLayer, proposal.serviceType, type);
  const config = buildEffectiveConfig(ctx.paths, loaded.projectFile, loaded.projectLayer, userLayer);
  const docs = loaded.config.auto_allocation.port_docs_path;
  return {
    config,
    userLayer,
    audit: { action: 'auto-allocate', ...proposalDetails(proposal) },
    ...(docs && { afterCommit: () => appendPortDocsRow(ctx.paths, resolveDocsPath(ctx.paths, docs), proposal.serviceType, proposal.range, now) }),
  };
}
