/**
 * Pure checks for what users type: service types, instance ids, ports and durations.
 * Each returns a problem description, or null when the value is fine.
 */

export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

/** A lock id (`<type>-<instance>-<suffix>` as Styxy makes them), as the state schema allows it. */
export const LOCK_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,200}$/;

/**
 * Names an object already has through its prototype. As a type or instance name they would make
 * `config.service_types[name]` find something nobody configured; the schemas refuse them too.
 */
export const RESERVED_NAMES: ReadonlySet<string> = new Set([
  'constructor',
  'prototype',
  'hasOwnProperty',
  'isPrototypeOf',
  'propertyIsEnumerable',
  'toLocaleString',
  'toString',
  'valueOf',
]);

export function findNameProblem(value: unknown, what: string): string | null {
  if (typeof value !== 'string' || value.length === 0) return `${what} must not be empty`;
  if (value.length > 63) return `${what} is ${value.length} characters long; at most 63 are allowed`;
  if (!NAME_PATTERN.test(value)) {
    return `${what} ${JSON.stringify(value)} may only contain letters, digits, '.', '_' and '-', and must start with a letter or digit`;
  }
  if (RESERVED_NAMES.has(value)) return `${what} ${JSON.stringify(value)} is reserved (every JavaScript object already has it)`;
  return null;
}

export const ENV_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

/** Why a variable name cannot carry the port, or null: a portable shell name, not an object's own. */
export function findEnvNameProblem(value: string): string | null {
  if (!ENV_NAME_PATTERN.test(value)) return `${JSON.stringify(value)} is not a valid variable name (letters, digits and '_', not starting with a digit)`;
  if (value === '__proto__' || RESERVED_NAMES.has(value)) return `${JSON.stringify(value)} is reserved (every JavaScript object already has it)`;
  return null;
}

/** The endings a type's own variable may have: it carries a URL, a port, a host or an origin. */
export const OWN_ENV_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*_(URL|PORT|HOST|ORIGIN)$/;

/**
 * Prefixes of variables that a loader, a shell, git or a package tool reads as something to run,
 * load or fetch from (LD_*, BASH_*, GIT_*, PIP_INDEX_URL, DOCKER_HOST, ...). A project's
 * `.styxy.json` chooses its own names and Styxy their values, so even with a good ending these
 * stay refused: checking out a repository must not let it choose what `styxy run` executes.
 */
const DENIED_OWN_ENV_PREFIXES = [
  'LD_',
  'DYLD_',
  'BASH_',
  'ZSH_',
  'GIT_',
  'SSH_',
  'GCONV_',
  'MALLOC_',
  'NODE_',
  'NPM_',
  'YARN_',
  'PNPM_',
  'COREPACK_',
  'PIP_',
  'UV_',
  'PYTHON',
  'PERL',
  'RUBY',
  'GEM_',
  'BUNDLE_',
  'JAVA_',
  'JDK_',
  'CARGO_',
  'RUSTUP_',
  'DOCKER_',
  'CONTAINER_',
  'KUBERNETES_',
  'COMPOSE_',
  'ELECTRON_',
];

/**
 * Why a name cannot be a type's own variable (`service_types.<t>.env`), or null: a variable name
 * of at most 64 characters, ending in `_URL`, `_PORT`, `_HOST` or `_ORIGIN`, not one of Styxy's
 * own, nor in a loader's, shell's or tool's namespace (see DENIED_OWN_ENV_PREFIXES).
 */
export function findOwnEnvNameProblem(value: string): string | null {
  if (value.length > 64) return `${JSON.stringify(value)} is ${value.length} characters long; at most 64 are allowed`;
  const basic = findEnvNameProblem(value);
  if (basic) return basic;
  if (!OWN_ENV_NAME_PATTERN.test(value)) return `${JSON.stringify(value)} must end in _URL, _PORT, _HOST or _ORIGIN`;
  if (value === 'PORT' || value.startsWith('STYXY_')) return `${JSON.stringify(value)} is one of Styxy's own variables`;
  const upper = value.toUpperCase();
  const prefix = DENIED_OWN_ENV_PREFIXES.find((p) => upper.startsWith(p));
  if (prefix) return `${JSON.stringify(value)} starts with ${prefix}, which a loader, shell or tool reads; choose another name`;
  return null;
}

/** Parses a port given as text or number; returns the integer or null when it is not 1-65535. */
export function parsePort(value: unknown): number | null {
  const text = typeof value === 'number' ? String(value) : value;
  if (typeof text !== 'string' || !/^[0-9]{1,5}$/.test(text)) return null;
  const port = Number(text);
  return port >= 1 && port <= 65535 ? port : null;
}

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Parses `30s`, `30m`, `8h`, `2d` or `1h30m` into milliseconds; null when malformed or zero. */
export function parseDuration(value: unknown): number | null {
  if (typeof value !== 'string' || !/^([0-9]{1,6}[smhd])+$/.test(value)) return null;
  let total = 0;
  for (const part of value.matchAll(/([0-9]+)([smhd])/g)) {
    total += Number(part[1]) * (UNIT_MS[part[2] as string] as number);
  }
  return total > 0 && total <= 366 * UNIT_MS.d! ? total : null;
}

/** `--label`: 1-200 characters, none of them a control character (it is printed in lists). */
// eslint-disable-next-line no-control-regex -- control characters are exactly what it refuses
export const LABEL_PATTERN = /^[^\u0000-\u001F\u007F-\u009F]{1,200}$/u;
/** `--session`: 1-200 visible ASCII characters (`claude-code:3f2a…`), no spaces, safe to pass on a command line. */
export const SESSION_PATTERN = /^[!-~]{1,200}$/;

/** Why a `--label` cannot be recorded, or null. */
export function findLabelProblem(value: unknown): string | null {
  if (typeof value !== 'string' || value.length === 0) return 'label must not be empty';
  if (!LABEL_PATTERN.test(value)) return `label ${JSON.stringify(value)} must be 1-200 characters without control characters`;
  return null;
}

/** Why a `--session` (or STYXY_SESSION) cannot be recorded, or null. */
export function findSessionProblem(value: unknown): string | null {
  if (typeof value !== 'string' || value.length === 0) return 'session must not be empty';
  if (!SESSION_PATTERN.test(value)) return `session ${JSON.stringify(value)} must be 1-200 visible ASCII characters, without spaces`;
  return null;
}
