import { loadConfig } from '../store/config-files';
import { resolvePaths } from '../store/paths';

/**
 * The service types of the effective config for `cwd`, sorted, for tab completion after
 * `-s`. None when the config cannot be read: a completion never prints an error into the line.
 */
export function configuredServiceTypes(env: NodeJS.ProcessEnv, cwd: string): string[] {
  try {
    return Object.keys(loadConfig(resolvePaths(env), cwd).config.service_types).sort();
  } catch {
    return [];
  }
}
