import path = require('path');
import { isStyxyError, StyxyError } from '../errors';
import { builtInConfig } from '../core/defaults';
import { describeSchemaErrors, findConfigProblems, mergeConfigLayers, type ConfigProblem, type MergedConfig, type NamedLayer } from '../core/config-rules';
import type { ConfigLayer } from '../core/types';
import { writeFailure, writeFileAtomic } from './atomic-write';
import { backupConfig } from './backups';
import { findDocsPathProblem } from './port-docs';
import { seam } from './fs-seam';
import { CONFIG_MAX_BYTES, FileTooLarge, readTextCapped } from './read-capped';
import { checkFileSafety } from './home';
import type { StyxyPaths } from './paths';
import { validateConfigShape } from './validators';
import { findJsonSyntaxProblems } from '../core/json-syntax';
import { findStackProblems } from '../core/stack';

export const BUILT_IN = 'built-in defaults';
export const PROJECT_CONFIG_NAME = '.styxy.json';

export interface LoadedConfig extends MergedConfig {
  projectFile: string | null;
  userFile: string | null;
  /** The user's config.json as written, for rewriting it without losing a line. */
  userLayer: ConfigLayer | null;
  projectLayer: ConfigLayer | null;
}

/** The nearest `.styxy.json` from `cwd` upward, or null. */
export function findProjectConfig(cwd: string): string | null {
  let dir = path.resolve(cwd);
  for (;;) {
    const candidate = path.join(dir, PROJECT_CONFIG_NAME);
    try {
      if (seam.statSync(candidate, { throwIfNoEntry: false })?.isFile()) return candidate;
    } catch {
      /* unreadable: keep looking */
    }
    const parent = path.dirname(dir);
    if (parent === dir) return null;
    dir = parent;
  }
}

/**
 * Reads and checks one config file: JSON syntax, then the schema (every problem at once).
 * Returns null when the file does not exist.
 */
export function readConfigLayer(file: string, mustBeSafe: boolean): { layer: ConfigLayer | null; problems: ConfigProblem[] } {
  if (mustBeSafe) {
    if (!checkFileSafety(file)) return { layer: null, problems: [] };
  }
  let text: string;
  try {
    text = readTextCapped(file, CONFIG_MAX_BYTES);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { layer: null, problems: [] };
    if (err instanceof FileTooLarge) return { layer: null, problems: [{ file, path: '/', message: `too large: ${err.reason}` }] };
    const unreadable = isStyxyError(err) && err.code === 'UNSAFE_HOME';
    return {
      layer: null,
      problems: [{ file, path: '/', message: unreadable ? `cannot read: permission denied (chmod u+rw ${file})` : `cannot read: ${(err as Error).message}` }],
    };
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return { layer: null, problems: describeSyntaxProblems(file, text) };
  }
  const errors = validateConfigShape(data);
  if (errors.length > 0) return { layer: null, problems: describeSchemaErrors(file, errors) };
  return { layer: data as ConfigLayer, problems: [] };
}

/**
 * Every JSON syntax problem of a file, by line and column, never quoting it (the file may be a
 * secret linked in place of a config). When only trailing commas are wrong, the file is also
 * checked against the schema without them, so that one run names every problem.
 */
function describeSyntaxProblems(file: string, text: string): ConfigProblem[] {
  const report = findJsonSyntaxProblems(text);
  const problems: ConfigProblem[] = report.problems.map((p) => ({ file, path: '/', line: p.line, column: p.column, message: `not valid JSON: ${p.message}` }));
  if (report.repaired !== null) {
    try {
      problems.push(...describeSchemaErrors(file, validateConfigShape(JSON.parse(report.repaired))));
    } catch {
      /* the scan and the parser disagree: its problems stand alone */
    }
  }
  return problems;
}

/**
 * The effective config: built-in defaults ← project `.styxy.json` ← `$STYXY_HOME/config.json`.
 * Any problem in any layer stops the command with INVALID_CONFIG naming each file and JSON path.
 */
export function loadConfig(paths: StyxyPaths, cwd: string): LoadedConfig {
  const projectFile = findProjectConfig(cwd);
  const project = projectFile ? readConfigLayer(projectFile, false) : { layer: null, problems: [] };
  const user = readConfigLayer(paths.config, true);
  const problems = [...project.problems, ...user.problems];
  if (problems.length > 0) throw invalidConfig(problems);
  return buildEffectiveConfig(paths, projectFile, project.layer, user.layer);
}

/** The effective config for a command that can do without it, and the problems it skipped. */
export interface TolerantConfig {
  config: LoadedConfig;
  /** Empty when the config is valid; else INVALID_CONFIG's problems, each file that has one left out. */
  problems: ConfigProblem[];
}

/**
 * For commands that need only the state (list, check, scan, release, cleanup): a config with a
 * problem does not stop them. The layers with a problem are left out (all of them, down to the
 * built-in defaults, when the problem lies in how they combine), and the problems returned so
 * that the caller can warn.
 */
export function loadConfigTolerant(paths: StyxyPaths, cwd: string): TolerantConfig {
  try {
    return { config: loadConfig(paths, cwd), problems: [] };
  } catch (err) {
    if (!(err instanceof StyxyError) || err.code !== 'INVALID_CONFIG') throw err;
    const problems = (err.details?.problems ?? []) as ConfigProblem[];
    const broken = new Set(problems.map((p) => p.file));
    const projectFile = findProjectConfig(cwd);
    const project = projectFile && !broken.has(projectFile) ? readConfigLayer(projectFile, false).layer : null;
    const user = broken.has(paths.config) ? null : readConfigLayer(paths.config, true).layer;
    try {
      return { config: buildEffectiveConfig(paths, project ? projectFile : null, project, user), problems };
    } catch {
      return { config: buildEffectiveConfig(paths, null, null, null), problems };
    }
  }
}

/**
 * Merges the project and user layers over the built-in defaults and checks their meaning;
 * throws INVALID_CONFIG naming every problem. Used for what is on disk and for a config about
 * to be written alike, so nothing invalid is ever written.
 */
export function buildEffectiveConfig(
  paths: StyxyPaths,
  projectFile: string | null,
  projectLayer: ConfigLayer | null,
  userLayer: ConfigLayer | null,
): LoadedConfig {
  const layers: NamedLayer[] = [];
  if (projectFile && projectLayer) layers.push({ file: projectFile, layer: projectLayer });
  if (userLayer) layers.push({ file: paths.config, layer: userLayer });
  const merged = mergeConfigLayers(builtInConfig(), BUILT_IN, layers);
  const problems = [...findPathProblems(paths, projectFile, projectLayer, userLayer), ...merged.problems, ...findConfigProblems(merged)];
  if (problems.length > 0) throw invalidConfig(problems);
  return { ...merged, projectFile, userFile: userLayer ? paths.config : null, userLayer, projectLayer };
}

/**
 * A project file (from a cloned repository, say) may set service types and rules, never a path
 * Styxy writes to (the user's own config.json may, within $STYXY_HOME), nor how long
 * allocations live: the state is shared by every project, so one repository's lifetime settings
 * would decide the fate of everyone else's allocations. A stack's `services` belong to a
 * project alone, and each `cwd` in them stays inside it.
 */
function findPathProblems(paths: StyxyPaths, projectFile: string | null, projectLayer: ConfigLayer | null, userLayer: ConfigLayer | null): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  const at = '/auto_allocation/port_docs_path';
  const fromProject = projectLayer?.auto_allocation?.port_docs_path;
  if (projectFile && typeof fromProject === 'string') {
    problems.push({
      file: projectFile,
      path: at,
      message: `a project's ${PROJECT_CONFIG_NAME} may not set port_docs_path (a file Styxy writes); set it in your own ${paths.config}`,
    });
  }
  if (projectFile && projectLayer?.lifetime !== undefined) {
    problems.push({
      file: projectFile,
      path: '/lifetime',
      message: `a project's ${PROJECT_CONFIG_NAME} may not set lifetime (it governs every project's allocations); set it in your own ${paths.config}`,
    });
  }
  if (projectFile && projectLayer?.services) problems.push(...findStackProblems(projectLayer.services, projectFile));
  if (userLayer?.name !== undefined) {
    problems.push({
      file: paths.config,
      path: '/name',
      message: `name is a project's own (it derives the project's ports): put it in that project's ${PROJECT_CONFIG_NAME}, not in ${paths.config}`,
    });
  }
  if (userLayer?.services !== undefined) {
    problems.push({
      file: paths.config,
      path: '/services',
      message: `services describe one project's stack: put them in that project's ${PROJECT_CONFIG_NAME}, not in ${paths.config}`,
    });
  }
  const fromUser = userLayer?.auto_allocation?.port_docs_path;
  const problem = typeof fromUser === 'string' ? findDocsPathProblem(paths, fromUser) : null;
  if (problem) problems.push({ file: paths.config, path: at, message: problem });
  return problems;
}

export function invalidConfig(problems: ConfigProblem[]): StyxyError {
  const named = problems.map((p) => ({ ...p, layer: layerOf(p.file) }));
  const files = [...new Set(problems.map((p) => p.file))];
  const fixable = files.filter((f) => f !== BUILT_IN);
  return new StyxyError('INVALID_CONFIG', `Invalid config:\n${describeProblems(problems).join('\n')}`, {
    details: { problems: named, files },
    suggestions: fixable.length ? [`Fix ${fixable.join(', ')} and check it with: styxy config validate`] : [],
  });
}

/** One line per problem: file (and line:column for a syntax error), layer, JSON path, what. */
export function describeProblems(problems: ConfigProblem[]): string[] {
  return problems.map((p) => {
    const layer = layerOf(p.file);
    return p.line !== undefined ? `${p.file}:${p.line}:${p.column} (${layer}): ${p.message}` : `${p.file} (${layer}): ${p.path}: ${p.message}`;
  });
}

/** Which layer a problem's file is: the built-in defaults, a project's .styxy.json or the user's config. */
function layerOf(file: string): 'built-in defaults' | 'project config' | 'user config' {
  if (file === BUILT_IN) return 'built-in defaults';
  return path.basename(file) === PROJECT_CONFIG_NAME ? 'project config' : 'user config';
}

/** A rewrite of config.json that has happened but may still be undone. */
export interface ConfigWrite {
  backup: string | null;
  /** The file's previous text, or null when there was none. */
  previous: string | null;
}

/**
 * Rewrites the user's config.json (backup first), keeping every key the user had. The layer is
 * checked against the schema first, so nothing invalid is ever written. When any step fails, the
 * file and the backups are left as they were.
 */
export function writeUserConfig(paths: StyxyPaths, layer: ConfigLayer, now: number): ConfigWrite {
  const errors = validateConfigShape(layer);
  if (errors.length > 0) throw invalidConfig(describeSchemaErrors(paths.config, errors));
  const previous = readTextIfAny(paths.config);
  let backup: string | null = null;
  try {
    backup = backupConfig(paths, now);
    writeFileAtomic(paths.config, `${JSON.stringify(layer, null, 2)}\n`);
  } catch (err) {
    try {
      undoConfigWrite(paths, { backup, previous }, true);
    } catch {
      /* the old text stays in the backup */
    }
    throw writeFailure(paths.config, err);
  }
  return { backup, previous };
}

/**
 * Puts config.json back as it was before `write`, then drops the backup that write made (kept
 * when the file cannot be put back, so the old text is never lost). With `ifChanged`, the file is
 * rewritten only when its text differs (the failure may have come before the rename).
 */
export function undoConfigWrite(paths: StyxyPaths, write: ConfigWrite, ifChanged = false): void {
  const current = readTextIfAny(paths.config);
  if (!ifChanged || current !== write.previous) {
    if (write.previous === null) removeQuietly(paths.config);
    else writeFileAtomic(paths.config, write.previous);
  }
  if (write.backup) removeQuietly(write.backup);
}

function readTextIfAny(file: string): string | null {
  try {
    return seam.readFileSync(file, 'utf8') as string;
  } catch {
    return null;
  }
}

function removeQuietly(file: string): void {
  try {
    seam.unlinkSync(file);
  } catch {
    /* already gone */
  }
}
