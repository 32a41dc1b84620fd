import type { CommandModule } from 'yargs';
import type { Listener } from '../../os/ports';
import { JSON_OPTION, context, portArg, present, type CommonArgs } from '../command-kit';
import { printLine } from '../output';

interface CheckArgs extends CommonArgs {
  port: string;
}

export function describeListener(l: Listener): string {
  return `${l.address}:${l.port}${l.pid ? ` by PID ${l.pid}${l.command ? ` (${l.command})` : ''}` : ''}`;
}

export const checkCommand: CommandModule<object, CheckArgs> = {
  command: 'check <port>',
  describe: 'Tell who holds a port: a Styxy allocation, a listening process, or nobody',
  builder: (yargs) =>
    yargs
      .positional('port', { type: 'string', describe: 'Port number' })
      .option('json', JSON_OPTION)
      .example('$0 check 3000', 'Is 3000 free?') as never,
  handler: async (args) => {
    const port = portArg(args.port, 'port');
    const { runCheck } = await import('../../app/ports-report');
    await present(
      args,
      () => runCheck(context(), port),
      (r) => {
        if (r.available) return printLine(`Port ${r.port} is available.`);
        if (r.allocation) printLine(`Port ${r.port} is allocated to ${r.allocation.serviceType} instance '${r.allocation.instanceId}' (lock ${r.allocation.lockId}).`);
        else printLine(`Port ${r.port} is not allocated by Styxy.`);
        if (r.listeners.length > 0) for (const l of r.listeners) printLine(`Listening: ${describeListener(l)}`);
        else if (r.listening) printLine('Something holds it (the OS refuses to bind it).');
        else printLine('Nothing listens on it.');
      },
    );
  },
};
