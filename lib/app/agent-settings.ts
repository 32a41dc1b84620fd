import fs = require('fs');
import path = require('path');
import type { ConfigLayer } from '../core/types';

/** What one file says about agents: only the keys it sets. */
type AgentSettings = NonNullable<ConfigLayer['agents']>;

/** The largest .styxy.json read here (the config's own limit). */
const MAX_BYTES = 4 * 1024 * 1024;

/**
 * The `agents` settings of the `.styxy.json` nearest `dir` upward, for the hook: read without the
 * schema or the config loader, which the hook does not load (the command it writes checks the
 * config in full, and says what is wrong). A file that is not there or not JSON says nothing.
 */
export function readAgentSettings(dir: string): AgentSettings {
  let at = path.resolve(dir);
  for (;;) {
    const file = path.join(at, '.styxy.json');
    const stat = fs.statSync(file, { throwIfNoEntry: false });
    if (stat?.isFile()) return stat.size > MAX_BYTES ? {} : agentsOf(file);
    const parent = path.dirname(at);
    if (parent === at) return {};
    at = parent;
  }
}

function agentsOf(file: string): AgentSettings {
  try {
    const agents = (JSON.parse(fs.readFileSync(file, 'utf8')) as { agents?: unknown }).agents;
    if (!agents || typeof agents !== 'object') return {};
    const { hook, keep_servers } = agents as Record<string, unknown>;
    return { ...(typeof hook === 'boolean' && { hook }), ...(typeof keep_servers === 'boolean' && { keep_servers }) };
  } catch {
    return {};
  }
}
