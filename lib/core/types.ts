/** The shapes Styxy reasons about. Plain data: no methods, no I/O. */

import type { StyxyState } from '../generated/state';

/*
 * The config's shapes are schemas/config.schema.json's: the build generates a layer's types from
 * it (lib/generated/config.ts, scripts/generate-shapes.js), and the effective config's are derived
 * here from those. A setting added to the schema is then required in the effective config, so
 * the compiler asks for its default in lib/core/defaults.ts and nowhere else.
 */
import type { ConfigLayer as GeneratedLayer, ServiceType as ServiceTypeFields } from '../generated/config';

export type { Placement, StackService } from '../generated/config';

/** One config file as written by a user: every part optional. */
export type ConfigLayer = GeneratedLayer;

export type InstanceBehavior = NonNullable<ServiceTypeFields['instance_behavior']>;
export type AutoAllocatedMark = NonNullable<ServiceTypeFields['auto_allocated']>;

/** A service type of the effective config: every layer's fields merged, and a port range. */
export type ServiceType = ServiceTypeFields & { port_range: [number, number] };

export type AutoAllocationRule = NonNullable<ConfigLayer['auto_allocation_rules']>[string];

/**
 * The sections of plain settings (`auto_allocation`, `port_reuse`, ...): the layer's keys that
 * are neither a named collection (types, rules, a stack), the project's `name`, nor `$schema`. Layers merge them key by
 * key, and the built-in defaults give each of their keys a value.
 */
export type SettingsSection = Exclude<keyof ConfigLayer, '$schema' | 'service_types' | 'auto_allocation_rules' | 'services' | 'name'>;
type Settings<S extends SettingsSection> = Required<NonNullable<ConfigLayer[S]>>;

export type AutoAllocationSettings = Settings<'auto_allocation'>;
/** How long allocations outlive their owners. */
export type LifetimeSettings = Settings<'lifetime'>;
/** How freed ports are remembered: the reuse cool-down and the home ports of sticky services. */
export type PortReuseSettings = Settings<'port_reuse'>;
/** How URLs are written: see core/url.ts. */
export type UrlSettings = Settings<'urls'>;
/** How Styxy treats coding agents (the hook and the MCP server). */
export type AgentSettings = Settings<'agents'>;

/** The effective config: every layer merged over the built-in defaults. */
export type Config = { [S in SettingsSection]: Settings<S> } & {
  service_types: Record<string, ServiceType>;
  auto_allocation_rules: Record<string, AutoAllocationRule>;
};

/**
 * The state's shapes are schemas/state.schema.json's: the build generates their types from it
 * (scripts/generate-shapes.js), so a field is added or changed in the schema alone and the code
 * follows. The quick check (lib/store/state-quick-check.ts) is held to the schema by its tests.
 */
export type { Allocation, AllocationUser, ComposeOrigin, FreedPort, LeaseOwner, Owner, PersistentOwner, ProcessOwner, SettledRef } from '../generated/state';
export type State = StyxyState;

export function emptyState(): State {
  return { version: 1, allocations: [] };
}

/** Own-property lookup, so that names like `constructor` never reach Object.prototype. */
export function ownValue<T>(record: Record<string, T>, key: string): T | undefined {
  return Object.prototype.hasOwnProperty.call(record, key) ? record[key] : undefined;
}
