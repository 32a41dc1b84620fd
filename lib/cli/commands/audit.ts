import { StyxyError } from '../../errors';
import { JSON_OPTION, context, present, type CommonArgs } from '../command-kit';
import { declare, type OptionSpecs, type StyxyCommand } from '../command-spec';
import { printLine, shown } from '../output';

interface AuditArgs extends CommonArgs {
  action?: string;
  'service-type'?: string;
  limit?: string;
}

const options = {
  action: { alias: ['a'], type: 'string', describe: 'Only this action (allocate, release, prune, auto-allocate, undo-auto-allocation, config-set, ...)' },
  'service-type': { alias: ['s', 'service'], type: 'string', describe: 'Only events about this service type' },
  limit: { type: 'string', describe: 'Show the newest N matching events (default 20; 0 for all)' },
  json: JSON_OPTION,
} satisfies OptionSpecs;

/** Keys shown in the first columns; the rest of an event follows as key=value. */
const SHOWN = new Set(['timestamp', 'action', 'serviceType', 'user', 'pid']);

export const auditCommand: StyxyCommand<AuditArgs> = {
  name: 'audit',
  command: 'audit',
  describe: 'Show the audit log: every change to allocations and config, oldest first',
  options,
  positionals: [],
  builder: (yargs) =>
    declare(yargs, auditCommand)
      .example('$0 audit --action auto-allocate', 'Which types got a range of their own, and where')
      .example('$0 audit -s grafana --limit 5 --json', 'The last five events about grafana as JSON'),
  handler: async (args) => {
    const limit = args.limit === undefined ? undefined : /^[0-9]{1,7}$/.test(args.limit) ? Number(args.limit) : NaN;
    if (Number.isNaN(limit)) throw new StyxyError('INVALID_ARGUMENT', `--limit ${JSON.stringify(args.limit)} is not a whole number`);
    const { runAudit } = await import('../../app/audit');
    await present(
      args,
      () =>
        runAudit(context(), {
          ...(args.action !== undefined && { action: args.action }),
          ...(args['service-type'] !== undefined && { serviceType: args['service-type'] }),
          ...(limit !== undefined && { limit }),
        }),
      (r) => {
        if (r.events.length === 0) return printLine('No matching audit events.');
        for (const e of r.events) {
          const rest = Object.entries(e)
            .filter(([k]) => !SHOWN.has(k))
            .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
            .join(' ');
          printLine(shown(`${e.timestamp}  ${e.action.padEnd(20)} ${(e.serviceType ?? '-').padEnd(16)} ${rest}  (${String(e.user)}, pid ${String(e.pid)})`));
        }
        if (r.matched > r.events.length) printLine(`(${r.matched - r.events.length} older matching events not shown; --limit 0 shows all)`);
      },
    );
  },
};
