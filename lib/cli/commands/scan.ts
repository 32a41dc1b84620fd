import { StyxyError } from '../../errors';
import { JSON_OPTION, context, portArg, present, type CommonArgs } from '../command-kit';
import { declare, type OptionSpecs, type StyxyCommand } from '../command-spec';
import { printLine, shown } from '../output';
import { describeListener } from './check';

interface ScanArgs extends CommonArgs {
  start?: string;
  end?: string;
}

const options = {
  start: { type: 'string', describe: 'First port (default 1024)' },
  end: { type: 'string', describe: 'Last port (default 65535)' },
  json: JSON_OPTION,
} satisfies OptionSpecs;

export const scanCommand: StyxyCommand<ScanArgs> = {
  name: 'scan',
  command: 'scan',
  describe: 'List the ports in a range that are allocated or listened on',
  options,
  positionals: [],
  builder: (yargs) => declare(yargs, scanCommand).example('$0 scan --start 3000 --end 3099', 'What holds the dev range'),
  handler: async (args) => {
    const start = args.start === undefined ? 1024 : portArg(args.start, '--start');
    const end = args.end === undefined ? 65535 : portArg(args.end, '--end');
    if (start > end) throw new StyxyError('INVALID_ARGUMENT', `--start ${start} is above --end ${end}`);
    const { runScan } = await import('../../app/ports-report');
    await present(
      args,
      () => runScan(context(), start, end),
      (r) => {
        if (r.ports.length === 0) return printLine(`Nothing allocated or listening in ${r.start}-${r.end}.`);
        for (const p of r.ports) {
          const parts = [String(p.port).padEnd(6)];
          parts.push(p.allocation ? `allocated: ${p.allocation.serviceType}/${p.allocation.instanceId}` : 'not allocated');
          if (p.compose)
            parts.push(shown(`compose: ${p.compose.project}/${p.compose.service}${p.compose.container ? ` (container ${p.compose.container})` : ''}`));
          if (p.listeners.length) parts.push(`listening: ${p.listeners.map(describeListener).join('; ')}`);
          else if (p.listening) parts.push('in use');
          printLine(parts.join('  '));
        }
      },
    );
  },
};
