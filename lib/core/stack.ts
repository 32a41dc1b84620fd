import type { ConfigProblem } from './config-rules';
import { allocationEnv, type EnvAllocation, type EnvVar } from './env-contract';
import type { StackService } from './types';
import { ownValue } from './types';

/** One service of a stack, its defaults filled in, ready to start. */
export interface PlannedService {
  name: string;
  /** The service type its port comes from: the service's name unless `.styxy.json` says otherwise. */
  type: string;
  command: string;
  env: Record<string, string>;
  dependsOn: string[];
  /** Relative to the stack's directory, normalised, '' for the directory itself. */
  cwd: string;
}

/** A service's name as a variable: upper-cased, `-` and `.` as `_` (`web-admin` → `WEB_ADMIN`). */
export function serviceVarStem(name: string): string {
  return name.toUpperCase().replace(/[-.]/g, '_');
}

/**
 * A relative directory normalised (`./a/../b` → `b`), or null when it is absolute or climbs out
 * of the directory it is relative to: nothing a project's file names may lead outside the project.
 */
export function normaliseInsideDir(dir: string): string | null {
  if (dir.startsWith('/') || dir.startsWith('\\') || /^[A-Za-z]:/.test(dir) || dir.includes('\0')) return null;
  const parts: string[] = [];
  for (const part of dir.split(/[/\\]+/)) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (parts.length === 0) return null;
      parts.pop();
    } else parts.push(part);
  }
  return parts.join('/');
}

/**
 * What a stack's schema cannot check: every `depends_on` names a service of the stack (not
 * itself), the dependencies have no cycle, every `cwd` stays inside the project, and no two
 * names give the same variables (`a-b` and `a.b` would both be `A_B_PORT`).
 */
export function findStackProblems(services: Readonly<Record<string, StackService>>, file: string): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const names = Object.keys(services);
  const stems = new Map<string, string>();
  for (const name of names) {
    const service = services[name] as StackService;
    const at = `/services/${name}`;
    (service.depends_on ?? []).forEach((dependency, i) => {
      if (dependency === name) problems.push({ file, path: `${at}/depends_on/${i}`, message: `service '${name}' cannot depend on itself` });
      else if (ownValue(services, dependency) === undefined)
        problems.push({ file, path: `${at}/depends_on/${i}`, message: `service '${name}' depends on '${dependency}', which is not a service of this stack` });
    });
    if (service.cwd !== undefined && normaliseInsideDir(service.cwd) === null) {
      problems.push({
        file,
        path: `${at}/cwd`,
        message: `${JSON.stringify(service.cwd)} leads outside the project; give a directory inside it, relative to ${file}`,
      });
    }
    const stem = serviceVarStem(name);
    const other = stems.get(stem);
    if (other !== undefined) problems.push({ file, path: at, message: `services '${other}' and '${name}' would both set ${stem}_PORT; rename one` });
    else stems.set(stem, name);
  }
  const cycle = findCycle(services);
  if (cycle) problems.push({ file, path: `/services/${cycle[0]}/depends_on`, message: `the services depend on each other in a circle: ${cycle.join(' -> ')}` });
  return problems;
}

/** A dependency cycle as the names along it (the first repeated at the end), or null. */
function findCycle(services: Readonly<Record<string, StackService>>): string[] | null {
  const state = new Map<string, 'open' | 'done'>();
  const trail: string[] = [];
  const visit = (name: string): string[] | null => {
    if (state.get(name) === 'done') return null;
    if (state.get(name) === 'open') return [...trail.slice(trail.indexOf(name)), name];
    state.set(name, 'open');
    trail.push(name);
    for (const dependency of ownValue(services, name)?.depends_on ?? []) {
      if (dependency === name || ownValue(services, dependency) === undefined) continue;
      const found = visit(dependency);
      if (found) return found;
    }
    trail.pop();
    state.set(name, 'done');
    return null;
  };
  for (const name of Object.keys(services)) {
    const found = visit(name);
    if (found) return found;
  }
  return null;
}

/**
 * The services in the order they start: each after everything it depends on, otherwise in the
 * order the file gives them. The stack must be free of problems (findStackProblems).
 */
export function planStack(services: Readonly<Record<string, StackService>>): PlannedService[] {
  const ordered: PlannedService[] = [];
  const placed = new Set<string>();
  const place = (name: string): void => {
    if (placed.has(name)) return;
    placed.add(name);
    const service = services[name] as StackService;
    for (const dependency of service.depends_on ?? []) place(dependency);
    ordered.push({
      name,
      type: service.type ?? name,
      command: service.command,
      env: { ...service.env },
      dependsOn: [...(service.depends_on ?? [])],
      cwd: normaliseInsideDir(service.cwd ?? '.') ?? '',
    });
  };
  for (const name of Object.keys(services)) place(name);
  return ordered;
}

/** A service's allocation, as the variables tell it: origins' contract, and the service's name. */
export interface StackPort extends EnvAllocation {
  name: string;
}

/**
 * The environment one service of a stack is started with: `<NAME>_PORT` and `<NAME>_URL` of every
 * service (itself too: names, not types, since two services may share a type), then its own
 * allocation's variables as `run` gives them (`PORT`, `STYXY_PORT`, `STYXY_URL`, `STYXY_*`, and its
 * type's own names), then `STYXY_STACK_SERVICE`, then the `env` its entry in `.styxy.json` gives,
 * which wins.
 */
export function planServiceVariables(self: PlannedService, ports: readonly StackPort[]): EnvVar[] {
  const vars = new Map<string, string>();
  for (const p of ports) {
    const stem = serviceVarStem(p.name);
    vars.set(`${stem}_PORT`, String(p.port));
    vars.set(`${stem}_URL`, p.url);
  }
  const own = ports.find((p) => p.name === self.name);
  if (own) for (const [name, value] of allocationEnv(own)) vars.set(name, value);
  vars.set('STYXY_STACK_SERVICE', self.name);
  for (const [name, value] of Object.entries(self.env)) vars.set(name, value);
  return [...vars];
}
