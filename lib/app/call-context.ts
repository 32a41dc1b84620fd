import { resolvePaths } from '../store/paths';
import { defaultContext, type AppContext } from './context';

/** What a caller of the Node API may set for one call; the rest is the CLI's context. */
export interface CallSettings {
  /** STYXY_HOME for this call. */
  home?: string;
  cwd?: string;
  warn?: (message: string) => void;
}

/** The CLI's context with the home, directory and warnings of one call from Node code. */
export function callContext(settings: CallSettings): AppContext {
  return {
    ...defaultContext(),
    ...(settings.home !== undefined && { paths: resolvePaths({ ...process.env, STYXY_HOME: settings.home }) }),
    ...(settings.cwd !== undefined && { cwd: settings.cwd }),
    ...(settings.warn !== undefined && { warn: settings.warn }),
  };
}
