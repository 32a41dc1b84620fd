import { LABEL_PATTERN, LOCK_ID_PATTERN, NAME_PATTERN, RESERVED_NAMES, SESSION_PATTERN } from '../core/names';
import { SETTLED_FILE_PATTERN } from '../core/settled';

/**
 * True when `data` surely matches schemas/state.schema.json; false when it may not, and the
 * caller then asks ajv, which decides and says why.
 *
 * Every call reads the whole state, and ajv's generated code for it is general: with 10 000
 * allocations it takes ~40 ms cold, allocating an error path per item and an error per name
 * (for the `not` on reserved names). This loop makes the same checks in ~7 ms. It may answer
 * false where ajv would accept (a project path over 4 096 UTF-16 units, which ajv counts in code
 * points); it must never answer true where ajv refuses, and a property test over generated and
 * mutated states holds it to that (test/unit/store/state-quick-check.test.ts).
 */
export function isSurelyValidState(data: unknown): boolean {
  if (!isPlainObject(data)) return false;
  for (const key in data) if (key !== 'version' && key !== 'allocations' && key !== 'recentlyFreed' && key !== 'settled') return false;
  const allocations = (data as { allocations?: unknown }).allocations;
  const version = (data as { version?: unknown }).version;
  if ((version !== 1 && version !== 2 && version !== 3) || !Array.isArray(allocations)) return false;
  const freed = (data as { recentlyFreed?: unknown }).recentlyFreed;
  if (freed !== undefined && !areSurelyValidFreedPorts(freed)) return false;
  const settled = (data as { settled?: unknown }).settled;
  if (settled !== undefined && !isSurelyValidSettledRef(settled)) return false;
  // Many allocations share a type: each name is matched once.
  const types = new Set<string>();
  for (let i = 0; i < allocations.length; i++) {
    const a = allocations[i] as Record<string, unknown>;
    if (!isPlainObject(a)) return false;
    // Seven keys (one more each with `sticky`, `block`, `label`, `session`, `user`, `compose`), each present with its type: none missing, none extra.
    const keys = countKeys(a);
    const { lockId, serviceType, instanceId, port, project, owner, allocatedAt, sticky, block, label, session, user, compose } = a;
    const optional =
      (sticky === undefined ? 0 : 1) +
      (block === undefined ? 0 : 1) +
      (label === undefined ? 0 : 1) +
      (session === undefined ? 0 : 1) +
      (user === undefined ? 0 : 1) +
      (compose === undefined ? 0 : 1);
    if (keys !== 7 + optional || (sticky !== undefined && sticky !== true)) return false;
    if (block !== undefined && !(Number.isInteger(block) && (block as number) >= 2 && (block as number) <= 100)) return false;
    if (label !== undefined && (typeof label !== 'string' || !LABEL_PATTERN.test(label))) return false;
    if (session !== undefined && (typeof session !== 'string' || !SESSION_PATTERN.test(session))) return false;
    if (user !== undefined && !isSurelyValidUser(user)) return false;
    if (compose !== undefined && !isSurelyValidComposeOrigin(compose)) return false;
    if (typeof lockId !== 'string' || typeof serviceType !== 'string' || typeof instanceId !== 'string') return false;
    if (typeof project !== 'string' || project.length > 4096 || typeof allocatedAt !== 'string') return false;
    if (!Number.isInteger(port) || (port as number) < 1 || (port as number) > 65535) return false;
    if (!LOCK_ID_PATTERN.test(lockId) || !NAME_PATTERN.test(instanceId) || RESERVED_NAMES.has(instanceId)) return false;
    if (!types.has(serviceType)) {
      if (!NAME_PATTERN.test(serviceType) || RESERVED_NAMES.has(serviceType)) return false;
      types.add(serviceType);
    }
    if (!isSurelyValidOwner(owner)) return false;
  }
  return true;
}

/** `settled`: five keys, each present with its type (schemas/state.schema.json, `settledRef`). */
function isSurelyValidSettledRef(ref: unknown): boolean {
  if (!isPlainObject(ref) || countKeys(ref) !== 5) return false;
  const { file, count, ports, types, check } = ref as Record<string, unknown>;
  if (typeof file !== 'string' || !SETTLED_FILE_PATTERN.test(file) || !Number.isInteger(count) || (count as number) < 0) return false;
  if (typeof check !== 'string' || !/^[0-9a-f]{8}$/.test(check)) return false;
  if (!Array.isArray(ports) || !Array.isArray(types)) return false;
  for (const run of ports) {
    if (!Array.isArray(run) || run.length !== 2) return false;
    for (const port of run) if (!Number.isInteger(port) || port < 1 || port > 65535) return false;
  }
  for (const type of types) if (typeof type !== 'string' || !NAME_PATTERN.test(type) || RESERVED_NAMES.has(type)) return false;
  return true;
}

/** `recentlyFreed`: an array of six-key records, each key present with its type. */
function areSurelyValidFreedPorts(freed: unknown): boolean {
  if (!Array.isArray(freed)) return false;
  for (let i = 0; i < freed.length; i++) {
    const f = freed[i] as Record<string, unknown>;
    if (!isPlainObject(f) || countKeys(f) !== 6) return false;
    const { port, serviceType, instanceId, project, sticky, freedAt } = f;
    if (!Number.isInteger(port) || (port as number) < 1 || (port as number) > 65535) return false;
    if (typeof serviceType !== 'string' || typeof instanceId !== 'string' || typeof project !== 'string' || project.length > 4096) return false;
    if (typeof sticky !== 'boolean' || typeof freedAt !== 'string') return false;
    if (!NAME_PATTERN.test(serviceType) || !NAME_PATTERN.test(instanceId) || RESERVED_NAMES.has(serviceType) || RESERVED_NAMES.has(instanceId)) return false;
  }
  return true;
}

function isSurelyValidOwner(owner: unknown): boolean {
  if (!isPlainObject(owner)) return false;
  const keys = countKeys(owner);
  const o = owner as Record<string, unknown>;
  switch (o.kind) {
    case 'persistent':
      return keys === 1;
    case 'lease':
      return keys === 2 && typeof o.expiresAt === 'string';
    case 'process': {
      const { pid, startTime, command, detected, bootId, adoptedAt, reservedUntil, via, pidNs } = o;
      if (!Number.isInteger(pid) || (pid as number) < 1) return false;
      if (startTime !== null && typeof startTime !== 'string') return false;
      // Three keys always; each optional one present is counted and checked.
      let expected = 3;
      if (command !== undefined) {
        if (typeof command !== 'string' || command.length > 1000) return false;
        expected++;
      }
      if (detected !== undefined) {
        if (detected !== true) return false;
        expected++;
      }
      if (bootId !== undefined) {
        if (typeof bootId !== 'string' || bootId.length > 100) return false;
        expected++;
      }
      if (via !== undefined) {
        if (via !== 'run') return false;
        expected++;
      }
      if (pidNs !== undefined) {
        if (typeof pidNs !== 'string' || !/^[0-9]{1,20}$/.test(pidNs)) return false;
        expected++;
      }
      for (const text of [adoptedAt, reservedUntil]) {
        if (text === undefined) continue;
        if (typeof text !== 'string') return false;
        expected++;
      }
      return keys === expected;
    }
    default:
      return false;
  }
}

/** `user`: a uid, and maybe a name (schemas/state.schema.json, `AllocationUser`). */
function isSurelyValidUser(user: unknown): boolean {
  if (!isPlainObject(user)) return false;
  const { uid, name } = user as Record<string, unknown>;
  if (!Number.isInteger(uid) || (uid as number) < 0 || (uid as number) > 4294967295) return false;
  if (name !== undefined && (typeof name !== 'string' || name.length === 0 || name.length > 256)) return false;
  return countKeys(user) === (name === undefined ? 1 : 2);
}

export const COMPOSE_PROJECT_PATTERN = /^[a-z0-9][a-z0-9_-]*$/;
export const COMPOSE_SERVICE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** `compose`: a Compose project and service (schemas/state.schema.json, `ComposeOrigin`). */
function isSurelyValidComposeOrigin(origin: unknown): boolean {
  if (!isPlainObject(origin) || countKeys(origin) !== 2) return false;
  const { project, service } = origin as Record<string, unknown>;
  if (typeof project !== 'string' || project.length > 4096 || !COMPOSE_PROJECT_PATTERN.test(project)) return false;
  return typeof service === 'string' && service.length <= 4096 && COMPOSE_SERVICE_PATTERN.test(service);
}

/** Keys as ajv's additionalProperties sees them (for…in), without building an array of them. */
function countKeys(value: object): number {
  let keys = 0;
  for (const _ in value) keys++;
  return keys;
}

function isPlainObject(value: unknown): value is object {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
