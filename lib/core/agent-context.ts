/**
 * What an agent is told when its session starts: how to start a server and how to ask who holds
 * a port on this machine, and what this project already runs. Pure.
 */

/** An allocation as the agent is told of it. */
export interface ContextAllocation {
  port: number;
  serviceType: string;
  instanceId: string;
  /** The owner in a few words (`PID 123`, `persistent`). */
  owner: string;
  session?: string;
}

/** The most allocations listed; the rest are counted. */
const LISTED = 20;

/** The text of SessionStart's `additionalContext`. */
export function describeAgentContext(allocations: readonly ContextAllocation[], styxy: string): string {
  const lines = [
    'Styxy coordinates local ports on this machine: other agents and people run servers here too.',
    `- Start a dev server with \`${styxy} start -s dev -n NAME -- npm run dev\`: it returns at once with the port, URL, PID and log file (a plain \`npm run dev\` is run that way for you).`,
    `- Ask who holds a port with \`${styxy} why PORT\`; stop a server with \`${styxy} stop PORT\`. Never kill by name or by port (no pkill, killall, or \`lsof -ti :PORT | xargs kill\`): the process may be another session's.`,
  ];
  if (allocations.length === 0) lines.push('This project has no live Styxy allocations.');
  else {
    lines.push('Live Styxy allocations of this project:');
    for (const a of allocations.slice(0, LISTED)) {
      lines.push(`  ${a.port}  ${a.serviceType}/${a.instanceId}  ${a.owner}${a.session ? `  session ${a.session}` : ''}`);
    }
    if (allocations.length > LISTED) lines.push(`  ... and ${allocations.length - LISTED} more (\`${styxy} list\`)`);
  }
  return lines.join('\n');
}
