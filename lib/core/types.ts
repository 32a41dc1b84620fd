/** The shapes Styxy reasons about. Plain data: no methods, no I/O. */

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
  auto_allocated?: AutoAllocatedMark;
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

/** The effective config: every layer merged over the built-in defaults. */
export interface Config {
  service_types: Record<string, ServiceType>;
  auto_allocation: AutoAllocationSettings;
  auto_allocation_rules: Record<string, AutoAllocationRule>;
}

/** One config file as written by a user: every part optional. */
export interface ConfigLayer {
  $schema?: string;
  service_types?: Record<string, Partial<ServiceType>>;
  auto_allocation?: Partial<AutoAllocationSettings>;
  auto_allocation_rules?: Record<string, AutoAllocationRule>;
}

export type Owner =
  | { kind: 'process'; pid: number; startTime: string | null; command?: string }
  | { kind: 'lease'; expiresAt: string }
  | { kind: 'persistent' };

export interface Allocation {
  lockId: string;
  serviceType: string;
  instanceId: string;
  port: number;
  project: string;
  owner: Owner;
  allocatedAt: string;
}

export interface State {
  version: 1;
  allocations: Allocation[];
}

export function emptyState(): State {
  return { version: 1, allocations: [] };
}

/** Own-property lookup, so that names like `constructor` never reach Object.prototype. */
export function ownValue<T>(record: Record<string, T>, key: string): T | undefined {
  return Object.prototype.hasOwnProperty.call(record, key) ? record[key] : undefined;
}
