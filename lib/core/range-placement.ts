import { freeRuns, merge, type Interval } from './intervals';
import { DEFAULT_INSTANCE_BEHAVIOR } from './defaults';
import { PORT_CEILING, PORT_FLOOR, tryPlacement, tryPreferred, type Attempt, type Layout } from './placement-strategies';
import type { AutoAllocatedMark, AutoAllocationRule, Config, InstanceBehavior, Placement, ServiceType } from './types';

export { categoryOf } from './categories';
export { PORT_CEILING, PORT_FLOOR } from './placement-strategies';

/**
 * Where a new range for an unknown service type goes. Pure: the OS facts (listening ports, the
 * ephemeral range) come in as data, and the same inputs always give the same range.
 *
 * The ports that are off limits form "blocked" intervals: every configured range widened by the
 * gap on both sides (when gaps are preserved), the OS's ephemeral range, and each port that
 * something listens on or a live allocation holds. A new range is a run of `chunk` ports that
 * touches none of them; the strategies differ only in which run they pick.
 */

/** How a range was found: one of the placements, or a rule's preferred start. */
export type PlacementStrategy = Placement | 'preferred-start';

export interface PlacementFacts {
  /** Ports the OS reports a listener on, in any order. */
  listeningPorts: readonly number[];
  /** Ports held by live allocations (a type removed from the config may still hold some). */
  heldPorts: readonly number[];
  /** The OS's ephemeral port range, never handed out as a service range. */
  ephemeral: readonly [number, number] | null;
}

export interface RangeProposal {
  serviceType: string;
  range: [number, number];
  chunkSize: number;
  /** The strategy that found the range. */
  placement: PlacementStrategy;
  /** The placement the config or rule asked for. */
  requestedPlacement: Placement;
  /** The rule pattern that matched, or null. */
  rule: string | null;
  /** What the rule gives the new type (default multi). */
  instanceBehavior: InstanceBehavior;
  /** One sentence on why this range. */
  reason: string;
  /** The strategies tried before this one, each with why it found nothing. */
  tried: string[];
}

export type PlacementOutcome =
  | { kind: 'placed'; proposal: RangeProposal }
  | { kind: 'failed'; serviceType: string; chunkSize: number; rule: string | null; message: string; tried: string[] };

const PLACEMENTS: readonly Placement[] = ['after', 'before', 'smart'];

/** The first rule, in file order, whose pattern matches the type; `match` is the glob matcher. */
export function findRule(
  rules: Record<string, AutoAllocationRule>,
  serviceType: string,
  match: (name: string, pattern: string) => boolean,
): { pattern: string; rule: AutoAllocationRule } | null {
  for (const [pattern, rule] of Object.entries(rules)) {
    if (pattern === serviceType || (/[*?[\]{}!+@()]/.test(pattern) && match(serviceType, pattern))) return { pattern, rule };
  }
  return null;
}

export interface PlacementRequest {
  serviceType: string;
  config: Config;
  facts: PlacementFacts;
  /** Matches a type name against a rule's glob (minimatch in the app). */
  match: (name: string, pattern: string) => boolean;
}

/**
 * Finds a range for `serviceType`: a matching rule's preferred start first (whatever the
 * placement), then the rule's or the config's placement, then the other placements; fails only
 * when none has room, naming what each tried.
 */
export function placeRange(request: PlacementRequest): PlacementOutcome {
  const { serviceType, config, facts } = request;
  const auto = config.auto_allocation;
  const matched = findRule(config.auto_allocation_rules, serviceType, request.match);
  const rule = matched?.rule ?? {};
  const pattern = matched?.pattern ?? null;
  const chunk = rule.chunk_size ?? auto.default_chunk_size;
  const requestedPlacement = rule.placement ?? auto.placement;
  const gap = auto.preserve_gaps ? auto.gap_size : 0;
  const bounds: Interval = [Math.max(PORT_FLOOR, auto.min_port), Math.min(PORT_CEILING, auto.max_port)];

  const ranges = Object.entries(config.service_types).map(([name, t]) => ({ name, lo: t.port_range[0], hi: t.port_range[1] }));
  const blockedList: Interval[] = ranges.map((r) => [r.lo - gap, r.hi + gap]);
  if (facts.ephemeral) blockedList.push([facts.ephemeral[0], facts.ephemeral[1]]);
  for (const port of facts.listeningPorts) blockedList.push([port, port]);
  for (const port of facts.heldPorts) blockedList.push([port, port]);
  const blocked = merge(blockedList);
  const layout: Layout = { chunk, gap, bounds, blocked, free: freeRuns(blocked, bounds[0], bounds[1]), ranges };

  const attempts: { strategy: PlacementStrategy; run: () => Attempt }[] = [];
  if (rule.preferred_range_start !== undefined && pattern !== null) {
    const preferred = rule.preferred_range_start;
    attempts.push({ strategy: 'preferred-start', run: () => tryPreferred(layout, preferred, pattern) });
  }
  for (const placement of [requestedPlacement, ...PLACEMENTS.filter((p) => p !== requestedPlacement)]) {
    attempts.push({ strategy: placement, run: () => tryPlacement(placement, layout, serviceType) });
  }

  const tried: string[] = [];
  for (const { strategy, run } of attempts) {
    const attempt = run();
    if ('failed' in attempt) {
      tried.push(attempt.failed);
      continue;
    }
    return {
      kind: 'placed',
      proposal: {
        serviceType,
        range: [attempt.start, attempt.start + chunk - 1],
        chunkSize: chunk,
        placement: strategy,
        requestedPlacement,
        rule: pattern,
        instanceBehavior: rule.instance_behavior ?? DEFAULT_INSTANCE_BEHAVIOR,
        reason: attempt.reason,
        tried,
      },
    };
  }
  const gapNote = gap > 0 ? `, keeping ${gap} ports free around every range` : '';
  return {
    kind: 'failed',
    serviceType,
    chunkSize: chunk,
    rule: pattern,
    tried,
    message: `No room for a ${chunk}-port range for '${serviceType}' in ${bounds[0]}-${bounds[1]}${gapNote}. Tried: ${tried.join('; ')}`,
  };
}

/** The service type written into config.json for an accepted proposal. */
export function newServiceType(proposal: RangeProposal, mark: AutoAllocatedMark): ServiceType {
  return {
    description: `Auto-allocated for '${proposal.serviceType}'`,
    port_range: proposal.range,
    instance_behavior: proposal.instanceBehavior,
    auto_allocated: mark,
  };
}
