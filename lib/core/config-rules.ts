import { typeVarStem } from './env-contract';
import { findOwnEnvNameProblem } from './names';
import type { Config, ConfigLayer, ServiceType, SettingsSection } from './types';
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
 * every section of settings (`auto_allocation`, `port_reuse`, ...) likewise, and rules are
 * ordered so that the latest layer's come first (the first matching rule wins). A type no
 * earlier layer knows must bring a port range.
 */
export function mergeConfigLayers(base: Config, baseFile: string, layers: NamedLayer[]): MergedConfig {
  const types = mergeServiceTypes(base.service_types, baseFile, layers);
  const rules = mergeRules(base.auto_allocation_rules, baseFile, layers);
  const settings = mergeSettings(base, baseFile, layers);
  return {
    // In the base's order, so that `config show` lists the sections as the defaults do.
    config: Object.fromEntries(
      Object.keys(base).map((key) => [
        key,
        key === 'service_types' ? types.serviceTypes : key === 'auto_allocation_rules' ? rules.rules : settings.values[key as SettingsSection],
      ]),
    ) as Config,
    rangeSources: types.rangeSources,
    autoSource: settings.sectionSources.auto_allocation,
    rulesSource: rules.rulesSource,
    preferredSources: types.preferredSources,
    autoKeySources: settings.keySources.auto_allocation,
    ruleSources: rules.ruleSources,
    envSources: types.envSources,
    layerFiles: [baseFile, ...layers.map((l) => l.file)],
    problems: types.problems,
  };
}

/** The sections of plain settings a config has: every key but the named collections. */
function settingsSections(config: Config): SettingsSection[] {
  return Object.keys(config).filter((key) => key !== 'service_types' && key !== 'auto_allocation_rules') as SettingsSection[];
}

/**
 * Each section of settings merged key by key over the base's, with the file that set each key
 * last and the last file that set anything in the section. A section the schema gains is merged
 * here as soon as the defaults give it values: nothing here names one.
 */
function mergeSettings(base: Config, baseFile: string, layers: NamedLayer[]) {
  const values = {} as Pick<Config, SettingsSection>;
  const sectionSources = {} as Record<SettingsSection, string>;
  const keySources = {} as Record<SettingsSection, Record<string, string>>;
  for (const section of settingsSections(base)) {
    let merged: Record<string, unknown> = { ...base[section] };
    const sources: Record<string, string> = Object.fromEntries(Object.keys(merged).map((key) => [key, baseFile]));
    sectionSources[section] = baseFile;
    for (const { file, layer } of layers) {
      const given = layer[section];
      if (!given) continue;
      merged = { ...merged, ...given };
      sectionSources[section] = file;
      for (const key of Object.keys(given)) sources[key] = file;
    }
    (values as Record<string, unknown>)[section] = merged;
    keySources[section] = sources;
  }
  return { values, sectionSources, keySources };
}

/** The service types merged field by field, with the file behind each one's range, preferred ports and variables. */
function mergeServiceTypes(base: Record<string, ServiceType>, baseFile: string, layers: NamedLayer[]) {
  const serviceTypes: Record<string, ServiceType> = { ...base };
  const rangeSources: Record<string, string> = {};
  const preferredSources: Record<string, string> = {};
  const envSources: Record<string, string> = {};
  for (const name of Object.keys(serviceTypes)) {
    rangeSources[name] = baseFile;
    preferredSources[name] = baseFile;
  }
  const problems: ConfigProblem[] = [];
  for (const { file, layer } of layers) {
    for (const [name, partial] of Object.entries(layer.service_types ?? {})) {
      const merged = mergeServiceType(ownValue(serviceTypes, name), partial);
      if (merged === null) {
        problems.push({ file, path: `/service_types/${name}`, message: `service type '${name}' is not a built-in type, so it needs a port_range` });
        continue;
      }
      serviceTypes[name] = merged;
      if (partial.port_range !== undefined) rangeSources[name] = file;
      if (partial.env !== undefined) envSources[name] = file;
      if (partial.preferred_ports !== undefined || ownValue(preferredSources, name) === undefined) preferredSources[name] = file;
    }
  }
  return { serviceTypes, rangeSources, preferredSources, envSources, problems };
}

/** One layer's fields over a type's, or null when the result has no port range. */
function mergeServiceType(previous: ServiceType | undefined, partial: NonNullable<ConfigLayer['service_types']>[string]): ServiceType | null {
  const merged = { ...(previous ?? {}), ...partial };
  if (merged.port_range === undefined) return null;
  // A layer that moves a type's range without naming preferred ports drops the inherited
  // ones the new range no longer holds (moving api to 30000-30099 must not keep 8000).
  if (partial.port_range !== undefined && partial.preferred_ports === undefined && merged.preferred_ports) {
    const [low, high] = partial.port_range;
    const kept = merged.preferred_ports.filter((port) => port >= low && port <= high);
    if (kept.length > 0) merged.preferred_ports = kept;
    else delete merged.preferred_ports;
  }
  return merged as ServiceType;
}

/** The rules, the latest layer's first (the first matching rule wins), and the file behind each. */
function mergeRules(base: Config['auto_allocation_rules'], baseFile: string, layers: NamedLayer[]) {
  let rules = { ...base };
  let rulesSource = baseFile;
  const ruleSources: Record<string, string> = Object.fromEntries(Object.keys(base).map((pattern) => [pattern, baseFile]));
  for (const { file, layer } of layers) {
    const later = layer.auto_allocation_rules;
    if (!later) continue;
    rulesSource = file;
    for (const pattern of Object.keys(later)) ruleSources[pattern] = file;
    const earlier = Object.fromEntries(Object.entries(rules).filter(([pattern]) => ownValue(later, pattern) === undefined));
    rules = { ...later, ...earlier };
  }
  return { rules, rulesSource, ruleSources };
}

/** Of the files behind a problem, the one applied last (in `order`, the base first). */
type Blame = (...files: (string | undefined)[]) => string;

/**
 * Meaning checks that a schema cannot express: ranges the right way round, preferred ports
 * inside their range, no two types sharing a port, sane auto-allocation bounds.
 */
export function findConfigProblems(merged: MergedConfig): ConfigProblem[] {
  // Of the files behind a problem, the one applied last introduced it (a user config widening
  // dev over monitoring is to blame, not the built-in defaults that define monitoring).
  const order = merged.layerFiles ?? [];
  const latest: Blame = (...files) => {
    const known = files.filter((f): f is string => f !== undefined);
    return known.reduce((a, b) => (order.indexOf(b) > order.indexOf(a) ? b : a), known[0] ?? 'config');
  };
  const ranges = findRangeProblems(merged, latest);
  return [
    ...ranges.problems,
    ...findOverlaps(ranges.spans, merged.rangeSources, latest),
    ...findEnvNameClashes(merged.config, merged.envSources ?? merged.rangeSources),
    ...findAutoAllocationProblems(merged, latest),
  ];
}

interface Span {
  name: string;
  low: number;
  high: number;
}

/** Ranges that end before they start, and preferred ports outside their range; the sound ranges as spans. */
function findRangeProblems(merged: MergedConfig, latest: Blame): { problems: ConfigProblem[]; spans: Span[] } {
  const problems: ConfigProblem[] = [];
  const spans: Span[] = [];
  for (const [name, type] of Object.entries(merged.config.service_types)) {
    const file = ownValue(merged.rangeSources, name) ?? 'config';
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
  return { problems, spans };
}

/** Two types whose ranges share a port, blaming the range set by the later layer. */
function findOverlaps(spans: Span[], rangeSources: Record<string, string>, latest: Blame): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const sorted = [...spans].sort((a, b) => a.low - b.low || a.high - b.high);
  let reach: Span | undefined;
  for (const span of sorted) {
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
  return problems;
}

/** Auto-allocation's bounds: min_port below max_port, and every start within 1024-65535. */
function findAutoAllocationProblems(merged: MergedConfig, latest: Blame): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const auto = merged.config.auto_allocation;
  const keySource = (key: string) => (merged.autoKeySources && ownValue(merged.autoKeySources, key)) ?? merged.autoSource;
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
  for (const [pattern, rule] of Object.entries(merged.config.auto_allocation_rules)) {
    if (rule.preferred_range_start !== undefined && rule.preferred_range_start < 1024) {
      problems.push({
        file: (merged.ruleSources && ownValue(merged.ruleSources, pattern)) ?? merged.rulesSource,
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
