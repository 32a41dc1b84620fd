import type { ListedAllocation, ListInput } from '../../app/list';
import { printBare } from '../allocation-output';
import { context, present, type CommonArgs } from '../command-kit';
import { declare, outputOptions, type OptionSpecs, type StyxyCommand } from '../command-spec';
import { bold, dim, portsText, printLine, shown, type OutputFormat } from '../output';

interface ListArgs extends CommonArgs {
  'service-type'?: string;
  verbose?: boolean;
  project?: string;
}

/** `list` has `port` (one a line, for a script's loop) but no env formats: it hands nothing out. */
const LIST_FORMATS: readonly OutputFormat[] = ['json', 'port'];

const options = {
  'service-type': { alias: ['s', 'service'], type: 'string', describe: 'Only this service type' },
  project: {
    type: 'string',
    optionalValue: true,
    describe: "Only this project's allocations (alone: the project here, its git top level or worktree; or a directory)",
  },
  verbose: { alias: ['v'], type: 'boolean', describe: 'Also show the server and owner (whole command lines), project, session and time' },
  ...outputOptions(LIST_FORMATS),
} satisfies OptionSpecs;

async function listHandler(args: ListArgs, here: boolean): Promise<void> {
  const { runList } = await import('../../app/list');
  const { describeOwner } = await import('../../app/owner');
  const { describeUser } = await import('../../core/permissions');
  const project = args.project ?? (here ? '' : undefined);
  const input: ListInput = {
    ...(args['service-type'] !== undefined && { serviceType: args['service-type'] }),
    ...(project !== undefined && { project }),
    ...(args.verbose && { verbose: true }),
  };
  await present(
    args,
    () => runList(context(), input),
    (result) => {
      if (printBare(result.allocations, args)) return;
      if (result.allocations.length === 0)
        return printLine(result.project !== undefined ? `No live allocations in ${shown(result.project)}.` : 'No live allocations.');
      const labels = result.allocations.some((a) => a.label !== undefined);
      // Whose each is, once there is more than one user's (a shared home: docs/shared-machines.md).
      const users = new Set(result.allocations.map((a) => a.user?.uid)).size > 1;
      const rows = result.allocations.map((a) => {
        const row = [portsText(a), a.serviceType + (a.singleInstance ? ' [single]' : ''), a.instanceId, a.lockId];
        if (users) row.push(describeUser(a.user));
        if (labels) row.push(a.label ?? '');
        return row.map(shown);
      });
      const head = ['PORT', 'TYPE', 'INSTANCE', 'LOCK ID', ...(users ? ['USER'] : []), ...(labels ? ['LABEL'] : [])];
      const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
      const fmt = (r: string[]) =>
        r
          .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
          .join('  ')
          .trimEnd();
      printLine(bold(fmt(head)));
      result.allocations.forEach((a, i) => {
        printLine(fmt(rows[i] as string[]));
        if (args.verbose) for (const line of details(a, describeOwner, describeUser)) printLine(line);
      });
      if (result.allocations.some((a) => a.singleInstance)) printLine(dim('[single]: single-instance type; every allocate returns this allocation'));
    },
  );
}

/** `list -v`'s lines under an allocation: whole command lines, wrapped to the terminal, never cut. */
function details(
  a: ListedAllocation,
  describeOwner: (owner: ListedAllocation['owner'], hostPid?: number, command?: string) => string,
  describeUser: (user: ListedAllocation['user']) => string,
): string[] {
  const fields: [string, string][] = [];
  if (a.server)
    fields.push(['server', `PID ${a.server.pid}${a.server.command ? ` (${a.server.command})` : ''}${a.server.user ? `, user ${a.server.user}` : ''}`]);
  const via = a.owner.kind === 'process' && a.owner.via === 'run' ? 'styxy run ' : '';
  const note = a.ownerNote ? `; ${a.ownerNote}` : '';
  const command = a.ownerProcess?.command ?? (a.owner.kind === 'process' ? a.owner.command : undefined);
  fields.push(['owner', via + describeOwner(a.owner, a.ownerHostPid, command) + note]);
  if (a.user) fields.push(['user', describeUser(a.user)]);
  fields.push(['project', a.project]);
  if (a.session !== undefined) fields.push(['session', a.session]);
  fields.push(['allocated', a.allocatedAt]);
  const width = process.stdout.isTTY && process.stdout.columns ? process.stdout.columns : 0;
  return fields.flatMap(([name, value]) => wrap(`  ${`${name}:`.padEnd(11)}`, shown(value), width));
}

/** Wraps `text` after `lead` to `width` columns (0: no wrapping), continuing under the text. */
function wrap(lead: string, text: string, width: number): string[] {
  const room = width - lead.length;
  if (width === 0 || room < 20 || text.length <= room) return [lead + text];
  const lines: string[] = [];
  for (let i = 0; i < text.length; i += room) lines.push((i === 0 ? lead : ' '.repeat(lead.length)) + text.slice(i, i + room));
  return lines;
}

export const listCommand: StyxyCommand<ListArgs> = {
  name: 'list',
  command: 'list',
  describe: 'List the live allocations (allocations of ended owners are dropped first)',
  options,
  positionals: [],
  formats: LIST_FORMATS,
  builder: (yargs) =>
    declare(yargs, listCommand)
      .example('$0 list -s dev -v', 'The dev allocations with their servers and owners')
      .example('$0 list --project', "This project's (or worktree's) allocations: the same as styxy here")
      .example('$0 list -s dev -q', 'The ports of the dev allocations, one a line'),
  handler: (args) => listHandler(args, false),
};

export const hereCommand: StyxyCommand<ListArgs> = {
  name: 'here',
  command: 'here',
  describe: "List this project's (or worktree's) live allocations: styxy list --project",
  options,
  positionals: [],
  formats: LIST_FORMATS,
  builder: (yargs) => declare(yargs, hereCommand).example('$0 here -v', "This worktree's ports, servers and owners"),
  handler: (args) => listHandler(args, true),
};
