import { StyxyError } from '../errors';
import {
  autoAllocatedTypes,
  findRulePatternProblem,
  parseRuleFields,
  withRule,
  withoutRule,
  withoutServiceType,
  type RuleFieldTexts,
} from '../core/config-keys';
import { findNameProblem } from '../core/names';
import type { Allocation, AutoAllocationRule, AutoAllocationSettings } from '../core/types';
import { ownValue } from '../core/types';
import { readAudit, type AuditEvent } from '../store/audit-log';
import { buildEffectiveConfig, loadConfig, type LoadedConfig } from '../store/config-files';
import { ensureHome } from '../store/home';
import { withTransaction, type TransactionContext } from '../store/transaction';
import { runConfigSet, type ConfigSetResult } from './config';
import { withLiveState } from './context';

const RECENT = 10;

export interface AutoStatusResult {
  success: true;
  enabled: boolean;
  settings: AutoAllocationSettings;
  rules: ({ pattern: string } & AutoAllocationRule)[];
  /** The auto-allocated types in the config, newest first. */
  autoAllocated: { serviceType: string; range: [number, number] | null; at: string; by: string; rule: string | null }[];
  /** The latest auto-allocation events from the audit log, newest first. */
  recent: AuditEvent[];
  files: { project: string | null; user: string | null };
}

/** `styxy config auto-allocation status`: settings, rules, the types it created and the latest events. */
export function runAutoStatus(ctx: TransactionContext): AutoStatusResult {
  ensureHome(ctx.paths);
  const loaded = loadConfig(ctx.paths, ctx.cwd);
  const { config } = loaded;
  const recent = readAudit(ctx.paths)
    .filter((e) => e.action === 'auto-allocate' || e.action === 'undo-auto-allocation')
    .slice(-RECENT)
    .reverse();
  return {
    success: true,
    enabled: config.auto_allocation.enabled,
    settings: config.auto_allocation,
    rules: Object.entries(config.auto_allocation_rules).map(([pattern, rule]) => ({ pattern, ...rule })),
    autoAllocated: autoAllocatedTypes(loaded.userLayer).map(({ name, type }) => ({
      serviceType: name,
      range: type.port_range ?? null,
      at: type.auto_allocated.at,
      by: type.auto_allocated.by,
      rule: type.auto_allocated.rule ?? null,
    })),
    recent,
    files: { project: loaded.projectFile, user: loaded.userFile },
  };
}

/** `styxy config auto-allocation enable|disable`. */
export function runAutoEnable(ctx: TransactionContext, enabled: boolean): Promise<ConfigSetResult> {
  return runConfigSet(ctx, 'auto-allocation.enabled', String(enabled));
}

export interface RuleChangeResult {
  success: true;
  pattern: string;
  rule: AutoAllocationRule | null;
  previous: AutoAllocationRule | null;
  /** The rules in force afterwards, in the order they are matched. */
  order: string[];
  file: string;
  backup: string | null;
}

/** Checks that config.json stays valid on its own and with the project's layer; throws INVALID_CONFIG otherwise. */
function checkUserLayer(ctx: TransactionContext, loaded: LoadedConfig, layer: NonNullable<LoadedConfig['userLayer']>): LoadedConfig {
  buildEffectiveConfig(ctx.paths, null, null, layer);
  return buildEffectiveConfig(ctx.paths, loaded.projectFile, loaded.projectLayer, layer);
}

function checkPattern(pattern: string): void {
  const problem = findRulePatternProblem(pattern);
  if (problem) throw new StyxyError('INVALID_ARGUMENT', problem);
}

/**
 * `styxy config auto-allocation set-rule <pattern> ...`: adds a rule at the end of the user's
 * rules, or changes the given fields of an existing one in place.
 */
export async function runSetRule(ctx: TransactionContext, pattern: string, texts: RuleFieldTexts): Promise<RuleChangeResult> {
  checkPattern(pattern);
  const parsed = parseRuleFields(texts);
  if ('problem' in parsed) throw new StyxyError('INVALID_ARGUMENT', parsed.problem);
  const commit = await withTransaction(ctx, ({ config }) => {
    const { layer, previous } = withRule(config.userLayer, pattern, parsed.fields);
    const after = checkUserLayer(ctx, config, layer);
    const rule = ownValue(layer.auto_allocation_rules ?? {}, pattern) ?? null;
    return {
      result: { success: true as const, pattern, rule, previous, order: Object.keys(after.config.auto_allocation_rules), file: ctx.paths.config },
      userConfig: layer,
      audit: [{ action: 'set-rule', pattern, rule, previous }],
    };
  });
  return { ...commit.result, backup: commit.configBackup };
}

/** `styxy config auto-allocation remove-rule <pattern>`. */
export async function runRemoveRule(ctx: TransactionContext, pattern: string): Promise<RuleChangeResult> {
  checkPattern(pattern);
  const commit = await withTransaction(ctx, ({ config }) => {
    const removed = withoutRule(config.userLayer, pattern);
    if (!removed) {
      const elsewhere = config.projectLayer?.auto_allocation_rules && ownValue(config.projectLayer.auto_allocation_rules, pattern) !== undefined;
      throw new StyxyError(
        'NOT_FOUND',
        `No rule '${pattern}' in ${ctx.paths.config}${elsewhere ? `; it is set in ${config.projectFile}, edit it there` : ''}`,
        {
          suggestions: ['See the rules: styxy config auto-allocation status'],
        },
      );
    }
    const after = checkUserLayer(ctx, config, removed.layer);
    return {
      result: {
        success: true as const,
        pattern,
        rule: null,
        previous: removed.previous,
        order: Object.keys(after.config.auto_allocation_rules),
        file: ctx.paths.config,
      },
      userConfig: removed.layer,
      audit: [{ action: 'remove-rule', pattern, previous: removed.previous }],
    };
  });
  return { ...commit.result, backup: commit.configBackup };
}

export interface UndoAutoResult {
  success: true;
  serviceType: string;
  range: [number, number] | null;
  file: string;
  backup: string | null;
  /** With --force: the live allocations of the type that were released. */
  released: Allocation[];
}

/**
 * `styxy config undo-auto-allocation [T]`: removes an auto-allocated type (the named one, or the
 * newest) from config.json, backup first. Refuses while live allocations use it, unless `force`,
 * which releases them.
 */
export async function runUndoAuto(ctx: TransactionContext, input: { serviceType?: string; force?: boolean }): Promise<UndoAutoResult> {
  if (input.serviceType !== undefined) {
    const problem = findNameProblem(input.serviceType, 'service type');
    if (problem) throw new StyxyError('INVALID_ARGUMENT', problem);
  }
  const commit = await withLiveState(ctx, ({ config, state }) => {
    const candidates = autoAllocatedTypes(config.userLayer);
    const target = input.serviceType === undefined ? candidates[0] : candidates.find((c) => c.name === input.serviceType);
    if (!target) throw notAutoAllocated(ctx, config, input.serviceType);
    const name = target.name;
    const live = state.allocations.filter((a) => a.serviceType === name);
    if (live.length > 0 && !input.force) {
      throw new StyxyError(
        'CONFIRMATION_REQUIRED',
        `'${name}' has ${live.length} live allocation(s): ${live.map((a) => `${a.lockId} (port ${a.port})`).join(', ')}; nothing was changed`,
        {
          details: { serviceType: name, allocations: live },
          suggestions: [
            `Release them first (styxy release ${live.map((a) => a.lockId).join('; styxy release ')})`,
            `Or release them with the undo: styxy config undo-auto-allocation ${name} --force`,
          ],
        },
      );
    }
    const layer = withoutServiceType(config.userLayer ?? {}, name);
    checkUserLayer(ctx, config, layer);
    const range = target.type.port_range ?? null;
    return {
      result: { success: true as const, serviceType: name, range, file: ctx.paths.config, released: live },
      userConfig: layer,
      state: { ...state, allocations: state.allocations.filter((a) => a.serviceType !== name) },
      // Its allocations leave the state before the type leaves the config: a crash between leaves a home that holds together.
      stateFirst: true,
      audit: [
        ...live.map((a) => ({
          action: 'release',
          serviceType: a.serviceType,
          lockId: a.lockId,
          port: a.port,
          instanceId: a.instanceId,
          reason: 'undo-auto-allocation --force',
        })),
        { action: 'undo-auto-allocation', serviceType: name, range, autoAllocated: target.type.auto_allocated, released: live.map((a) => a.lockId) },
      ],
    };
  });
  return { ...commit.result, backup: commit.configBackup };
}

function notAutoAllocated(ctx: TransactionContext, config: LoadedConfig, name: string | undefined): StyxyError {
  if (name === undefined) return new StyxyError('NOT_FOUND', `No auto-allocated service types in ${ctx.paths.config}`);
  if (ownValue(config.config.service_types, name)) {
    const file = ownValue(config.rangeSources, name) ?? ctx.paths.config;
    return new StyxyError('INVALID_ARGUMENT', `'${name}' was not auto-allocated (it comes from ${file}); Styxy only undoes what it added`, {
      suggestions: [file === 'built-in defaults' ? 'Built-in types cannot be removed' : `Edit ${file} to remove it`],
    });
  }
  return new StyxyError('NOT_FOUND', `No service type '${name}'`, { suggestions: ['See the auto-allocated types: styxy config auto-allocation status'] });
}
