import { typeVarStem } from './env-contract';
import { findOwnEnvNameProblem } from './names';
import type { Config, ConfigLayer, ServiceType } from './types';
import { ownValue } from './types';

/** One problem found in a config file: which file, where in it (a JSON pointer), and what. */
export interface ConfigProblem {
  file: string;
  path: string;
  message: string;
  /** For a JSON syntax error: where in the file (1-based). */
  line?: number;
  column?: number;
}

export interface NamedLayer {
  /** The file the layer came from, or `built-in defaults`. */
  file: string;
  layer: ConfigLayer;
}

export interface MergedConfig {
  config: Config;
  /** For each service type, the file that gave it its current port range. */
  rangeSources: Record<string, string>;
  /** The last file that set `auto_allocation` / `auto_allocation_rules`. */
  autoSource: string;
  rulesSource: string;
  /** For each service type, the file that set its preferred ports last. */
  preferredSources?: Record<string, string>;
  /** For each `auto_allocation` key and each rule pattern, the file that set it last. */
  autoKeySources?: Record<string, string>;
  ruleSources?: Record<string, string>;
  /** For each service type with `env` names, the file that set them last. */
  envSources?: Record<string, string>;
  /** The files in layer order, the base first: a later one is blamed for what it broke. */
  layerFiles?: string[];
  problems: ConfigProblem[];
}

/**
 * Merges layers over a base config, later layers winning key by key: a service type's fields
 * are merged one by one (so a layer may change only `instance_behavior` of a built-in type),
 * `auto_allocation` settings likewise, and rules are ordered so that the latest layer's come
 * first (the first matching rule wins). A type no earlier layer knows must bring a port range.
 */
export function mergeConfigLayers(base: Config, baseFile: string, layers: NamedLayer[]): MergedConfig {
  const serviceTypes: Record<string, ServiceType> = { ...base.service_types };
  const rangeSources: Record<string, string> = {};
  const preferredSources: Record<string, string> = {};
  const autoKeySources: Record<string, string> = {};
  const ruleSources: Record<string, string> = {};
  const envSources: Record<string, string> = {};
  for (const name of Object.keys(serviceTypes)) {
    rangeSources[name] = baseFile;
    preferredSources[name] = baseFile;
  }
  for (const key of Object.keys(base.auto_allocation)) autoKeySources[key] = baseFile;
  for (const pattern of Object.keys(base.auto_allocation_rules)) ruleSources[pattern] = baseFile;
  const problems: ConfigProblem[] = [];
  let autoAllocation = { ...base.auto_allocation };
  let rules = { ...base.auto_allocation_rules };
  let portReuse = { ...base.port_reuse };
  let autoSource = baseFile;
  let rulesSource = baseFile;
  let lifetime = { ...base.lifetime };
  let urls = { ...base.urls };

  for (const { file, layer } of layers) {
    for (const [name, partial] of Object.entries(layer.service_types ?? {})) {
      const previous = ownValue(serviceTypes, name);
      const merged = { ...(previous ?? {}), ...partial } as ServiceType;
      if (merged.port_range === undefined) {
        problems.push({
          file,
          path: `/service_types/${name}`,
          message: `service type '${name}' is not a built-in type, so it needs a port_range`,
        });
        continue;
      }
      // A layer that moves a type's range without naming preferred ports drops the inherited
      // ones the new range no longer holds (moving api to 30000-30099 must not keep 8000).
      if (partial.port_range !== undefined && partial.preferred_ports === undefined && merged.preferred_ports) {
        const [low, high] = partial.port_range;
        const kept = merged.preferred_ports.filter((port) => port >= low && port <= high);
        if (kept.length > 0) merged.preferred_ports = kept;
        else delete merged.preferred_ports;
      }
      serviceTypes[name] = merged;
      if (partial.port_range !== undefined) rangeSources[name] = file;
      if (partial.env !== undefined) envSources[name] = file;
      if (partial.preferred_ports !== undefined || ownValue(preferredSources, name) === undefined) preferredSources[name] = file;
    }
    if (layer.auto_allocation) {
      autoAllocation = { ...autoAllocation, ...layer.auto_allocation };
      autoSource = file;
      for (const key of Object.keys(layer.auto_allocation)) autoKeySources[key] = file;
    }
    if (layer.port_reuse) portReuse = { ...portReuse, ...layer.port_reuse };
    if (layer.auto_allocation_rules) {
      rulesSource = file;
      const later = layer.auto_allocation_rules;
      for (const pattern of Object.keys(later)) ruleSources[pattern] = file;
      const earlier = Object.fromEntries(Object.entries(rules).filter(([pattern]) => ownValue(later, pattern) === undefined));
      rules = { ...later, ...earlier };
    }
    if (layer.lifetime) lifetime = { ...lifetime, ...layer.lifetime };
    if (layer.urls) urls = { ...urls, ...layer.urls };
  }

  return {
    config: { service_types: serviceTypes, auto_allocation: autoAllocation, auto_allocation_rules: rules, lifetime, port_reuse: portReuse, urls },
    rangeSources,
    autoSource,
    rulesSource,
    preferredSources,
    autoKeySources,
    ruleSources,
    envSources,
    layerFiles: [baseFile, ...layers.map((l) => l.file)],
    problems,
  };
}

/**
 * Meaning checks that a schema cannot express: ranges the right way round, preferred ports
 * inside their range, no two types sharing a port, sane auto-allocation bounds.
 */
export function findConfigProblems(merged: MergedConfig): ConfigProblem[] {
  const { config, rangeSources, autoSource, rulesSource } = merged;
  const problems: ConfigProblem[] = [];
  // Of the files behind a problem, the one applied last introduced it (a user config widening
  // dev over monitoring is to blame, not the built-in defaults that define monitoring).
  const order = merged.layerFiles ?? [];
  const latest = (...files: (string | undefined)[]): string => {
    const known = files.filter((f): f is string => f !== undefined);
    return known.reduce((a, b) => (order.indexOf(b) > order.indexOf(a) ? b : a), known[0] ?? 'config');
  };
  const spans: { name: string; low: number; high: number }[] = [];

  for (const [name, type] of Object.entries(config.service_types)) {
    const file = ownValue(rangeSources, name) ?? 'config';
    const [low, high] = type.port_range;
    if (low > high) {
      problems.push({ file, path: `/service_types/${name}/port_range`, message: `range ${low}-${high} ends before it starts` });
      continue;
    }
    spans.push({ name, low, high });
    (type.preferred_ports ?? []).forEach((port, index) => {
      if (port < low || port > high) {
        problems.push({
          file: latest(file, merged.preferredSources && ownValue(merged.preferredSources, name)),
          path: `/service_types/${name}/preferred_ports/${index}`,
          message: `preferred port ${port} is outside the type's range ${low}-${high}`,
        });
      }
    });
  }

  spans.sort((a, b) => a.low - b.low || a.high - b.high);
  let reach: (typeof spans)[number] | undefined;
  for (const span of spans) {
    if (reach && span.low <= reach.high) {
      const spanFile = ownValue(rangeSources, span.name) ?? 'config';
      const reachFile = ownValue(rangeSources, reach.name) ?? 'config';
      const [blamed, other, file, otherFile] =
        latest(reachFile, spanFile) === spanFile ? [span, reach, spanFile, reachFile] : [reach, span, reachFile, spanFile];
      problems.push({
        file,
        path: `/service_types/${blamed.name}/port_range`,
        message: `range ${blamed.low}-${blamed.high} of '${blamed.name}' overlaps ${other.low}-${other.high} of '${other.name}'${otherFile !== file ? ` (from ${otherFile})` : ''}`,
      });
    }
    if (!reach || span.high > reach.high) reach = span;
  }

  problems.push(...findEnvNameClashes(config, merged.envSources ?? rangeSources));

  const auto = config.auto_allocation;
  const keySource = (key: string) => (merged.autoKeySources && ownValue(merged.autoKeySources, key)) ?? autoSource;
  if (auto.min_port >= auto.max_port) {
    problems.push({
      file: latest(keySource('min_port'), keySource('max_port')),
      path: '/auto_allocation/min_port',
      message: `min_port ${auto.min_port} must be below max_port ${auto.max_port}`,
    });
  }
  for (const key of ['min_port', 'max_port'] as const) {
    if (auto[key] < 1024) {
      problems.push({
        file: keySource(key),
        path: `/auto_allocation/${key}`,
        message: `${key} ${auto[key]} is below 1024; auto-allocated ranges stay within 1024-65535`,
      });
    }
  }
  for (const [pattern, rule] of Object.entries(config.auto_allocation_rules)) {
    if (rule.preferred_range_start !== undefined && rule.preferred_range_start < 1024) {
      problems.push({
        file: (merged.ruleSources && ownValue(merged.ruleSources, pattern)) ?? rulesSource,
        path: `/auto_allocation_rules/${pattern}/preferred_range_start`,
        message: `preferred_range_start ${rule.preferred_range_start} is below 1024`,
      });
    }
  }
  return problems;
}

/**
 * A type's own variable names (`env: { port, url }`) reach every service of a batch, so no two
 * types may claim one name, nor may one take another type's standard `<TYPE>_PORT` / `<TYPE>_URL`,
 * nor one type use one name for both. Each name is also checked on its own (findOwnEnvNameProblem):
 * a project's file chooses it, so it must not be a variable a loader or shell acts on.
 */
function findEnvNameClashes(config: Config, sources: Record<string, string>): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const standard = new Map<string, string>();
  for (const name of Object.keys(config.service_types)) {
    const stem = typeVarStem(name);
    standard.set(`${stem}_PORT`, name).set(`${stem}_URL`, name);
  }
  const claimed = new Map<string, string>();
  for (const [name, type] of Object.entries(config.service_types)) {
    for (const key of ['port', 'url'] as const) {
      const variable = type.env?.[key];
      if (variable === undefined) continue;
      const file = ownValue(sources, name) ?? 'config';
      const path = `/service_types/${name}/env/${key}`;
      const problem = findOwnEnvNameProblem(variable);
      if (problem) {
        problems.push({ file, path, message: problem });
        continue;
      }
      if (key === 'url' && type.env?.port === variable) {
        problems.push({ file, path, message: `${variable} cannot carry both the port and the URL of service type '${name}'` });
        continue;
      }
      const other = standard.get(variable) ?? claimed.get(variable);
      if (other !== undefined && other !== name) {
        problems.push({
          file,
          path,
          message: `${variable} is already the variable of service type '${other}'`,
        });
      } else claimed.set(variable, name);
    }
  }
  return problems;
}

/**
 * Every ajv error as a readable problem. A key refused by `propertyNames` comes twice, the inner
 * failure (with the key) and the outer one; only the inner, which says why, is kept.
 */
export function describeSchemaErrors(file: string, errors: ReadonlyArray<Parameters<typeof describeSchemaError>[1]>): ConfigProblem[] {
  const explained = new Set(errors.filter((e) => typeof e.propertyName === 'string').map((e) => `${e.instancePath}\0${e.propertyName}`));
  return errors
    .filter((e) => !(e.keyword === 'propertyNames' && explained.has(`${e.instancePath}\0${String(e.params.propertyName)}`)))
    .map((e) => describeSchemaError(file, e));
}

/** Turns one ajv error into a readable "path: message" problem. */
export function describeSchemaError(
  file: string,
  error: { instancePath: string; keyword: string; message?: string; params: Record<string, unknown>; propertyName?: string },
): ConfigProblem {
  const path = error.instancePath || '/';
  // A key refused by `propertyNames`: ajv reports the inner failure with the key beside it.
  if (typeof error.propertyName === 'string') {
    const name = error.propertyName;
    const why = error.keyword === 'not' ? ' (every JavaScript object has it, so Styxy refuses it as a name)' : '';
    return { file, path: `${path}/${name}`, message: `'${name}' is not a valid name${why}` };
  }
  if (error.keyword === 'additionalProperties') {
    const key = String(error.params.additionalProperty);
    return { file, path: `${error.instancePath}/${key}`, message: `unknown key '${key}'` };
  }
  if (error.keyword === 'enum') {
    const allowed = (error.params.allowedValues as unknown[] | undefined)?.map((v) => JSON.stringify(v)).join(', ');
    return { file, path, message: `must be one of ${allowed}` };
  }
  if (error.keyword === 'propertyNames' || error.keyword === 'pattern') {
    const name = error.params.propertyName;
    if (typeof name === 'string') return { file, path: `${path}/${name}`, message: `'${name}' is not a valid name` };
  }
  return { file, path, message: error.message ?? error.keyword };
}
