import { findEnvNameProblem } from './names';

/**
 * The environment-variable contract: which variables an allocation is handed as, by name and
 * value. `allocate --env` (and `--format`) print them, `run` puts them in its command's
 * environment, the API and the MCP server can return them. How they are quoted for a shell is
 * not here (lib/cli/env-format.ts): this is the list of names and values, the same for every reader.
 */

/** What the contract reads of one allocation (an `allocate` result has all of it). */
export interface EnvAllocation {
  port: number;
  lockId: string;
  serviceType: string;
  instanceId: string;
  /** A running single instance was handed back. */
  existing: boolean;
  /** A sticky allocation (same type, instance id and project) was handed back. */
  reused: boolean;
  /** Something already listened on the port when it was allocated. */
  listening: boolean;
  /** Where the service is reached (core/url.ts). */
  url: string;
  /** A block's ports (`--block N`), the first being `port`. */
  ports?: readonly number[];
  /** The type's own names for its port and URL (`env` in its config): exported besides the standard ones. */
  envNames?: { port?: string; url?: string };
}

/** A pair to export: name, value. */
export type EnvVar = [string, string];

/**
 * The environment a command is started with, before its own allocation's variables go on top:
 * the caller's, without the variables that list *another* call's allocations, which the new ones
 * would not replace. A `run -s db` from a shell that evaluated a batch would otherwise hand its
 * command that batch's `STYXY_LOCK_IDS` (a `styxy release $STYXY_LOCK_IDS` there would free the
 * shell's ports) or another block's `STYXY_PORT_1`.
 */
export function inheritedEnv(parent: Readonly<Record<string, string | undefined>>): Record<string, string | undefined> {
  const env: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(parent)) if (!isCallList(name)) env[name] = value;
  return env;
}

function isCallList(name: string): boolean {
  return name === 'STYXY_LOCK_IDS' || name === 'STYXY_SERVICE_TYPES' || /^STYXY_PORT_\d+$/.test(name);
}

/** A type's name as a variable: upper-cased, `-` and `.` as `_` (`dev-web` → `DEV_WEB`). */
export function typeVarStem(serviceType: string): string {
  return serviceType.toUpperCase().replace(/[-.]/g, '_');
}

/**
 * One allocation's variables: `PORT` (or `envName`), `STYXY_PORT`, `STYXY_URL`, `STYXY_LOCK_ID`,
 * `STYXY_SERVICE_TYPE`, `STYXY_INSTANCE_ID`, `STYXY_EXISTING`, `STYXY_REUSED` (the caller's own
 * sticky allocation given back) and `STYXY_LISTENING` (something listened on the port already:
 * a start script's `[ "$STYXY_LISTENING" = 1 ] && exit 0`); a block's ports as `STYXY_PORT_0` to
 * `STYXY_PORT_<N-1>`. `envName` STYXY_PORT is not written twice.
 */
export function allocationEnv(a: EnvAllocation, envName = 'PORT'): EnvVar[] {
  const vars: EnvVar[] = [
    ['STYXY_PORT', String(a.port)],
    ...(a.ports ?? []).map((port, i): EnvVar => [`STYXY_PORT_${i}`, String(port)]),
    ['STYXY_URL', a.url],
    ['STYXY_LOCK_ID', a.lockId],
    ['STYXY_SERVICE_TYPE', a.serviceType],
    ['STYXY_INSTANCE_ID', a.instanceId],
    ['STYXY_EXISTING', flag(a.existing)],
    ['STYXY_REUSED', flag(a.reused)],
    ['STYXY_LISTENING', flag(a.listening)],
  ];
  return withOwnNames(envName === 'STYXY_PORT' ? vars : [[envName, String(a.port)], ...vars], [a]);
}

/** The variables, then each allocation's own names for its port and URL, where not set already. */
function withOwnNames(vars: EnvVar[], allocations: readonly EnvAllocation[]): EnvVar[] {
  for (const a of allocations) {
    const own: EnvVar[] = [];
    if (a.envNames?.port !== undefined) own.push([a.envNames.port, String(a.port)]);
    if (a.envNames?.url !== undefined) own.push([a.envNames.url, a.url]);
    for (const pair of own) if (!vars.some(([name]) => name === pair[0])) vars.push(pair);
  }
  return vars;
}

function flag(value: boolean | undefined): string {
  return value ? '1' : '0';
}

function perTypeVarNames(serviceType: string): string[] {
  const stem = typeVarStem(serviceType);
  return [
    `${stem}_PORT`,
    `${stem}_URL`,
    `STYXY_${stem}_LOCK_ID`,
    `STYXY_${stem}_INSTANCE_ID`,
    `STYXY_${stem}_EXISTING`,
    `STYXY_${stem}_REUSED`,
    `STYXY_${stem}_LISTENING`,
  ];
}

const BATCH_SHARED_VARS = [
  'STYXY_PORT',
  'STYXY_URL',
  'STYXY_LOCK_ID',
  'STYXY_SERVICE_TYPE',
  'STYXY_INSTANCE_ID',
  'STYXY_EXISTING',
  'STYXY_REUSED',
  'STYXY_LISTENING',
  'STYXY_LOCK_IDS',
  'STYXY_SERVICE_TYPES',
];

/** Why a batch's variables cannot be written: the variable, and what is wrong with it. */
export interface BatchVarProblem {
  variable: string;
  kind: 'invalid-name' | 'clash';
  message: string;
}

/**
 * Every variable a batch's environment would hold is a valid name and no two mean different
 * things (types `a-b` and `a.b` would both be `A_B_PORT`); null when so. `envName` may name the
 * first type's own port variable, which then carries the same value twice.
 */
export function findBatchVarProblem(serviceTypes: readonly string[], envName: string): BatchVarProblem | null {
  const owners = new Map<string, string>();
  const claim = (name: string, owner: string): BatchVarProblem | null => {
    const problem = findEnvNameProblem(name);
    if (problem) return { variable: name, kind: 'invalid-name', message: `--env cannot name a variable after ${owner}: ${problem}` };
    const other = owners.get(name);
    if (other !== undefined && other !== owner) {
      return {
        variable: name,
        kind: 'clash',
        message: `--env would set ${name} for both ${other} and ${owner}; allocate them in separate calls or read --json`,
      };
    }
    owners.set(name, owner);
    return null;
  };
  const first = serviceTypes[0] as string;
  for (const t of serviceTypes) {
    for (const name of perTypeVarNames(t)) {
      const problem = claim(name, `service type '${t}'`);
      if (problem) return problem;
    }
  }
  for (const name of BATCH_SHARED_VARS) {
    const problem = claim(name, 'the batch');
    if (problem) return problem;
  }
  if (envName !== `${typeVarStem(first)}_PORT` && envName !== 'STYXY_PORT') return claim(envName, '--env-name');
  return null;
}

/** A type's own names for its port and URL, as its config gives them (`service_types.<t>.env`). */
export interface OwnEnvNames {
  serviceType: string;
  port?: string;
  url?: string;
}

/**
 * The own variable (of a type in `types`, the first being the one `envName` carries) that
 * `--env-name` would take over, or null. Only the first type's own port name may be `envName`:
 * it carries the same port. Any other would have its value silently replaced.
 */
export function findEnvNameArgClash(envName: string, types: readonly OwnEnvNames[]): { variable: string; serviceType: string; key: 'port' | 'url' } | null {
  for (const [i, t] of types.entries()) {
    for (const key of ['port', 'url'] as const) {
      if (t[key] !== envName || (i === 0 && key === 'port')) continue;
      return { variable: envName, serviceType: t.serviceType, key };
    }
  }
  return null;
}

/**
 * A batch's variables, which every service of the batch gets (so each finds its siblings):
 * `<TYPE>_PORT`, `<TYPE>_URL` and `STYXY_<TYPE>_LOCK_ID` / `_INSTANCE_ID` / `_EXISTING` /
 * `_REUSED` / `_LISTENING` for
 * each type; `PORT` (or `envName`) and the usual `STYXY_*` for the first type, so a command
 * that reads PORT serves the first; `STYXY_LOCK_IDS` and `STYXY_SERVICE_TYPES` list them all;
 * last, each type's own names for its port and URL (`"env": { "url": "BACKEND_URL" }` in its config).
 */
export function batchEnv(results: readonly EnvAllocation[], envName = 'PORT'): EnvVar[] {
  const vars: EnvVar[] = [];
  for (const r of results) vars.push([`${typeVarStem(r.serviceType)}_PORT`, String(r.port)], [`${typeVarStem(r.serviceType)}_URL`, r.url]);
  const first = results[0] as EnvAllocation;
  for (const pair of allocationEnv(first, envName)) if (!vars.some(([name]) => name === pair[0])) vars.push(pair);
  for (const r of results) {
    const stem = typeVarStem(r.serviceType);
    vars.push(
      [`STYXY_${stem}_LOCK_ID`, r.lockId],
      [`STYXY_${stem}_INSTANCE_ID`, r.instanceId],
      [`STYXY_${stem}_EXISTING`, flag(r.existing)],
      [`STYXY_${stem}_REUSED`, flag(r.reused)],
      [`STYXY_${stem}_LISTENING`, flag(r.listening)],
    );
  }
  vars.push(['STYXY_LOCK_IDS', results.map((r) => r.lockId).join(' ')], ['STYXY_SERVICE_TYPES', results.map((r) => r.serviceType).join(' ')]);
  return withOwnNames(vars, results);
}

/** The variables of one call's allocations: one allocation's, or a batch's when there are several. */
export function envFor(results: readonly EnvAllocation[], envName = 'PORT'): EnvVar[] {
  return results.length > 1 ? batchEnv(results, envName) : results.flatMap((a) => allocationEnv(a, envName));
}
