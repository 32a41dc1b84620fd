import { builtInConfig } from '../../lib/core/defaults';
import type { Allocation, Config, Owner, ServiceType, State } from '../../lib/core/types';

/** In-memory builders for core tests: no disk, no clock. */
export const T0 = Date.parse('2026-01-01T00:00:00Z');

export function config(types: Record<string, Partial<ServiceType> & { port_range: [number, number] }> = {}): Config {
  const base = builtInConfig();
  return { ...base, service_types: types as Record<string, ServiceType> };
}

export function allocation(over: Partial<Allocation> & { port: number }): Allocation {
  return {
    lockId: `${over.serviceType ?? 'dev'}-${over.instanceId ?? `i${over.port}`}-aaaaaa`,
    serviceType: 'dev',
    instanceId: `i${over.port}`,
    project: '/p',
    owner: { kind: 'process', pid: 100, startTime: '5' } as Owner,
    allocatedAt: new Date(T0).toISOString(),
    ...over,
  };
}

export function state(...allocations: Allocation[]): State {
  return { version: 1, allocations };
}
