import type { AutoAllocatedMark, AutoAllocationRule, Config, InstanceBehavior, Placement, ServiceType } from './types';

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

/** The lowest and highest port any auto-allocated range may use. */
export const PORT_FLOOR = 1024;
export const PORT_CEILING = 65535;
const PLACEMENTS: readonly Placement[] = ['after', 'before', 'smart'];

/** Words that put a service type in a category when its name has no `category-` prefix. */
const CATEGORY_KEYWORDS: Record<string, string> = {
  grafana: 'monitoring', prometheus: 'monitoring', jaeger: 'monitoring', loki: 'monitoring', tempo: 'monitoring',
  zipkin: 'monitoring', kibana: 'monitoring', alertmanager: 'monitoring', otel: 'monitoring', signoz: 'monitoring',
  postgres: 'database', postgresql: 'database', pg: 'database', mysql: 'database', mariadb: 'database',
  mongo: 'database', mongodb: 'database', couchdb: 'database', cassandra: 'database', clickhouse: 'database',
  sqlserver: 'database', cockroach: 'database', redis: 'infrastructure', memcached: 'infrastructure', valkey: 'infrastructure',
  kafka: 'messaging', rabbitmq: 'messaging', nats: 'messaging', mqtt: 'messaging', mosquitto: 'messaging',
  ollama: 'ai', llm: 'ai', llama: 'ai', vllm: 'ai', rag: 'ai', chroma: 'ai', chromadb: 'ai', qdrant: 'ai', embeddings: 'ai',
  vite: 'dev', next: 'dev', nuxt: 'dev', astro: 'dev', webpack: 'dev', storybook: 'storybook',
  nginx: 'proxy', caddy: 'proxy', traefik: 'proxy', mitmproxy: 'proxy', keycloak: 'auth', mcp: 'coordination',
};

/** A type's category: the part of its name before the first `-`, or what a known keyword stands for. */
export function categoryOf(serviceType: string): string {
  const head = (serviceType.split('-')[0] ?? serviceType).toLowerCase();
  return Object.prototype.hasOwnProperty.call(CATEGORY_KEYWORDS, head) ? (CATEGORY_KEYWORDS[head] as string) : head;
}

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

type Interval = [number, number];

/** Sorted, merged, inclusive intervals. */
function merge(intervals: Interval[]): Interval[] {
  intervals.sort((a, b) => a[0] - b[0]);
  const out: Interval[] = [];
  for (const [lo, hi] of intervals) {
    const last = out[out.length - 1];
    if (last && lo <= last[1] + 1) last[1] = Math.max(last[1], hi);
    else out.push([lo, hi]);
  }
  return out;
}

/** The free runs inside [lo, hi]: the complement of the blocked intervals. */
function freeRuns(blocked: readonly Interval[], lo: number, hi: number): Interval[] {
  const free: Interval[] = [];
  let next = lo;
  for (const [bLo, bHi] of blocked) {
    if (bHi < next) continue;
    if (bLo > hi) break;
    if (bLo > next) free.push([next, Math.min(bLo - 1, hi)]);
    next = Math.max(next, bHi + 1);
    if (next > hi) break;
  }
  if (next <= hi) free.push([next, hi]);
  return free;
}

/** The lowest start ≥ `from` of `chunk` free ports, or null. */
function lowestFitFrom(free: readonly Interval[], from: number, chunk: number): number | null {
  for (const [lo, hi] of free) {
    const start = Math.max(lo, from);
    if (start + chunk - 1 <= hi) return start;
  }
  return null;
}

/** The highest end ≤ `to` of `chunk` free ports, as the range's start, or null. */
function highestFitTo(free: readonly Interval[], to: number, chunk: number): number | null {
  for (let i = free.length - 1; i >= 0; i--) {
    const [lo, hi] = free[i] as Interval;
    const end = Math.min(hi, to);
    if (end - chunk + 1 >= lo) return end - chunk + 1;
  }
  return null;
}

interface Layout {
  chunk: number;
  gap: number;
  bounds: Interval;
  blocked: Interval[];
  /** Free runs inside the bounds. */
  free: Interval[];
  ranges: { name: string; lo: number; hi: number }[];
}

type Attempt = { start: number; reason: string } | { failed: string };

function tryAfter(l: Layout): Attempt {
  const [bLo, bHi] = l.bounds;
  const below = l.ranges.filter((r) => r.lo <= bHi);
  const highest = below.reduce<Layout['ranges'][number] | null>((best, r) => (!best || r.hi > best.hi ? r : best), null);
  const from = highest ? Math.max(bLo, highest.hi + l.gap + 1) : bLo;
  const start = lowestFitFrom(l.free, from, l.chunk);
  if (start === null) return { failed: `after: no ${l.chunk} free ports from ${from} to ${bHi}` };
  const anchor = highest ? `above the highest range ('${highest.name}' ${highest.lo}-${highest.hi})` : `at the bottom of ${bLo}-${bHi}`;
  return { start, reason: `the first free ports ${anchor}` };
}

function tryBefore(l: Layout): Attempt {
  const [bLo, bHi] = l.bounds;
  const above = l.ranges.filter((r) => r.hi >= bLo);
  const lowest = above.reduce<Layout['ranges'][number] | null>((best, r) => (!best || r.lo < best.lo ? r : best), null);
  const to = lowest ? Math.min(bHi, lowest.lo - l.gap - 1) : bHi;
  const start = to < bLo ? null : highestFitTo(l.free, to, l.chunk);
  if (start === null) return { failed: `before: no ${l.chunk} free ports from ${bLo} to ${Math.max(to, bLo - 1)}` };
  const anchor = lowest ? `below the lowest range in ${bLo}-${bHi} ('${lowest.name}' ${lowest.lo}-${lowest.hi})` : `at the top of ${bLo}-${bHi}`;
  return { start, reason: `the last free ports ${anchor}` };
}

function trySmart(l: Layout, serviceType: string): Attempt {
  const category = categoryOf(serviceType);
  const kin = l.ranges.filter((r) => categoryOf(r.name) === category);
  let best: { start: number; distance: number; reason: string } | null = null;
  for (const r of kin) {
    const up = lowestFitFrom(l.free, r.hi + l.gap + 1, l.chunk);
    const down = highestFitTo(l.free, r.lo - l.gap - 1, l.chunk);
    // Above the kin first, so that at equal distance a category grows upward.
    const options = [
      ...(up === null ? [] : [{ start: up, distance: up - r.hi }]),
      ...(down === null ? [] : [{ start: down, distance: r.lo - (down + l.chunk - 1) }]),
    ];
    for (const o of options) {
      if (!best || o.distance < best.distance) {
        best = { ...o, reason: `next to '${r.name}' (${r.lo}-${r.hi}), the same category (${category})` };
      }
    }
  }
  if (best) return { start: best.start, reason: best.reason };
  const fits = l.free.filter(([lo, hi]) => hi - lo + 1 >= l.chunk);
  if (fits.length === 0) return { failed: `smart: no free run of ${l.chunk} ports in ${l.bounds[0]}-${l.bounds[1]}` };
  const [lo, hi] = fits.reduce((a, b) => (b[1] - b[0] < a[1] - a[0] ? b : a));
  return { start: lo, reason: `the smallest free gap that fits (${lo}-${hi})${kin.length ? '' : `; no other '${category}' type is configured`}` };
}

function tryPreferred(l: Layout, preferred: number, pattern: string): Attempt {
  const ceiling = preferred <= l.bounds[1] ? l.bounds[1] : PORT_CEILING;
  const free = freeRuns(l.blocked, Math.max(PORT_FLOOR, preferred), ceiling);
  const start = lowestFitFrom(free, preferred, l.chunk);
  if (start === null) return { failed: `preferred start ${preferred} (rule '${pattern}'): no ${l.chunk} free ports from ${preferred} to ${ceiling}` };
  return { start, reason: `the first free ports at or above ${preferred}, the preferred start of rule '${pattern}'` };
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
    attempts.push({ strategy: placement, run: () => (placement === 'after' ? tryAfter(layout) : placement === 'before' ? tryBefore(layout) : trySmart(layout, serviceType)) });
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
        instanceBehavior: rule.instance_behavior ?? 'multi',
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
