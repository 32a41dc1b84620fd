import type { Allocation } from '../core/types';
import { findProjectRoot } from '../os/project';
import { loadConfigTolerant } from '../store/config-files';
import type { TransactionContext } from '../store/transaction';
import { runList } from './list';

export interface SessionStartResult {
  success: true;
  project: string;
  allocations: Allocation[];
}

/** What an agent's session starts with: the live allocations of the project `dir` belongs to. */
export async function runSessionStart(ctx: TransactionContext, dir: string): Promise<SessionStartResult> {
  const project = findProjectRoot(dir);
  const listed = await runList({ ...ctx, cwd: dir }, {});
  return { success: true, project, allocations: listed.allocations.filter((a) => a.project === project) };
}

/**
 * Whether the servers a session started outlive it: `STYXY_KEEP_SERVERS=1`, or `agents.keep_servers`
 * in the project's `.styxy.json` or the user's config.json (the user's wins).
 */
export function keepsServers(ctx: TransactionContext, dir: string, env: NodeJS.ProcessEnv): boolean {
  if (env.STYXY_KEEP_SERVERS !== undefined && env.STYXY_KEEP_SERVERS !== '') return env.STYXY_KEEP_SERVERS !== '0';
  return loadConfigTolerant(ctx.paths, dir).config.config.agents.keep_servers;
}

/**
 * SessionEnd: stops what the session started through Styxy, as `styxy stop --session` does
 * (owner-verified, the whole tree, never by name). What it cannot stop is left as it was.
 */
export async function runSessionEnd(ctx: TransactionContext, session: string): Promise<import('./stop').StopResult> {
  const { runStop } = await import('./stop');
  return runStop(ctx, { session });
}
