import { resolvePaths } from '../store/paths';
import { defaultContext, type AppContext } from './context';

/** What a caller of the Node API may set for one call; the rest is the CLI's context. */
export interface CallSettings {
  /** STYXY_HOME for this call. */
  home?: string;
  cwd?: string;
  warn?: (message: string, code?: string) => void;
  /** Gives up (ABORTED) when aborted before the call holds the lock. */
  signal?: AbortSignal;
  /** The most the call waits for the lock, in ms. */
  lockTimeoutMs?: number;
}

/** The CLI's context with the home, directory and warnings of one call from Node code. */
export function callContext(settings: CallSettings): AppContext {
  return {
    ...defaultContext(),
    ...(settings.home !== undefined && { paths: resolvePaths({ ...process.env, STYXY_HOME: settings.home }) }),
    ...(settings.cwd !== undefined && { cwd: settings.cwd }),
    ...(settings.warn !== undefined && { warn: settings.warn }),
    ...(settings.signal !== undefined && { signal: settings.signal }),
    ...(settings.lockTimeoutMs !== undefined && { lockTimeoutMs: settings.lockTimeoutMs }),
  };
}
