import type { Allocation, FreedPort, PortReuseSettings, State } from './types';
import { isoTime } from './time';

/**
 * Freed-port memory: each port released or pruned lately, with who held it and when. It serves
 * two rules. The reuse cool-down: for `cooldown_seconds` a freed port goes to a different service
 * (see isSameService) only when its range has no other free port, since the old clients (a browser tab, a proxy
 * route) would reach the wrong server and a port in TIME_WAIT refuses some servers. Home ports:
 * a sticky service (type + instance id + project) gets its last port back when it asks again and
 * the port is free; after the cool-down the port is passed over by others only while a port that
 * is nobody's home is free, for at most `home_port_days`, and at most `home_port_limit` homes
 * are remembered. Nothing here ever refuses a port: it only orders the candidates.
 */

const DAY_MS = 86_400_000;

/** Who asks: the identity a freed port is compared with. */
export interface Asker {
  serviceType: string;
  instanceId?: string;
  project: string;
  /** A single-instance type is one service whoever asks: its freed port is its own. */
  singleInstance?: boolean;
}

/** What the planner learns from the memory for one request. */
export interface ReuseOrder {
  /** The candidates, reordered: the caller's home first, then fresh ports, others' homes, cooling ports. */
  ports: number[];
  /** The port the same service held last, when it is among the candidates. */
  home?: number;
  /** The candidates still cooling from another service, with who freed them. */
  cooling: ReadonlyMap<number, FreedPort>;
}

/**
 * The same service: a single-instance type is one service whoever asks; otherwise the same type
 * in the same project, with the same instance id when the holder had one. A holder without one
 * (a plain `styxy run -s dev -- npm run dev`) is matched by an asker without one, so a restart
 * gets its port back, while a named instance keeps its port to itself.
 */
function isSameService(freed: FreedPort, asker: Asker): boolean {
  if (asker.singleInstance) return freed.serviceType === asker.serviceType;
  if (freed.serviceType !== asker.serviceType || freed.project !== asker.project) return false;
  return freed.sticky ? asker.instanceId === freed.instanceId : asker.instanceId === undefined;
}

function ageMs(freed: FreedPort, now: number): number {
  const at = Date.parse(freed.freedAt);
  return Number.isNaN(at) ? Infinity : now - at;
}

function isCooling(freed: FreedPort, now: number, settings: PortReuseSettings): boolean {
  return ageMs(freed, now) < settings.cooldown_seconds * 1000;
}

function isRememberedHome(freed: FreedPort, now: number, settings: PortReuseSettings): boolean {
  return freed.sticky && ageMs(freed, now) < settings.home_port_days * DAY_MS;
}

/**
 * Orders candidate ports (already free of live allocations, in the range's own order) for one
 * asker. `pinned` ports (a port the user asked for by number) stay in front whatever the memory
 * says; the caller's home comes next, then every port nobody freed lately, then the homes of
 * other sticky services (oldest freed first), then ports still cooling (oldest freed first).
 */
export function orderByReuse(
  candidates: readonly number[],
  pinned: number,
  asker: Asker,
  memory: readonly FreedPort[] | undefined,
  now: number,
  settings: PortReuseSettings,
): ReuseOrder {
  const cooling = new Map<number, FreedPort>();
  if (!memory || memory.length === 0) return { ports: [...candidates], cooling };
  const byPort = new Map<number, FreedPort>();
  for (const freed of memory) byPort.set(freed.port, freed);

  const front: number[] = [];
  const fresh: number[] = [];
  const homes: FreedPort[] = [];
  const cold: FreedPort[] = [];
  let home: number | undefined;
  candidates.forEach((port, index) => {
    const freed = byPort.get(port);
    const own = freed !== undefined && isSameService(freed, asker) && (isCooling(freed, now, settings) || isRememberedHome(freed, now, settings));
    if (own && home === undefined) home = port;
    if (freed && !own && isCooling(freed, now, settings)) cooling.set(port, freed);
    if (index < pinned) front.push(port);
    else if (own) return;
    else if (!freed) fresh.push(port);
    else if (cooling.has(port)) cold.push(freed);
    else if (isRememberedHome(freed, now, settings)) homes.push(freed);
    else fresh.push(port);
  });
  const oldestFirst = (a: FreedPort, b: FreedPort) => ageMs(b, now) - ageMs(a, now);
  const ports = [
    ...front,
    ...(home !== undefined && !front.includes(home) ? [home] : []),
    ...fresh,
    ...homes.sort(oldestFirst).map((f) => f.port),
    ...cold.sort(oldestFirst).map((f) => f.port),
  ];
  return home === undefined ? { ports, cooling } : { ports, home, cooling };
}

/**
 * The state after a change, with its memory brought up to date: every allocation of `before`
 * that `after` no longer has is remembered as freed now (replacing what was remembered of its
 * port, and a sticky service's older home); a port held again is forgotten, and so is what has
 * outlived both rules. Returns `after` itself when nothing was freed or taken.
 */
export function trackFreedPorts(before: State, after: State, now: number, settings: PortReuseSettings): State {
  // The common call frees nothing and remembers nothing: answer it without a pass over the state.
  if (before.allocations === after.allocations && !after.recentlyFreed?.length) return after;
  // Nor does one that only adds allocations after those it read (an allocate): no sets of 50 000.
  if (!after.recentlyFreed?.length && startsWith(after.allocations, before.allocations)) return after;
  const kept = new Set(after.allocations.map((a) => a.lockId));
  const held = new Set(after.allocations.map((a) => a.port));
  const freed = before.allocations.filter((a) => !kept.has(a.lockId) && !held.has(a.port));
  const memory = after.recentlyFreed ?? [];
  if (freed.length === 0 && !memory.some((f) => held.has(f.port))) return after;

  const freedAt = isoTime(now);
  const added = freed.map((a) => toFreedPort(a, freedAt));
  const replaced = new Set(added.map((f) => f.port));
  const movedHomes = new Set(added.filter((f) => f.sticky).map(identityKey));
  const survivors = memory.filter(
    (f) =>
      !held.has(f.port) &&
      !replaced.has(f.port) &&
      !(f.sticky && movedHomes.has(identityKey(f))) &&
      (isCooling(f, now, settings) || isRememberedHome(f, now, settings)),
  );
  const next = boundMemory([...survivors, ...added], settings);
  const { recentlyFreed: _dropped, ...rest } = after;
  return next.length === 0 ? rest : { ...rest, recentlyFreed: next };
}

function startsWith(all: readonly Allocation[], prefix: readonly Allocation[]): boolean {
  if (all.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (all[i] !== prefix[i]) return false;
  return true;
}

function toFreedPort(a: Allocation, freedAt: string): FreedPort {
  return { port: a.port, serviceType: a.serviceType, instanceId: a.instanceId, project: a.project, sticky: a.sticky === true, freedAt };
}

function identityKey(f: FreedPort): string {
  return JSON.stringify([f.serviceType, f.instanceId, f.project]);
}

/** At most `home_port_limit` homes and as many plain cooling ports: the newest are kept, in order. */
function boundMemory(memory: FreedPort[], settings: PortReuseSettings): FreedPort[] {
  let homes = memory.filter((f) => f.sticky).length - settings.home_port_limit;
  let plain = memory.filter((f) => !f.sticky).length - settings.home_port_limit;
  if (homes <= 0 && plain <= 0) return memory;
  // The list is oldest first (new records are appended), so dropping from the front drops the oldest.
  return memory.filter((f) => (f.sticky ? homes-- <= 0 : plain-- <= 0));
}
