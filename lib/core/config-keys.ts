import type { AutoAllocationSettings, Config, ConfigLayer } from './types';
import { ownValue } from './types';

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
const pathOrNull: Parser = (text) => (['null', 'none', ''].includes(text) ? { value: null } : { value: text });

const AUTO_KEYS: Record<string, [keyof AutoAllocationSettings, Parser]> = {
  enabled: ['enabled', bool],
  'default-chunk-size': ['default_chunk_size', int(1, 10000)],
  placement: ['placement', oneOf('after', 'before', 'smart')],
  'min-port': ['min_port', int(1024, 65535)],
  'max-port': ['max_port', int(1024, 65535)],
  'preserve-gaps': ['preserve_gaps', bool],
  'gap-size': ['gap_size', int(0, 10000)],
  'require-confirmation': ['require_confirmation', bool],
  'port-docs-path': ['port_docs_path', pathOrNull],
};

/** Every key `styxy config set` understands, for help and error messages. */
export const SETTABLE_KEYS = ['service-types.<type>.instance-behavior', ...Object.keys(AUTO_KEYS).map((k) => `auto-allocation.${k}`)];

/**
 * Applies `styxy config set <key> <value>` to the user's layer, returning a new layer. Keys are
 * kebab-case (`auto-allocation.require-confirmation`); snake_case is accepted too.
 */
export function applySetting(config: Config, userLayer: ConfigLayer | null, key: string, text: string): SettingOutcome {
  const parts = key.replace(/_/g, '-').split('.');
  const layer: ConfigLayer = structuredClone(userLayer ?? {});
  const reject = (message: string): SettingOutcome => ({
    kind: 'rejected',
    code: 'INVALID_ARGUMENT',
    message,
    suggestions: [`Settable keys: ${SETTABLE_KEYS.join(', ')}`],
  });

  if (parts.length === 3 && parts[0] === 'service-types' && parts[2] === 'instance-behavior') {
    const name = key.split('.')[1] as string;
    if (!ownValue(config.service_types, name)) {
      return {
        kind: 'rejected',
        code: 'UNKNOWN_SERVICE_TYPE',
        message: `Unknown service type '${name}'`,
        suggestions: [`Known types: ${Object.keys(config.service_types).sort().join(', ')}`],
      };
    }
    const parsed = oneOf('single', 'multi')(text);
    if ('problem' in parsed) return reject(`${key}: ${parsed.problem}`);
    const types = (layer.service_types ??= {});
    const previous = ownValue(config.service_types, name)?.instance_behavior ?? 'multi';
    types[name] = { ...(ownValue(types, name) ?? {}), instance_behavior: parsed.value as 'single' | 'multi' };
    return { kind: 'set', layer, path: `/service_types/${name}/instance_behavior`, value: parsed.value, previous };
  }

  if (parts.length === 2 && parts[0] === 'auto-allocation') {
    const entry = ownValue(AUTO_KEYS, parts[1] as string);
    if (!entry) return reject(`Unknown setting '${key}'`);
    const [field, parse] = entry;
    const parsed = parse(text);
    if ('problem' in parsed) return reject(`${key}: ${parsed.problem}`);
    const previous = config.auto_allocation[field];
    layer.auto_allocation = { ...(layer.auto_allocation ?? {}), [field]: parsed.value };
    return { kind: 'set', layer, path: `/auto_allocation/${field}`, value: parsed.value, previous };
  }

  return reject(`Unknown setting '${key}'`);
}
