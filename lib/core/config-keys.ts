import type { AutoAllocationRule, Config, ConfigLayer, ServiceType, SettingsSection } from './types';
import { ownValue } from './types';
import { findNameProblem, RESERVED_NAMES } from './names';
import { DEFAULT_INSTANCE_BEHAVIOR } from './defaults';
import { PORT_FLOOR } from './placement-strategies';
import { CONFIG_BOUNDS, CONFIG_SETTINGS } from '../generated/config-bounds';

export type SettingOutcome =
  | { kind: 'set'; layer: ConfigLayer; path: string; value: unknown; previous: unknown }
  | { kind: 'rejected'; code: 'INVALID_ARGUMENT' | 'UNKNOWN_SERVICE_TYPE'; message: string; suggestions: string[] };

type Parser = (text: string) => { value: unknown } | { problem: string };

const bool: Parser = (text) => {
  const t = text.toLowerCase();
  if (['true', 'yes', 'on', '1'].includes(t)) return { value: true };
  if (['false', 'no', 'off', '0'].includes(t)) return { value: false };
  return { problem: `expected true or false, got ${JSON.stringify(text)}` };
};
const int =
  (min: number, max: number): Parser =>
  (text) =>
    /^[0-9]{1,6}$/.test(text) && Number(text) >= min && Number(text) <= max
      ? { value: Number(text) }
      : { problem: `expected a whole number from ${min} to ${max}, got ${JSON.stringify(text)}` };
const oneOf =
  (...allowed: string[]): Parser =>
  (text) =>
    allowed.includes(text) ? { value: text } : { problem: `expected one of ${allowed.join(', ')}, got ${JSON.stringify(text)}` };
/** `3000-3199`: a range of ports, low before high. */
const portRange: Parser = (text) => {
  const [min, max] = CONFIG_BOUNDS.port;
  const m = /^([0-9]{1,5})-([0-9]{1,5})$/.exec(text.trim());
  const [low, high] = m ? [Number(m[1]), Number(m[2])] : [0, 0];
  if (!m || low < min || high > max || low > high)
    return { problem: `expected a port range like 3000-3199 (${min}-${max}, low first), got ${JSON.stringify(text)}` };
  return { value: [low, high] };
};
const pathOrNull: Parser = (text) => (['null', 'none', ''].includes(text) ? { value: null } : { value: text });

// The bounds are the config schema's (lib/generated/config-bounds.ts is made from it by the
// build). A port a setting names is where auto-allocation starts or stops, so it is also held to
// PORT_FLOOR, which the schema leaves to the config rules (they refuse a config below it).
const RULE = CONFIG_BOUNDS.auto_allocation_rules;
const startPort = ([min, max]: readonly [number, number]): Parser => int(Math.max(PORT_FLOOR, min), max);
/** A number with up to three decimals (seconds may be fractional). */
const decimal =
  (min: number, max: number): Parser =>
  (text) =>
    /^[0-9]{1,6}(\.[0-9]{1,3})?$/.test(text) && Number(text) >= min && Number(text) <= max
      ? { value: Number(text) }
      : { problem: `expected a number from ${min} to ${max}, got ${JSON.stringify(text)}` };

/** A setting's kind and bounds, as scripts/generate-shapes.js reads them from the schema. */
type SettingKind =
  { kind: 'boolean' | 'path' } | { kind: 'integer' | 'number' | 'port'; bounds: readonly [number, number] } | { kind: 'enum'; values: readonly string[] };

/** The generated table, held to the kinds this file parses (a new kind fails to compile here). */
const SETTINGS: Record<SettingsSection, Record<string, SettingKind>> = CONFIG_SETTINGS;

function parserOf(setting: SettingKind): Parser {
  switch (setting.kind) {
    case 'boolean':
      return bool;
    case 'path':
      return pathOrNull;
    case 'integer':
      return int(...setting.bounds);
    case 'number':
      return decimal(...setting.bounds);
    case 'port':
      return startPort(setting.bounds);
    case 'enum':
      return oneOf(...setting.values);
  }
}

/**
 * Settings of the schema that `config set` leaves alone, and why. (`config set` writes the
 * user's config.json; these mean something in a project's .styxy.json alone.)
 */
const NOT_SETTABLE: Record<string, string> = {
  'agents.hook': "agents.hook is read from a project's .styxy.json alone: set it there",
};

const kebab = (name: string) => name.replace(/_/g, '-');

/**
 * The settings sections `config set` writes key by key, made from the schema's: the CLI's name
 * (kebab-case) → the config's, and for each key the config's name and its parser. A setting
 * added to the schema is settable with no change here.
 */
const SECTIONS: Record<string, [SettingsSection, Record<string, [string, Parser]>]> = Object.fromEntries(
  Object.entries(SETTINGS).map(([section, keys]) => [
    kebab(section),
    [
      section as SettingsSection,
      Object.fromEntries(
        Object.entries(keys)
          .filter(([key]) => ownValue(NOT_SETTABLE, `${section}.${key}`) === undefined)
          .map(([key, setting]) => [kebab(key), [key, parserOf(setting)]]),
      ),
    ],
  ]),
);

/** Every key `styxy config set` understands, for help and error messages. */
export const SETTABLE_KEYS = [
  'service-types.<type>.instance-behavior',
  'service-types.<type>.port-range',
  ...Object.entries(SECTIONS).flatMap(([section, [, keys]]) => Object.keys(keys).map((key) => `${section}.${key}`)),
];

/** The per-type settings `config set service-types.<type>.<key>` writes. */
const TYPE_KEYS: Record<string, ['port_range' | 'instance_behavior', Parser, (type: ServiceType | undefined) => unknown]> = {
  'port-range': ['port_range', portRange, (type) => type?.port_range],
  'instance-behavior': [
    'instance_behavior',
    oneOf(...CONFIG_BOUNDS.service_types.instance_behavior),
    (type) => type?.instance_behavior ?? DEFAULT_INSTANCE_BEHAVIOR,
  ],
};

const rejectSetting = (message: string): SettingOutcome => ({
  kind: 'rejected',
  code: 'INVALID_ARGUMENT',
  message,
  suggestions: [`Settable keys: ${SETTABLE_KEYS.join(', ')}`],
});

/**
 * Applies `styxy config set <key> <value>` to the user's layer, returning a new layer. Keys are
 * kebab-case (`auto-allocation.require-confirmation`); snake_case is accepted too.
 */
export function applySetting(config: Config, userLayer: ConfigLayer | null, key: string, text: string): SettingOutcome {
  const parts = key.replace(/_/g, '-').split('.');
  const layer: ConfigLayer = structuredClone(userLayer ?? {});
  if (parts.length === 3 && parts[0] === 'service-types' && ownValue(TYPE_KEYS, parts[2] as string)) {
    return applyTypeSetting(config, layer, key, text);
  }
  const section = parts.length === 2 ? ownValue(SECTIONS, parts[0] as string) : undefined;
  const entry = section && ownValue(section[1], parts[1] as string);
  const refused = ownValue(NOT_SETTABLE, parts.join('.').replace(/-/g, '_'));
  if (refused) return rejectSetting(refused);
  if (!section || !entry) return rejectSetting(`Unknown setting '${key}'`);
  const [name, field, parse] = [section[0], ...entry] as const;
  const parsed = parse(text);
  if ('problem' in parsed) return rejectSetting(`${key}: ${parsed.problem}`);
  const previous = (config[name] as unknown as Record<string, unknown>)[field];
  (layer as Record<string, unknown>)[name] = { ...(layer[name] ?? {}), [field]: parsed.value };
  return { kind: 'set', layer, path: `/${name}/${field}`, value: parsed.value, previous };
}

/** `service-types.<type>.port-range` or `.instance-behavior`, for a type the config knows. */
function applyTypeSetting(config: Config, layer: ConfigLayer, key: string, text: string): SettingOutcome {
  const [, name, setting] = key.split('.') as [string, string, string];
  const nameProblem = findNameProblem(name, 'service type');
  if (nameProblem) return rejectSetting(nameProblem);
  if (!ownValue(config.service_types, name)) {
    return {
      kind: 'rejected',
      code: 'UNKNOWN_SERVICE_TYPE',
      message: `Unknown service type '${name}'`,
      suggestions: [`Known types: ${Object.keys(config.service_types).sort().join(', ')}`],
    };
  }
  const [field, parse, current] = ownValue(TYPE_KEYS, setting.replace(/_/g, '-')) as (typeof TYPE_KEYS)[string];
  const parsed = parse(text);
  if ('problem' in parsed) return rejectSetting(`${key}: ${parsed.problem}`);
  const types = (layer.service_types ??= {});
  types[name] = { ...(ownValue(types, name) ?? {}), [field]: parsed.value } as ServiceType;
  return { kind: 'set', layer, path: `/service_types/${name}/${field}`, value: parsed.value, previous: current(ownValue(config.service_types, name)) };
}

/** The user's layer with one service type added or replaced. */
export function withServiceType(layer: ConfigLayer | null, name: string, type: ServiceType): ConfigLayer {
  const next: ConfigLayer = structuredClone(layer ?? {});
  next.service_types = { ...(next.service_types ?? {}), [name]: type };
  return next;
}

/** The user's layer without one service type; every other key stays as it was. */
export function withoutServiceType(layer: ConfigLayer, name: string): ConfigLayer {
  const next: ConfigLayer = structuredClone(layer);
  if (next.service_types) next.service_types = Object.fromEntries(Object.entries(next.service_types).filter(([n]) => n !== name));
  return next;
}

const RULE_PATTERN = /^[A-Za-z0-9._*?[\]{},!+@()-]{1,200}$/;

/** Why a rule pattern cannot be used, or null. Mirrors the schema's `rulePattern`. */
export function findRulePatternProblem(pattern: string): string | null {
  if (!RULE_PATTERN.test(pattern))
    return `rule pattern ${JSON.stringify(pattern)} may only use letters, digits, . _ - and the glob characters * ? [ ] { } , ! + @ ( ) (1-200 characters)`;
  if (/^[0-9]+$/.test(pattern)) return `rule pattern ${JSON.stringify(pattern)} is all digits; JSON objects would not keep it in file order`;
  if (pattern === '__proto__' || RESERVED_NAMES.has(pattern)) return `rule pattern ${JSON.stringify(pattern)} is reserved`;
  return null;
}

/**
 * The user's layer with a rule set: an existing pattern keeps its place in the file (first match
 * wins, so order matters) and gets the given fields; a new one goes last.
 */
export function withRule(layer: ConfigLayer | null, pattern: string, fields: AutoAllocationRule): { layer: ConfigLayer; previous: AutoAllocationRule | null } {
  const next: ConfigLayer = structuredClone(layer ?? {});
  const rules = next.auto_allocation_rules ?? {};
  const previous = ownValue(rules, pattern) ?? null;
  const entries = Object.entries(rules);
  const merged = { ...(previous ?? {}), ...fields };
  next.auto_allocation_rules = Object.fromEntries(previous ? entries.map(([p, r]) => [p, p === pattern ? merged : r]) : [...entries, [pattern, merged]]);
  return { layer: next, previous };
}

/** The user's layer without a rule, or null when the layer has no such rule. */
export function withoutRule(layer: ConfigLayer | null, pattern: string): { layer: ConfigLayer; previous: AutoAllocationRule } | null {
  const previous = layer?.auto_allocation_rules ? ownValue(layer.auto_allocation_rules, pattern) : undefined;
  if (!layer || previous === undefined) return null;
  const next: ConfigLayer = structuredClone(layer);
  next.auto_allocation_rules = Object.fromEntries(Object.entries(next.auto_allocation_rules ?? {}).filter(([p]) => p !== pattern));
  return { layer: next, previous };
}

/** The auto-allocated types of a layer, newest first (ties: later in the file first). */
export function autoAllocatedTypes(
  layer: ConfigLayer | null,
): { name: string; type: Partial<ServiceType> & { auto_allocated: NonNullable<ServiceType['auto_allocated']> } }[] {
  const found = Object.entries(layer?.service_types ?? {})
    .map(([name, type], index) => ({ name, type, index }))
    .filter(
      (e): e is { name: string; type: Partial<ServiceType> & { auto_allocated: NonNullable<ServiceType['auto_allocated']> }; index: number } =>
        e.type.auto_allocated !== undefined,
    );
  found.sort((a, b) =>
    a.type.auto_allocated.at < b.type.auto_allocated.at ? 1 : a.type.auto_allocated.at > b.type.auto_allocated.at ? -1 : b.index - a.index,
  );
  return found.map(({ name, type }) => ({ name, type }));
}

/** What `set-rule` was given on the command line, as text. */
export interface RuleFieldTexts {
  chunkSize?: string;
  preferredRangeStart?: string;
  placement?: string;
  instanceBehavior?: string;
}

/** Parses `set-rule` options into rule fields, or says what is wrong. At least one is needed. */
export function parseRuleFields(texts: RuleFieldTexts): { fields: AutoAllocationRule } | { problem: string } {
  const fields: AutoAllocationRule = {};
  const steps: [keyof RuleFieldTexts, string, keyof AutoAllocationRule, Parser][] = [
    ['chunkSize', '--chunk-size', 'chunk_size', int(...RULE.chunk_size)],
    ['preferredRangeStart', '--preferred-range-start', 'preferred_range_start', startPort(RULE.preferred_range_start)],
    ['placement', '--placement', 'placement', oneOf(...RULE.placement)],
    ['instanceBehavior', '--instance-behavior', 'instance_behavior', oneOf(...RULE.instance_behavior)],
  ];
  for (const [from, flag, to, parse] of steps) {
    const text = texts[from];
    if (text === undefined) continue;
    const parsed = parse(text);
    if ('problem' in parsed) return { problem: `${flag}: ${parsed.problem}` };
    (fields as Record<string, unknown>)[to] = parsed.value;
  }
  if (Object.keys(fields).length === 0) return { problem: 'Give at least one of --chunk-size, --preferred-range-start, --placement, --instance-behavior' };
  return { fields };
}
