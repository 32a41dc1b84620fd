import { shellWord } from './shell-word';
import type { Allocation, FreedPort, PortReuseSettings } from './types';
import { isoTime } from './time';

/**
 * Who holds a port, decided from facts the caller gathered (the live allocation on it, the
 * sockets listening on it, the processes behind them, the freed-port memory): the answer of
 * `styxy why`, its exit status and the one line it prints. Pure, so each kind of holder is a row
 * in a table test.
 */

/** A process as far as this caller may see it: a field it could not read is absent. */
export interface SeenProcess {
  pid: number;
  uid?: number;
  user?: string;
  /** The whole command line (argv joined by spaces). */
  command?: string;
  argv?: string[];
  /** Its working directory, where /proc lets this caller read it. */
  cwd?: string;
  startTime?: string | null;
  /** When it started (ISO time), where it can be told. */
  startedAt?: string;
  /** The PID namespace it runs in (the inode of /proc/PID/ns/pid), where readable. */
  pidNs?: string;
  /** PID 1 of its PID namespace (init, a container's first process): `stop` refuses it. */
  namespaceInit?: true;
}

/** A socket listening on the port, and the process holding it when it could be found. */
export interface SeenListener {
  address: string;
  /** The socket's owner, from /proc/net/tcp: known even when its process is not visible. */
  uid?: number;
  /** That uid's name, from /etc/passwd. */
  user?: string;
  process?: SeenProcess;
}

export interface HolderFacts {
  port: number;
  now: number;
  /** The live allocation on the port, if any. */
  allocation: Allocation | null;
  /** The allocation owner's process, read now (full command line), when it is a live process. */
  ownerProcess?: SeenProcess;
  /** The parents of the process serving the port, nearest first: is it the owner's? */
  serverAncestors?: readonly { pid: number; startTime: string | null }[];
  listeners: readonly SeenListener[];
  /** The OS refuses to bind the port (a bind probe), whatever the listeners say. */
  bindRefused: boolean;
  /** The caller's uid and PID namespace: a process of another uid is another user's. */
  callerUid?: number;
  callerPidNs?: string;
  /** The owner's PID as this caller numbers it, when it was recorded in another PID namespace that the caller sees (the host). */
  ownerHostPid?: number;
  /** What the freed-port memory says about the port. */
  recentlyFreed?: readonly FreedPort[];
  reuse?: PortReuseSettings;
  /** The address a person would open, for the line (origins' urlFor, once it lands). */
  url?: string;
}

/**
 * The stable kinds, each with its own exit status (`styxy why` exits with it; `--json` keeps
 * `success: true`, as each is an answer, not a failure):
 * - `free` (0): nothing holds the port;
 * - `allocation` (40): a Styxy allocation holds it (listening, or reserved for its server);
 * - `process` (41): a process outside Styxy that this user may act on;
 * - `container` (42): a container engine's port proxy (docker-proxy, rootlessport);
 * - `other-user` (43): a process of another user;
 * - `unknown` (44): something listens that this caller cannot see (another PID namespace, hidden /proc).
 */
export type HolderKind = 'free' | 'allocation' | 'process' | 'container' | 'other-user' | 'unknown';

export const WHY_EXIT_STATUS: Readonly<Record<HolderKind, number>> = {
  free: 0,
  allocation: 40,
  process: 41,
  container: 42,
  'other-user': 43,
  unknown: 44,
};

export interface ContainerProxy {
  /** Which proxy: `docker-proxy`, `rootlessport`. */
  proxy: string;
  containerIp?: string;
  containerPort?: number;
}

export interface Holder {
  kind: HolderKind;
  /** The one line: what holds the port and what to do. */
  summary: string;
  /** Commands that act on the answer, most useful first. */
  suggestions: string[];
  listening: boolean;
  /** For an allocation: is it waiting for its server (nothing listens yet)? */
  reserved?: boolean;
  allocation?: Allocation;
  /** The allocation's owner process, read now. */
  owner?: SeenProcess;
  /** The process serving the port (for a `run`, the server, not `run`). */
  server?: SeenProcess;
  /** The uid of the socket (another user's, or one whose process is not visible), and its name. */
  uid?: number;
  user?: string;
  container?: ContainerProxy;
  /** The holder runs in another PID namespace than the caller. */
  otherPidNamespace?: boolean;
  /** Free, but lately freed by another service: Styxy hands it out last until `until`. */
  coolingDown?: { until: string; freedAt: string; serviceType: string; instanceId: string; project: string };
  /** Free, but remembered as a sticky service's home port: that service gets it back first. */
  homeOf?: { serviceType: string; instanceId: string; project: string; freedAt: string };
  url?: string;
}

const CONTAINER_PROXIES = new Set(['docker-proxy', 'rootlessport', 'rootlesskit']);

/** The container proxy a command line is, or null: known by the program's own name, never by a guess. */
export function findContainerProxy(argv: readonly string[] | undefined): ContainerProxy | null {
  const program = (argv?.[0] ?? '').split('/').pop() ?? '';
  if (!CONTAINER_PROXIES.has(program)) return null;
  const value = (flag: string): string | undefined => {
    const i = argv!.findIndex((a) => a === flag || a === `-${flag}`);
    return i >= 0 ? argv![i + 1] : argv!.find((a) => a.startsWith(`${flag}=`) || a.startsWith(`-${flag}=`))?.split('=')[1];
  };
  const ip = value('-container-ip');
  const port = Number(value('-container-port'));
  return { proxy: program, ...(ip !== undefined && { containerIp: ip }), ...(Number.isInteger(port) && port > 0 && { containerPort: port }) };
}

/** Decides who holds the port and says it in one line, with what to do next. */
export function classifyHolder(facts: HolderFacts): Holder {
  const holder = classifyFirstHolder(facts);
  // Two programs can listen on one port at once, on 127.0.0.1 and on ::1 (where `localhost`
  // often goes): the one named above is not the whole answer, and `stop` ends only its tree.
  const others = holder.server ? describeOtherListeners(facts, holder.server.pid) : '';
  return others ? { ...holder, summary: `${holder.summary}${/[.!?]$/.test(holder.summary) ? ' ' : '. '}${others}` } : holder;
}

/** `Also listening on port P: PID Y (cmd) on ::1.`, for every listener but the process named (or ''). */
function describeOtherListeners(facts: HolderFacts, named: number): string {
  const seen = new Set<number>([named]);
  const others: string[] = [];
  for (const l of facts.listeners) {
    const proc = l.process;
    if (proc && seen.has(proc.pid)) continue;
    if (proc) seen.add(proc.pid);
    others.push(proc ? `PID ${proc.pid}${proc.command ? ` (${proc.command})` : ''} on ${l.address}` : `a process this caller cannot see on ${l.address}`);
  }
  return others.length > 0 ? `Also listening on port ${facts.port}: ${others.join(', ')}.` : '';
}

function classifyFirstHolder(facts: HolderFacts): Holder {
  const listener = facts.listeners.find((l) => l.process) ?? facts.listeners[0];
  const listening = facts.listeners.length > 0 || facts.bindRefused;
  const url = facts.url ?? `http://localhost:${facts.port}`;
  if (facts.allocation) return describeAllocated(facts, facts.allocation, listener?.process, listening, url);
  if (!listening) return describeFree(facts, url);
  const proc = listener?.process;
  const uid = proc?.uid ?? listener?.uid;
  const container = findContainerProxy(proc?.argv);
  if (proc && container) return describeContainer(facts.port, proc, container, uid);
  if (uid !== undefined && facts.callerUid !== undefined && uid !== facts.callerUid) return describeOtherUser(facts.port, uid, listener, proc);
  if (!proc) return describeUnseen(facts.port, uid);
  return describeOutsider(facts, proc, uid);
}

/** The process runs in another PID namespace than the caller (both known and different). */
function inOtherNamespace(proc: SeenProcess | undefined, callerPidNs: string | undefined): boolean {
  return proc?.pidNs !== undefined && callerPidNs !== undefined && proc.pidNs !== callerPidNs;
}

/** A Styxy allocation holds the port: whose, served by what, and how `styxy stop` would end it. */
function describeAllocated(facts: HolderFacts, a: Allocation, server: SeenProcess | undefined, listening: boolean, url: string): Holder {
  const p = facts.port;
  const theirs = a.user !== undefined && facts.callerUid !== undefined && facts.callerUid !== 0 && a.user.uid !== facts.callerUid ? a.user : undefined;
  const what = describeAllocation(a) + (theirs ? ` of user ${theirs.name}` : '');
  // An owner recorded in another PID namespace has another number here (or none): `stop` does not vouch for it from here.
  const foreign = ownerInOtherNamespace(a, facts.callerPidNs);
  const ownerPidHere = foreign ? facts.ownerHostPid : a.owner.kind === 'process' ? a.owner.pid : undefined;
  const ownerServes = server !== undefined && ownerPidHere !== undefined && ownerPidHere === server.pid;
  const by = server && !ownerServes ? `, served by PID ${server.pid}${server.command ? ` (${server.command})` : ''}` : '';
  const ownerText = (ownerServes ? 'served by its ' : '') + describeOwnerBrief(a, facts);
  const state = listening ? `listening at ${url}` : 'reserved, nothing listens yet';
  const init = isInit(server);
  const base = {
    kind: 'allocation' as const,
    listening,
    reserved: !listening,
    allocation: a,
    ...(facts.ownerProcess && { owner: facts.ownerProcess }),
    ...(server && { server }),
    ...(inOtherNamespace(server, facts.callerPidNs) && { otherPidNamespace: true as const }),
    url,
  };
  const head = `Port ${p} is Styxy's: ${what}${by}; ${ownerText}, since ${a.allocatedAt}; ${state}.`;
  // A port `styxy compose` allocated is served by the container's proxy: compose stops it (a
  // `stop --force` would end Docker's docker-proxy and leave the container running).
  const compose = a.compose !== undefined ? `cd ${shellWord(a.project)} && styxy compose -- down` : undefined;
  if (init) return { ...base, summary: `${head} ${INIT_ADVICE}`, suggestions: [...(compose ? [compose] : []), `styxy release ${a.lockId}`] };
  // What `styxy stop` would do, in the order it decides: whose the allocation is, whether its
  // server can be seen from here, whether Styxy can vouch for that server.
  if (theirs)
    return {
      ...base,
      summary: `${head} It is ${theirs.name}'s: only that user (or root) may stop or release it; take another port: styxy allocate -s TYPE`,
      suggestions: ['styxy allocate -s TYPE'],
    };
  if (compose) return { ...base, summary: `${head} Stop it: ${compose}`, suggestions: [compose, `styxy release ${a.lockId}`] };
  const hidden = listening && !server && facts.listeners.length > 0 && !(facts.ownerProcess && a.owner.kind === 'process' && a.owner.via === 'run');
  if (hidden)
    return {
      ...base,
      summary: `${head} Its server cannot be seen from here (in another PID namespace, or hidden by /proc): stop it where it runs (its container, or the host)`,
      suggestions: [`styxy release ${a.lockId}`],
    };
  const otherUid = [facts.ownerProcess?.uid, server?.uid].some((u) => u !== undefined && facts.callerUid !== undefined && u !== facts.callerUid);
  const vouched =
    !otherUid &&
    (!server ||
      (!foreign && (ownerServes || (a.owner.kind === 'process' && a.owner.via === 'run') || isOwnersServer(a, facts.ownerProcess, facts.serverAncestors))));
  const stop = vouched ? `styxy stop ${p}` : `styxy stop ${p} --force`;
  const why = vouched
    ? ''
    : otherUid
      ? ` (its process is another user's)`
      : foreign
        ? ` (its owner is in another PID namespace: Styxy cannot vouch for its server from here)`
        : ` (its server is not the owner's: Styxy cannot vouch for it)`;
  return { ...base, summary: `${head} Stop it: ${stop}${why}`, suggestions: [stop, `${stop} --dry-run`, `styxy release ${a.lockId}`] };
}

/** The allocation's owner was recorded in another PID namespace than the caller's (both known). */
function ownerInOtherNamespace(a: Allocation, callerPidNs: string | undefined): boolean {
  return a.owner.kind === 'process' && a.owner.pidNs !== undefined && callerPidNs !== undefined && a.owner.pidNs !== callerPidNs;
}

function describeContainer(p: number, proc: SeenProcess, container: ContainerProxy, uid: number | undefined): Holder {
  const inside = container.containerIp ? ` for container ${container.containerIp}${container.containerPort ? `:${container.containerPort}` : ''}` : '';
  return {
    kind: 'container',
    summary: `Port ${p} is published by a container: ${container.proxy} PID ${proc.pid}${inside}. Stop the container (docker ps --filter publish=${p}), or take another port.`,
    suggestions: [`docker ps --filter publish=${p}`, 'styxy allocate -s TYPE'],
    listening: true,
    server: proc,
    container,
    ...(uid !== undefined && { uid }),
  };
}

function describeOtherUser(p: number, uid: number, listener: SeenListener | undefined, proc: SeenProcess | undefined): Holder {
  const name = proc?.user ?? listener?.user;
  const who = name ? `${name}, uid ${uid}` : `uid ${uid}`;
  const seen = proc ? `: PID ${proc.pid}${proc.command ? ` (${proc.command})` : ''}` : '';
  return {
    kind: 'other-user',
    summary: `Port ${p} is held by another user's process (${who}${seen}), outside Styxy. Ask them, or take another port: styxy allocate -s TYPE`,
    suggestions: ['styxy allocate -s TYPE', ...(proc && !isInit(proc) ? [`styxy stop ${p} --force --dry-run`] : [])],
    listening: true,
    uid,
    ...(name && { user: name }),
    ...(proc && { server: proc }),
  };
}

/** Something listens whose process this caller cannot see. */
function describeUnseen(p: number, uid: number | undefined): Holder {
  return {
    kind: 'unknown',
    summary: `Port ${p} is held outside Styxy by a process this caller cannot see${uid !== undefined ? ` (socket of uid ${uid})` : ''}: in another PID namespace (a container), or hidden by /proc. Look from the host, or take another port: styxy allocate -s TYPE`,
    suggestions: ['styxy allocate -s TYPE'],
    listening: true,
    ...(uid !== undefined && { uid }),
  };
}

/** A process of this user outside Styxy: `styxy stop --force` ends its tree, unless it is an init. */
function describeOutsider(facts: HolderFacts, proc: SeenProcess, uid: number | undefined): Holder {
  const p = facts.port;
  const otherNs = inOtherNamespace(proc, facts.callerPidNs);
  const nsNote = otherNs ? ' in another PID namespace' : '';
  const who = `PID ${proc.pid}${nsNote} (${proc.command ?? '?'})${proc.user ? ` of ${proc.user}` : ''}`;
  const [summary, suggestions] = isInit(proc)
    ? [`Port ${p} is held outside Styxy by ${who}. ${INIT_ADVICE}`, ['styxy allocate -s TYPE']]
    : [
        `Port ${p} is held outside Styxy by ${who}${proc.cwd ? ` in ${proc.cwd}` : ''}${proc.startedAt ? `, since ${proc.startedAt}` : ''}. End that process tree: styxy stop ${p} --force; or take another port`,
        [`styxy stop ${p} --force --dry-run`, `styxy stop ${p} --force`, 'styxy allocate -s TYPE'],
      ];
  return {
    kind: 'process',
    summary,
    suggestions,
    listening: true,
    server: proc,
    ...(uid !== undefined && { uid }),
    ...(otherNs && { otherPidNamespace: true }),
  };
}

/** A namespace's init (or init itself): `styxy stop` refuses its tree, --force or not (STOP_REFUSED). */
function isInit(proc: SeenProcess | undefined): boolean {
  return proc !== undefined && (proc.pid === 1 || proc.namespaceInit === true);
}

const INIT_ADVICE =
  'It is PID 1 of its PID namespace (init, or a container or sandbox): ending it ends every process there, so styxy stop refuses it. Stop it its own way (systemctl stop, docker stop), or take another port: styxy allocate -s TYPE';

/** The server descends from the allocation's live owner (the same rule `styxy stop` goes by). */
function isOwnersServer(a: Allocation, owner: SeenProcess | undefined, ancestors: HolderFacts['serverAncestors']): boolean {
  if (a.owner.kind !== 'process' || !owner) return false;
  return (ancestors ?? []).some((p) => p.pid === owner.pid && p.startTime === owner.startTime);
}

function describeFree(facts: HolderFacts, url: string): Holder {
  const p = facts.port;
  const free: Holder = { kind: 'free', summary: `Port ${p} is free.`, suggestions: [], listening: false, url };
  const freed = facts.recentlyFreed?.filter((f) => f.port === p).pop();
  if (!freed || !facts.reuse) return free;
  const at = Date.parse(freed.freedAt);
  const who = { serviceType: freed.serviceType, instanceId: freed.instanceId, project: freed.project };
  const notes: string[] = [];
  const coolUntil = at + facts.reuse.cooldown_seconds * 1000;
  if (!Number.isNaN(at) && facts.now < coolUntil) {
    const until = isoTime(coolUntil);
    free.coolingDown = { until, freedAt: freed.freedAt, ...who };
    notes.push(`freed at ${freed.freedAt} by ${freed.serviceType}/${freed.instanceId}, cooling down until ${until} (Styxy hands it to another service last)`);
  }
  if (freed.sticky && !Number.isNaN(at) && facts.now < at + facts.reuse.home_port_days * 86_400_000) {
    free.homeOf = { ...who, freedAt: freed.freedAt };
    notes.push(`home port of ${freed.serviceType}/${freed.instanceId} in ${freed.project} (it gets it back first)`);
  }
  if (notes.length > 0) free.summary = `Port ${p} is free: ${notes.join('; ')}.`;
  return free;
}

/** `dev/web (label 'agent-2', session s-1) in /work/app`. */
export function describeAllocation(a: Allocation): string {
  const extras = [
    a.label !== undefined && `label '${a.label}'`,
    a.session !== undefined && `session ${a.session}`,
    a.compose !== undefined && `compose project ${a.compose.project}, service ${a.compose.service}`,
  ].filter(Boolean);
  return `${a.serviceType}/${a.instanceId}${extras.length > 0 ? ` (${extras.join(', ')})` : ''} in ${a.project}`;
}

function describeOwnerBrief(a: Allocation, facts: HolderFacts): string {
  const owner = a.owner;
  if (owner.kind === 'persistent') return 'persistent';
  if (owner.kind === 'lease') return `lease until ${owner.expiresAt}`;
  const command = facts.ownerProcess?.command ?? owner.command;
  const role = owner.via === 'run' ? 'styxy run' : 'owner';
  // Its PID there is another process here (PID 2 on the host is a kernel thread): say whose number it is.
  const ns = ownerInOtherNamespace(a, facts.callerPidNs)
    ? ` in PID namespace ${owner.pidNs}${facts.ownerHostPid !== undefined ? ` (host PID ${facts.ownerHostPid})` : ''}`
    : '';
  const base = `${role} PID ${owner.pid}${ns}${command ? ` (${command})` : ''}`;
  return owner.reservedUntil ? `${base} ended, reserved until ${owner.reservedUntil}` : base;
}
