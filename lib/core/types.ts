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
}

/** One config file as written by a user: every part optional. */
export interface ConfigLayer {
  $schema?: string;
  service_types?: Record<string, Partial<ServiceType>>;
  auto_allocation?: Partial<AutoAllocationSettings>;
  auto_allocation_rules?: Record<string, AutoAllocationRule>;
  lifetime?: Partial<LifetimeSettings>;
  port_reuse?: Partial<PortReuseSettings>;
}

/**
 * A process that owns an allocation. PID + start time name one process for the machine's uptime,
 * and the boot id names the boot (older states have none of the optional fields).
 */
export interface ProcessOwner {
  kind: 'process';
  pid: number;
  startTime: string | null;
  command?: string;
  /** Styxy found the owner itself (no --pid): a reservation grace applies when it ends. */
  detected?: true;
  /** /proc/sys/kernel/random/boot_id, or `boottime:<seconds>` where there is no /proc. */
  bootId?: string;
  /** Set when this process, a listener on the port, took over from an owner that had ended. */
  adoptedAt?: string;
  /** The owner has ended and nothing listened: the allocation is kept until this time. */
  reservedUntil?: string;
  /** The owner is a `styxy run` (absent in states written before it was recorded). */
  via?: 'run';
}

export type Owner =
  | ProcessOwner
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
  /** The caller named the instance id: the allocation is sticky and its port becomes its home. */
  sticky?: true;
}

/** A port that was released or pruned, with who held it and when: the cool-down and home-port memory. */
export interface FreedPort {
  port: number;
  serviceType: string;
  instanceId: string;
  project: string;
  /** The holder was sticky (asked with an instance id): the port is its home. */
  sticky: boolean;
  freedAt: string;
}

export interface State {
  version: 1;
  allocations: Allocation[];
  /** Optional: states written before it existed load as if it were empty. */
  recentlyFreed?: FreedPort[];
}

export function emptyState(): State {
  return { version: 1, allocations: [] };
}

/** Own-property lookup, so that names like `constructor` never reach Object.prototype. */
export function ownValue<T>(record: Record<string, T>, key: string): T | undefined {
  return Object.prototype.hasOwnProperty.call(record, key) ? record[key] : undefined;
}
