import { JSON_OPTION, context, present, type CommonArgs } from '../command-kit';
import { declare, type OptionSpecs, type StyxyCommand } from '../command-spec';
import { bold, dim, printLine, shown } from '../output';

interface ListArgs extends CommonArgs {
  'service-type'?: string;
  verbose?: boolean;
}

const options = {
  'service-type': { alias: ['s', 'service'], type: 'string', describe: 'Only this service type' },
  verbose: { alias: ['v'], type: 'boolean', describe: 'Also show owner, project and time' },
  json: JSON_OPTION,
} satisfies OptionSpecs;

export const listCommand: StyxyCommand<ListArgs> = {
  name: 'list',
  command: 'list',
  describe: 'List the live allocations (allocations of ended owners are dropped first)',
  options,
  positionals: [],
  builder: (yargs) => declare(yargs, listCommand).example('$0 list -s dev -v', 'The dev allocations with their owners'),
  handler: async (args) => {
    const { runList } = await import('../../app/list');
    const { describeOwner } = await import('../../app/owner');
    await present(
      args,
      () => runList(context(), args['service-type'] !== undefined ? { serviceType: args['service-type'] } : {}),
      (result) => {
        if (result.allocations.length === 0) return printLine('No live allocations.');
        const rows = result.allocations.map((a) => {
          const row = [String(a.port), a.serviceType + (a.singleInstance ? ' [single]' : ''), a.instanceId, a.lockId];
          if (args.verbose) row.push(describeOwner(a.owner) + (a.ownerNote ? `; ${a.ownerNote}` : ''), a.project, a.allocatedAt);
          return row.map(shown);
        });
        const head = ['PORT', 'TYPE', 'INSTANCE', 'LOCK ID', ...(args.verbose ? ['OWNER', 'PROJECT', 'ALLOCATED'] : [])];
        const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
        const fmt = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0))).join('  ');
        printLine(bold(fmt(head)));
        for (const r of rows) printLine(fmt(r));
        if (result.allocations.some((a) => a.singleInstance)) printLine(dim('[single]: single-instance type; every allocate returns this allocation'));
      },
    );
  },
};
