import { StyxyError } from '../../errors';
import { parseDuration, parsePort } from '../../core/names';
import type { StopOutcome, StopTarget } from '../../app/stop';
import { JSON_OPTION, context, present, type CommonArgs } from '../command-kit';
import { declare, type OptionSpecs, type StyxyCommand } from '../command-spec';
import { printLine, shown, warn } from '../output';

interface StopArgs extends CommonArgs {
  target?: string;
  'service-type'?: string;
  'instance-id'?: string;
  project?: string;
  all?: boolean;
  session?: string;
  force?: boolean;
  'dry-run'?: boolean;
  grace?: string;
}

const options = {
  'service-type': { alias: ['s', 'service'], type: 'string', describe: 'Stop by service type' },
  'instance-id': { alias: ['n', 'name'], type: 'string', describe: 'With -s: the instance to stop' },
  project: { type: 'string', describe: 'With -s: the project (default: git top level, else the current directory)' },
  all: { type: 'boolean', describe: 'With -s and no -n: every allocation of the type in the project' },
  session: { type: 'string', describe: 'Stop every allocation recorded with this session' },
  force: { type: 'boolean', describe: 'Also end a process Styxy cannot attribute (outside Styxy, another user): that exact tree only' },
  'dry-run': { type: 'boolean', describe: 'List what would be signalled; signal and release nothing' },
  grace: { type: 'string', describe: 'Time between SIGTERM and SIGKILL (default 5s), e.g. 2s, 1m' },
  json: JSON_OPTION,
} satisfies OptionSpecs;

export const stopCommand: StyxyCommand<StopArgs> = {
  name: 'stop',
  command: 'stop [target]',
  describe: 'End the process tree holding a port or an allocation (owner-verified, never by name), then release it',
  options,
  positionals: [{ name: 'target', required: false, describe: 'A port number or a lock id' }],
  builder: (yargs) =>
    declare(yargs, stopCommand)
      .example('$0 stop 3000', 'End the server of the allocation on port 3000 and release it')
      .example('$0 stop -s dev -n web --dry-run', 'Show which processes would be signalled')
      .example('$0 stop 3000 --force', 'End the process outside Styxy that listens on 3000 (that tree only)')
      .example('$0 stop --session claude-code:3f2a', "End everything a session started (the Claude Code hook's SessionEnd)"),
  handler: async (args) => {
    const target = targetOf(args);
    let graceMs: number | undefined;
    if (args.grace !== undefined) {
      const ms = parseDuration(args.grace);
      if (ms === null) throw new StyxyError('INVALID_ARGUMENT', `--grace must be a duration like 2s, 30s or 1m, got ${JSON.stringify(args.grace)}`);
      graceMs = ms;
    }
    const { runStop } = await import('../../app/stop');
    await present(
      args,
      () =>
        runStop(context(), target, { ...(args.force && { force: true }), ...(args['dry-run'] && { dryRun: true }), ...(graceMs !== undefined && { graceMs }) }),
      (r) => {
        for (const s of r.stopped) printLine(shown(describeOutcome(s, r.dryRun)));
        for (const f of r.refused) warn(`styxy: ${f.message} (${f.code})`);
        if (r.stopped.length === 0 && r.refused.length === 0) printLine('Nothing to stop.');
      },
    );
  },
};

function targetOf(args: StopArgs): StopTarget {
  const given = [args.target !== undefined, args['service-type'] !== undefined, args.session !== undefined].filter(Boolean).length;
  if (given !== 1) throw new StyxyError('INVALID_ARGUMENT', 'Name one thing to stop: a port, a lock id, -s TYPE [-n ID], or --session ID');
  if (args.session !== undefined) return { session: args.session };
  if (args['service-type'] !== undefined) {
    return {
      serviceType: args['service-type'],
      ...(args['instance-id'] !== undefined && { instanceId: args['instance-id'] }),
      ...(args.project !== undefined && { project: args.project }),
      ...(args.all && { all: true }),
    };
  }
  const text = String(args.target);
  if (/^[0-9]+$/.test(text)) {
    const port = parsePort(text);
    if (port === null) throw new StyxyError('INVALID_ARGUMENT', `port must be a number from 1 to 65535, got ${JSON.stringify(text)}`);
    return { port };
  }
  return { lockId: text };
}

function describeOutcome(s: StopOutcome, dryRun: boolean): string {
  const what = s.allocation ? `${s.allocation.serviceType}/${s.allocation.instanceId} on port ${s.port}` : `port ${s.port}`;
  const pids = s.processes.map((p) => `PID ${p.pid}${p.command ? ` (${p.command})` : ''}`).join(', ');
  if (dryRun) {
    const signal = pids ? `would signal ${pids}` : `would signal nothing (${s.note ?? 'nothing to end'})`;
    return `${what}: ${signal}${s.allocation ? `, then release ${s.allocation.lockId}` : ''}${pids && s.note ? `; ${s.note}` : ''}`;
  }
  const ended = s.processes.filter((p) => p.signals.length > 0);
  const killed = ended.filter((p) => p.signals.includes('SIGKILL')).map((p) => p.pid);
  const done =
    ended.length > 0
      ? `ended ${ended.map((p) => `PID ${p.pid}${p.command ? ` (${p.command})` : ''}`).join(', ')}${killed.length ? ` (SIGKILL after the grace: ${killed.join(', ')})` : ''}`
      : `nothing signalled${s.note ? ` (${s.note})` : ''}`;
  return `Stopped ${what}: ${done}${s.released ? '; released' : ''}${ended.length > 0 && s.note ? `; ${s.note}` : ''}.`;
}
