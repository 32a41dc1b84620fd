import type { Listener } from '../../os/ports';
import { JSON_OPTION, context, portArg, present, type CommonArgs } from '../command-kit';
import { declare, type OptionSpecs, type StyxyCommand } from '../command-spec';
import { printLine, shown } from '../output';

interface CheckArgs extends CommonArgs {
  port: string;
}

export function describeListener(l: Listener): string {
  return shown(`${l.address}:${l.port}${l.pid ? ` by PID ${l.pid}${l.command ? ` (${l.command})` : ''}` : ''}`);
}

const options = { json: JSON_OPTION } satisfies OptionSpecs;

export const checkCommand: StyxyCommand<CheckArgs> = {
  name: 'check',
  command: 'check <port>',
  describe: 'Tell who holds a port: a Styxy allocation, a listening process, or nobody',
  options,
  positionals: [{ name: 'port', required: true, describe: 'Port number' }],
  builder: (yargs) => declare(yargs, checkCommand).example('$0 check 3000', 'Is 3000 free?'),
  handler: async (args) => {
    const port = portArg(args.port, 'port');
    const { runCheck } = await import('../../app/ports-report');
    const { describeOwner } = await import('../../app/owner');
    await present(
      args,
      () => runCheck(context(), port),
      (r) => {
        if (r.available) return printLine(`Port ${r.port} is available.`);
        if (r.allocation) {
          printLine(`Port ${r.port} is allocated to ${r.allocation.serviceType} instance '${r.allocation.instanceId}' (lock ${r.allocation.lockId}).`);
          printLine(`Owner: ${shown(describeOwner(r.allocation.owner, r.ownerHostPid))}`);
        } else printLine(`Port ${r.port} is not allocated by Styxy.`);
        if (r.listeners.length > 0) for (const l of r.listeners) printLine(`Listening: ${describeListener(l)}`);
        else if (r.listening) printLine('Something holds it (the OS refuses to bind it).');
        else printLine('Nothing listens on it.');
      },
    );
  },
};
