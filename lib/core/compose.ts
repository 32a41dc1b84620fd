/**
 * Docker Compose files, as far as ports go: which host ports each service publishes, after the
 * file's `${VAR:-default}` interpolation and its profiles, and the override file that moves them
 * to the ports Styxy allocated. Pure: the parsed file and the environment are handed in.
 */

import type { Allocation, ComposeOrigin, State } from './types';

/** One published port of a service: a fixed host port (that Styxy replaces) for a container port. */
export interface ComposeMapping {
  /** The container port. */
  target: number;
  /** The host port the file asks for. */
  published: number;
  hostIp?: string;
  protocol: string;
}

/** A service's `ports:` list: each entry as it was (interpolated), and the fixed mappings in it. */
export interface ComposeServicePorts {
  service: string;
  /** Every entry, parsed: a fixed mapping is rewritten in the override, the others are kept. */
  entries: ComposePortEntry[];
}

export type ComposePortEntry =
  /** Host port(s) fixed by the file: one mapping per port of a range. */
  | { kind: 'fixed'; mappings: ComposeMapping[]; long?: Record<string, unknown> }
  /** A container port alone (`"8080"`), or an empty host port: Docker picks an ephemeral host port. */
  | { kind: 'kept'; value: unknown };

export interface ComposeProblem {
  /** Where in the file: `services.web.ports[0]`. */
  at: string;
  message: string;
}

export interface ComposePlan {
  services: ComposeServicePorts[];
  /** Services left out because none of their profiles is enabled. */
  inactive: string[];
  problems: ComposeProblem[];
}

type Lookup = (name: string) => string | undefined;

/**
 * Compose's interpolation of one value: `$$` is a `$`; `$VAR` and `${VAR}`; `${VAR:-default}`
 * (unset or empty), `${VAR-default}` (unset), `${VAR:?error}` / `${VAR?error}`, `${VAR:+alt}` /
 * `${VAR+alt}`; a default may itself hold `${…}`. Returns the text, or the error to report.
 */
export function interpolate(text: string, env: Lookup): { value: string } | { error: string } {
  let out = '';
  for (let i = 0; i < text.length;) {
    const c = text[i] as string;
    if (c !== '$') {
      out += c;
      i++;
      continue;
    }
    const next = text[i + 1];
    if (next === '$') {
      out += '$';
      i += 2;
      continue;
    }
    if (next === '{') {
      const close = matchingBrace(text, i + 1);
      if (close === -1) return { error: `unclosed \${ in ${JSON.stringify(text)}` };
      const inner = text.slice(i + 2, close);
      const expanded = expandBraced(inner, env);
      if ('error' in expanded) return expanded;
      out += expanded.value;
      i = close + 1;
      continue;
    }
    const name = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i + 1))?.[0];
    if (name) {
      out += env(name) ?? '';
      i += 1 + name.length;
      continue;
    }
    out += '$';
    i++;
  }
  return { value: out };
}

function matchingBrace(text: string, open: number): number {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    if (text[i] === '{') depth++;
    else if (text[i] === '}' && --depth === 0) return i;
  }
  return -1;
}

function expandBraced(inner: string, env: Lookup): { value: string } | { error: string } {
  const match = /^([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?+])([\s\S]*))?$/.exec(inner);
  if (!match) return { error: `invalid interpolation \${${inner}}` };
  const [, name, op, rest = ''] = match as unknown as [string, string, string | undefined, string | undefined];
  const value = env(name);
  const unsetOrEmpty = value === undefined || value === '';
  const missing = op?.startsWith(':') ? unsetOrEmpty : value === undefined;
  switch (op?.slice(-1)) {
    case undefined:
      return { value: value ?? '' };
    case '-':
      return missing ? interpolate(rest, env) : { value: value as string };
    case '?': {
      if (!missing) return { value: value as string };
      const message = interpolate(rest, env);
      return { error: `required variable ${name} is missing a value${'value' in message && message.value ? `: ${message.value}` : ''}` };
    }
    default:
      return missing ? { value: '' } : interpolate(rest, env);
  }
}

/** The profiles a compose command enables: `--profile X` in its arguments and COMPOSE_PROFILES. */
export function findEnabledProfiles(args: readonly string[], composeProfiles: string | undefined): Set<string> {
  const enabled = new Set(
    (composeProfiles ?? '')
      .split(',')
      .map((p) => p.trim())
      .filter(Boolean),
  );
  args.forEach((arg, i) => {
    if (arg === '--profile' && args[i + 1] !== undefined) enabled.add(args[i + 1] as string);
    else if (arg.startsWith('--profile=')) enabled.add(arg.slice('--profile='.length));
  });
  return enabled;
}

const PORT_PART = /^(\d{1,5})(?:-(\d{1,5}))?$/;

function portRange(text: string): [number, number] | null {
  const m = PORT_PART.exec(text);
  if (!m) return null;
  const low = Number(m[1]);
  const high = m[2] === undefined ? low : Number(m[2]);
  if (low < 1 || high > 65535 || high < low) return null;
  return [low, high];
}

/** The most ports one range of a `ports:` entry may map. */
export const COMPOSE_MAX_RANGE = 100;
/** The most fixed host ports one compose file may map (each is a persistent allocation). */
export const COMPOSE_MAX_MAPPINGS = 1000;

/**
 * One `ports:` entry in short syntax: `[HOST_IP:][HOST[-HOST]:]CONTAINER[-CONTAINER][/PROTOCOL]`,
 * the host IP possibly in brackets (`[::1]:8080:80`). A host range maps port for port onto a
 * container range of the same size.
 */
export function parseShortPort(entry: string): ComposePortEntry | { error: string } {
  let rest = entry.trim();
  let protocol = 'tcp';
  const slash = rest.lastIndexOf('/');
  if (slash !== -1) {
    protocol = rest.slice(slash + 1);
    rest = rest.slice(0, slash);
    if (!/^[a-z]+$/.test(protocol)) return { error: `${JSON.stringify(entry)}: unknown protocol` };
  }
  let hostIp: string | undefined;
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']');
    if (close === -1 || rest[close + 1] !== ':') return { error: `${JSON.stringify(entry)}: not a port mapping` };
    hostIp = rest.slice(1, close);
    rest = rest.slice(close + 2);
  }
  const parts = rest.split(':');
  if (hostIp === undefined && parts.length === 3) hostIp = parts.shift() as string;
  if (parts.length > 2 || (hostIp !== undefined && parts.length !== 2)) return { error: `${JSON.stringify(entry)}: not a port mapping` };
  const target = portRange(parts[parts.length - 1] as string);
  if (!target) return { error: `${JSON.stringify(entry)}: the container port is not a port or a range` };
  const hostText = parts.length === 2 ? (parts[0] as string) : '';
  if (hostText === '') return { kind: 'kept', value: entry };
  const host = portRange(hostText);
  if (!host) return { error: `${JSON.stringify(entry)}: the host port is not a port or a range` };
  return fixedEntry(entry, host, target, protocol, hostIp);
}

function fixedEntry(
  entry: string,
  host: [number, number],
  target: [number, number],
  protocol: string,
  hostIp: string | undefined,
): ComposePortEntry | { error: string } {
  const size = target[1] - target[0] + 1;
  // Each port of a range is an allocation of its own that persists: a file (cloned with a repo) must not ask for thousands.
  if (size > COMPOSE_MAX_RANGE)
    return { error: `${JSON.stringify(entry)}: a range of ${size} ports; styxy compose allocates at most ${COMPOSE_MAX_RANGE} per range` };
  // A host range for one container port lets Docker choose within it: one port is enough.
  if (size === 1) return { kind: 'fixed', mappings: [{ target: target[0], published: host[0], protocol, ...(hostIp && { hostIp }) }] };
  if (host[1] - host[0] + 1 !== size) return { error: `${JSON.stringify(entry)}: the host and container ranges differ in size` };
  const mappings: ComposeMapping[] = [];
  for (let i = 0; i < size; i++) mappings.push({ target: target[0] + i, published: host[0] + i, protocol, ...(hostIp && { hostIp }) });
  return { kind: 'fixed', mappings };
}

/** One entry in long syntax: `{target, published?, host_ip?, protocol?, …}`. */
function parseLongPort(entry: Record<string, unknown>): ComposePortEntry | { error: string } {
  const target: [number, number] | null =
    typeof entry.target === 'number' ? [entry.target, entry.target] : typeof entry.target === 'string' ? portRange(entry.target) : null;
  if (!target || target[0] < 1) return { error: 'target is not a port' };
  const published = entry.published;
  if (published === undefined || published === null || published === '') return { kind: 'kept', value: entry };
  const host = typeof published === 'number' ? ([published, published] as [number, number]) : typeof published === 'string' ? portRange(published) : null;
  if (!host || host[0] < 1) return { error: 'published is not a port or a range' };
  const protocol = typeof entry.protocol === 'string' ? entry.protocol : 'tcp';
  const hostIp = typeof entry.host_ip === 'string' ? entry.host_ip : undefined;
  const fixed = fixedEntry(JSON.stringify(entry), host, target, protocol, hostIp);
  return 'error' in fixed || fixed.kind !== 'fixed' ? fixed : { ...fixed, long: entry };
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Interpolates every string of a value, as Compose does for the whole file. */
function interpolateValue(value: unknown, env: Lookup, at: string, problems: ComposeProblem[]): unknown {
  if (typeof value === 'string') {
    const r = interpolate(value, env);
    if ('error' in r) {
      problems.push({ at, message: r.error });
      return value;
    }
    return r.value;
  }
  if (Array.isArray(value)) return value.map((v, i) => interpolateValue(v, env, `${at}[${i}]`, problems));
  if (isRecord(value)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, interpolateValue(v, env, `${at}.${k}`, problems)]));
  return value;
}

/** Compose's YAML tags on a service's `ports` in a later file: `!reset` drops the ports, `!override` replaces them. */
export type PortsTag = 'reset' | 'override';

/**
 * Several compose files as Compose merges them, as far as ports go: the services of all of them;
 * a service in several has its keys from the last that sets them, but its `ports` from all of
 * them (Compose adds an override's ports to the file's own), each entry once; unless that file
 * tags them (`portsTags[i]`, by service) `!override` (its own alone) or `!reset` (none).
 */
export function mergeComposeDocs(docs: readonly unknown[], portsTags: readonly Readonly<Record<string, PortsTag>>[] = []): unknown {
  if (docs.length === 1 && Object.keys(portsTags[0] ?? {}).length === 0) return docs[0];
  const services: Record<string, Record<string, unknown>> = {};
  for (const [i, doc] of docs.entries()) {
    if (!isRecord(doc) || !isRecord(doc.services)) continue;
    for (const [name, raw] of Object.entries(doc.services)) {
      if (!isRecord(raw)) continue;
      const before = services[name] ?? {};
      const merged: Record<string, unknown> = { ...before, ...raw };
      const tag = portsTags[i]?.[name];
      if (tag === 'reset') delete merged.ports;
      else if (tag !== 'override' && Array.isArray(before.ports) && Array.isArray(raw.ports)) {
        const seen = new Set(before.ports.map((e) => JSON.stringify(e)));
        merged.ports = [...before.ports, ...raw.ports.filter((e: unknown) => !seen.has(JSON.stringify(e)))];
      }
      services[name] = merged;
    }
  }
  return { services };
}

/**
 * The published ports of every active service of a parsed compose file: a service with
 * `profiles` is active only when one of them is enabled (`*` enables all), as Compose decides.
 */
export function planComposePorts(doc: unknown, env: Lookup, profiles: ReadonlySet<string>): ComposePlan {
  const problems: ComposeProblem[] = [];
  const services: ComposeServicePorts[] = [];
  const inactive: string[] = [];
  if (!isRecord(doc) || !isRecord(doc.services)) {
    return { services, inactive, problems: [{ at: 'services', message: 'the file has no services' }] };
  }
  let mappingCount = 0;
  let overLimit = false;
  for (const [name, raw] of Object.entries(doc.services)) {
    if (!isRecord(raw)) continue;
    const own = interpolateValue(raw.profiles ?? [], env, `services.${name}.profiles`, problems);
    if (Array.isArray(own) && own.length > 0 && !profiles.has('*') && !own.some((p) => typeof p === 'string' && profiles.has(p))) {
      inactive.push(name);
      continue;
    }
    if (raw.ports === undefined) continue;
    if (!Array.isArray(raw.ports)) {
      problems.push({ at: `services.${name}.ports`, message: 'ports is not a list' });
      continue;
    }
    const entries: ComposePortEntry[] = [];
    raw.ports.forEach((rawEntry: unknown, i) => {
      const at = `services.${name}.ports[${i}]`;
      const known = problems.length;
      const entry = interpolateValue(rawEntry, env, at, problems);
      // An entry whose interpolation failed is reported once, not parsed as well.
      if (problems.length > known) return;
      const parsed =
        typeof entry === 'number'
          ? ({ kind: 'kept', value: entry } as const)
          : typeof entry === 'string'
            ? parseShortPort(entry)
            : isRecord(entry)
              ? parseLongPort(entry)
              : { error: 'not a port entry' };
      if ('error' in parsed) problems.push({ at, message: parsed.error });
      else if (parsed.kind === 'fixed' && mappingCount + parsed.mappings.length > COMPOSE_MAX_MAPPINGS) {
        if (!overLimit)
          problems.push({
            at,
            message: `more than ${COMPOSE_MAX_MAPPINGS} fixed host ports in the file; styxy compose allocates at most ${COMPOSE_MAX_MAPPINGS}`,
          });
        overLimit = true;
      } else {
        if (parsed.kind === 'fixed') mappingCount += parsed.mappings.length;
        entries.push(parsed);
      }
    });
    if (entries.some((e) => e.kind === 'fixed')) services.push({ service: name, entries });
  }
  return { services, inactive, problems };
}

/** One host port to allocate: a fixed mapping of one service, named for its sticky allocation. */
export interface ComposePortRequest {
  service: string;
  target: number;
  protocol: string;
  published: number;
  /** The sticky instance id: the service's name, with the container port when it has several. */
  instanceId: string;
}

/** The host ports to allocate, one per fixed mapping, in file order. */
export function listComposeRequests(plan: ComposePlan): ComposePortRequest[] {
  const requests: ComposePortRequest[] = [];
  for (const s of plan.services) {
    const mappings = s.entries.flatMap((e) => (e.kind === 'fixed' ? e.mappings : []));
    for (const m of mappings) {
      requests.push({
        service: s.service,
        target: m.target,
        protocol: m.protocol,
        published: m.published,
        instanceId: mappingInstanceId(s.service, m, mappings.length),
      });
    }
  }
  return requests;
}

/** A mapping's sticky name: the service's, with the container port (and a protocol other than tcp) when it has several. */
function mappingInstanceId(service: string, m: ComposeMapping, count: number): string {
  return count === 1 ? service : `${service}-${m.target}${m.protocol === 'tcp' ? '' : `-${m.protocol}`}`;
}

/** The short-syntax text of one mapping on a given host port. */
function shortMapping(m: ComposeMapping, hostPort: number): string {
  const ip = m.hostIp === undefined ? '' : m.hostIp.includes(':') ? `[${m.hostIp}]:` : `${m.hostIp}:`;
  return `${ip}${hostPort}:${m.target}/${m.protocol}`;
}

/**
 * The override file: each service's whole `ports:` list replaced (`!override`, Compose ≥ 2.24.4;
 * without it Compose would add the new ports to the old ones), every fixed mapping on its
 * allocated port, every other entry as it was. JSON values are valid YAML, so no YAML writer is needed.
 */
export function buildComposeOverride(plan: ComposePlan, hostPorts: ReadonlyMap<string, number>, header: string): string {
  // With no service to change, `services:` alone would be null, which the compose spec's schema
  // (an object) refuses: an empty mapping then.
  const lines = [...header.split('\n').map((l) => `# ${l}`), plan.services.length === 0 ? 'services: {}' : 'services:'];
  for (const s of plan.services) {
    lines.push(`  ${JSON.stringify(s.service)}:`, '    ports: !override');
    const mappings = s.entries.flatMap((e) => (e.kind === 'fixed' ? e.mappings : []));
    for (const entry of s.entries) {
      if (entry.kind === 'kept') {
        lines.push(`      - ${JSON.stringify(entry.value)}`);
        continue;
      }
      for (const m of entry.mappings) {
        const id = mappingInstanceId(s.service, m, mappings.length);
        const port = hostPorts.get(id);
        if (port === undefined) throw new Error(`no port for ${id}`);
        if (entry.long && entry.mappings.length === 1) lines.push(`      - ${JSON.stringify({ ...entry.long, published: String(port) })}`);
        else lines.push(`      - ${JSON.stringify(shortMapping(m, port))}`);
      }
    }
  }
  return `${lines.join('\n')}\n`;
}

/**
 * The compose project name for one worktree: the directory's name, made a valid project name,
 * and a short hash of its path, so that two checkouts of one repository never share containers.
 */
export function planComposeProjectName(dirName: string, pathHash: string): string {
  const base =
    dirName
      .toLowerCase()
      .replace(/[^a-z0-9_-]+/g, '-')
      .replace(/^[^a-z0-9]+/, '')
      .slice(0, 40) || 'project';
  return `${base}-${pathHash.slice(0, 8)}`;
}

/** `KEY=VALUE` lines of a `.env` file as Compose reads them (comments, `export`, quotes). */
export function parseDotEnv(text: string): Map<string, string> {
  const vars = new Map<string, string>();
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*=\s*(.*)$/.exec(line);
    if (!m) continue;
    let value = m[2] as string;
    const quote = value[0];
    if ((quote === '"' || quote === "'") && value.endsWith(quote) && value.length >= 2) value = value.slice(1, -1);
    else value = value.replace(/\s+#.*$/, '');
    vars.set(m[1] as string, value);
  }
  return vars;
}

/**
 * The state with each allocation `styxy compose` made marked with its Compose project and
 * service (by lock id), so that `why` and `scan` can name them; null when every one is marked
 * so already (nothing to write). An allocation no longer there (released meanwhile) is skipped.
 */
export function planComposeOrigins(state: State, origins: ReadonlyMap<string, ComposeOrigin>): State | null {
  let changed = false;
  const allocations = state.allocations.map((a): Allocation => {
    const origin = origins.get(a.lockId);
    if (!origin || (a.compose?.project === origin.project && a.compose.service === origin.service)) return a;
    changed = true;
    return { ...a, compose: { project: origin.project, service: origin.service } };
  });
  return changed ? { ...state, allocations } : null;
}

/** Who publishes a port, as `why` and `scan` say it: from the allocation `styxy compose` made, or from the Docker engine. */
export interface ComposePublisher {
  project: string;
  service: string;
  /** The container's name (only when the engine was asked). */
  container?: string;
  /** `styxy`: the allocation records it; `docker`: the engine said so. */
  from: 'styxy' | 'docker';
}

/** Compose's labels on a container: the project and the service it runs. */
const COMPOSE_PROJECT_LABEL = 'com.docker.compose.project';
const COMPOSE_SERVICE_LABEL = 'com.docker.compose.service';

/** The `docker ps --format` that parseDockerPs reads: name, compose project, compose service, ports, by tabs. */
export const DOCKER_PS_FORMAT = `{{.Names}}\t{{.Label "${COMPOSE_PROJECT_LABEL}"}}\t{{.Label "${COMPOSE_SERVICE_LABEL}"}}\t{{.Ports}}`;

/**
 * The host ports each Compose container publishes, from `docker ps --format DOCKER_PS_FORMAT`:
 * `.Ports` reads like `0.0.0.0:8080->80/tcp, :::8080->80/tcp, 127.0.0.1:9090-9091->9090-9091/tcp`.
 * A container without Compose's labels is not a Compose service: left out.
 */
export function parseDockerPs(text: string): Map<number, ComposePublisher> {
  const byPort = new Map<number, ComposePublisher>();
  for (const line of text.split('\n')) {
    const [container, project, service, ports] = line.split('\t');
    if (!container || !project || !service || ports === undefined) continue;
    for (const m of ports.matchAll(/:(\d+)(?:-(\d+))?->/g)) {
      const first = Number(m[1]);
      const last = m[2] === undefined ? first : Number(m[2]);
      for (let port = first; port <= last && port - first < COMPOSE_MAX_RANGE; port++) byPort.set(port, { project, service, container, from: 'docker' });
    }
  }
  return byPort;
}
