/** The shapes Styxy reasons about. Plain data: no methods, no I/O. */

import type { StyxyState } from '../generated/state';

export type InstanceBehavior = 'single' | 'multi';
export type Placement = 'after' | 'before' | 'smart';

export interface AutoAllocatedMark {
  at: string;
  by: string;
  rule?: string | null;
}

export interface ServiceType {
  description?: string;
  port_range: [number, number];
  preferred_ports?: number[];
  instance_behavior?: InstanceBehavior;
  examples?: string[];
  /** Names this type's port and URL are also exported as, for every service of a batch. */
  env?: { port?: string; url?: string };
  auto_allocated?: AutoAllocatedMark;
}

/** How URLs are written: see core/url.ts. */
export interface UrlSettings {
  host_style: 'localhost' | 'subdomain';
}

export interface AutoAllocationSettings {
  enabled: boolean;
  default_chunk_size: number;
  placement: Placement;
  min_port: number;
  max_port: number;
  preserve_gaps: boolean;
  gap_size: number;
  require_confirmation: boolean;
  port_docs_path: string | null;
}

export interface AutoAllocationRule {
  chunk_size?: number;
  placement?: Placement;
  preferred_range_start?: number;
  /** The instance behaviour the new type is given (default multi). */
  instance_behavior?: InstanceBehavior;
}

/** How long allocations outlive their owners. */
export interface LifetimeSettings {
  /** A detected owner that ends with nothing listening leaves its port reserved this long. */
  reservation_grace_seconds: number;
}

/** How freed ports are remembered: the reuse cool-down and the home ports of sticky services. */
export interface PortReuseSettings {
  /** A freed port goes to another service only when its range has no other free port, for this long. */
  cooldown_seconds: number;
  /** A sticky service's home port is remembered for this long after it was freed. */
  home_port_days: number;
  /** At most this many home ports are remembered (the oldest are forgotten first). */
  home_port_limit: number;
}

/** The effective config: every layer merged over the built-in defaults. */
export interface Config {
  service_types: Record<string, ServiceType>;
  auto_allocation: AutoAllocationSettings;
  auto_allocation_rules: Record<string, AutoAllocationRule>;
  lifetime: LifetimeSettings;
  port_reuse: PortReuseSettings;
  urls: UrlSettings;
  /** Set only when a layer says something about agents. */
  agents?: AgentSettings;
}

/** How Styxy treats coding agents (the hook and the MCP server). */
export interface AgentSettings {
  /** false: the hook leaves every command as it is. */
  hook?: boolean;
  /** true: what a session started keeps running when the session ends. */
  keep_servers?: boolean;
}

/** One config file as written by a user: every part optional. */
export interface ConfigLayer {
  $schema?: string;
  service_types?: Record<string, Partial<ServiceType>>;
  auto_allocation?: Partial<AutoAllocationSettings>;
  auto_allocation_rules?: Record<string, AutoAllocationRule>;
  lifetime?: Partial<LifetimeSettings>;
  port_reuse?: Partial<PortReuseSettings>;
  urls?: Partial<UrlSettings>;
  agents?: AgentSettings;
  /** The project's name for derived home ports (core/origin.ts): only a project's `.styxy.json` may set it. */
  name?: string;
  /** A stack (`styxy up`): only a project's `.styxy.json` may set it; it is not part of the merged Config. */
  services?: Record<string, StackService>;
}

/** One service of a stack, as `.styxy.json` writes it. */
export interface StackService {
  /** The service type its port comes from; the service's name when left out. */
  type?: string;
  /** Run with `sh -c`. */
  command: string;
  env?: Record<string, string>;
  depends_on?: string[];
  /** Relative to the directory of `.styxy.json`, and inside it. */
  cwd?: string;
}

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
