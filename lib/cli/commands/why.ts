import { WHY_EXIT_STATUS } from '../../core/holder';
import { JSON_OPTION, context, portArg, present, type CommonArgs } from '../command-kit';
import { declare, type OptionSpecs, type StyxyCommand } from '../command-spec';
import { printLine, shown } from '../output';

interface WhyArgs extends CommonArgs {
  port: string;
}

const options = { json: JSON_OPTION } satisfies OptionSpecs;

export const whyCommand: StyxyCommand<WhyArgs> = {
  name: 'why',
  command: 'why <port>',
  describe: 'Say what holds a port and what to do; exit 0 when free, 40 Styxy, 41-44 outside Styxy',
  options,
  positionals: [{ name: 'port', required: true, describe: 'Port number' }],
  builder: (yargs) =>
    declare(yargs, whyCommand)
      .example('$0 why 3000', 'Who holds 3000: a Styxy allocation, another process, a container, another user, or nobody')
      .example('$0 why 3000 --json', 'The same as one JSON document, with a stable "kind"'),
  handler: async (args) => {
    const port = portArg(args.port, 'port');
    const { runWhy } = await import('../../app/why');
    let status = 0;
    await present(
      args,
      async () => {
        const result = await runWhy(context(), port);
        status = WHY_EXIT_STATUS[result.kind];
        return result;
      },
      (r) => printLine(shown(r.summary)),
    );
    return status;
  },
};
