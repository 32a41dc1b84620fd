import fs = require('fs');
import path = require('path');
import { StyxyError } from '../errors';
import { applySetting } from '../core/config-keys';
import type { Config } from '../core/types';
import { buildEffectiveConfig, findProjectConfig, invalidConfig, loadConfig, PROJECT_CONFIG_NAME, readConfigLayer } from '../store/config-files';
import { ensureHome } from '../store/home';
import type { TransactionContext } from '../store/transaction';
import { withTransaction } from '../store/transaction';

export interface ConfigShowResult {
  success: true;
  config: Config;
  files: { project: string | null; user: string | null };
}

/** `styxy config show`: the effective config, every layer merged. Reads without the lock. */
export function runConfigShow(ctx: TransactionContext): ConfigShowResult {
  ensureHome(ctx.paths);
  const loaded = loadConfig(ctx.paths, ctx.cwd);
  return { success: true, config: loaded.config, files: { project: loaded.projectFile, user: loaded.userFile } };
}

export interface ConfigValidateResult {
  success: true;
  valid: true;
  files: string[];
}

/**
 * `styxy config validate [FILE]`: one file checked as a layer over the built-in defaults, or
 * every layer in force.
 */
export function runConfigValidate(ctx: TransactionContext, file?: string): ConfigValidateResult {
  if (file === undefined) {
    ensureHome(ctx.paths);
    const loaded = loadConfig(ctx.paths, ctx.cwd);
    return { success: true, valid: true, files: [loaded.projectFile, loaded.userFile].filter((f): f is string => f !== null) };
  }
  const absolute = path.resolve(ctx.cwd, file);
  const read = readConfigLayer(absolute, false);
  if (read.problems.length > 0) throw invalidConfig(read.problems);
  if (!read.layer) throw new StyxyError('NOT_FOUND', `No such file: ${absolute}`);
  // A file named like a project's is checked as one (it may not set paths).
  if (path.basename(absolute) === PROJECT_CONFIG_NAME) buildEffectiveConfig(ctx.paths, absolute, read.layer, null);
  else buildEffectiveConfig({ ...ctx.paths, config: absolute }, null, null, read.layer);
  return { success: true, valid: true, files: [absolute] };
}

export interface ConfigPathResult {
  success: true;
  home: string;
  config: string;
  configExists: boolean;
  project: string | null;
  state: string;
  audit: string;
}

export function runConfigPath(ctx: TransactionContext): ConfigPathResult {
  const { paths } = ctx;
  let configExists = true;
  try {
    fs.statSync(paths.config);
  } catch {
    configExists = false;
  }
  return { success: true, home: paths.home, config: paths.config, configExists, project: findProjectConfig(ctx.cwd), state: paths.state, audit: paths.audit };
}

export interface ConfigSetResult {
  success: true;
  key: string;
  path: string;
  value: unknown;
  previous: unknown;
  file: string;
  backup: string | null;
}

/**
 * `styxy config set <key> <value>`: changes one setting in the user's config.json, under the
 * lock, after checking that the config as a whole stays valid; the old file is backed up first.
 */
export async function runConfigSet(ctx: TransactionContext, key: string, value: string): Promise<ConfigSetResult> {
  const commit = await withTransaction(ctx, ({ config }) => {
    const outcome = applySetting(config.config, config.userLayer, key, value);
    if (outcome.kind === 'rejected') throw new StyxyError(outcome.code, outcome.message, { suggestions: outcome.suggestions });
    // config.json applies in every directory, so it must stand without this project's layer.
    try {
      buildEffectiveConfig(ctx.paths, null, null, outcome.layer);
    } catch (err) {
      if (config.projectFile === null) throw err;
      throw new StyxyError('INVALID_ARGUMENT', `${key} would make ${ctx.paths.config} depend on ${config.projectFile}; change it in that file instead`, {
        details: { problems: (err as StyxyError).details?.problems },
        suggestions: [`Edit ${config.projectFile}`],
      });
    }
    if (config.projectFile !== null) buildEffectiveConfig(ctx.paths, config.projectFile, config.projectLayer, outcome.layer);
    return {
      result: { success: true as const, key, path: outcome.path, value: outcome.value, previous: outcome.previous, file: ctx.paths.config },
      userConfig: outcome.layer,
      audit: [{ action: 'config-set', key, path: outcome.path, value: outcome.value, previous: outcome.previous }],
    };
  });
  return { ...commit.result, backup: commit.configBackup };
}
