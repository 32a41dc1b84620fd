import { JSON_OPTION, context, present, type CommonArgs } from '../command-kit';
import { declare, type OptionSpecs, type StyxyCommand } from '../command-spec';
import { printLine } from '../output';

interface CleanupArgs extends CommonArgs {
  force?: boolean;
}

const options = {
  force: { type: 'boolean', describe: 'Also drop every allocation whose port nobody listens on, whoever owns it' },
  json: JSON_OPTION,
} satisfies OptionSpecs;

export const cleanupCommand: StyxyCommand<CleanupArgs> = {
  name: 'cleanup',
  command: 'cleanup',
  describe: 'Drop allocations whose owner has ended (every command does this too)',
  options,
  positionals: [],
  builder: (yargs) => declare(yargs, cleanupCommand)
      .example('$0 cleanup --force', 'Forget every allocation that is not actually serving') as never,
  handler: async (args) => {
    const { runCleanup } = await import('../../app/cleanup');
    await present(
      args,
      () => runCleanup(context(), { force: Boolean(args.force) }),
      (r) => {
        for (const a of r.pruned) printLine(`Dropped port ${a.port} (${a.serviceType}/${a.instanceId}): owner ended`);
        for (const a of r.unused) printLine(`Dropped port ${a.port} (${a.serviceType}/${a.instanceId}): nothing listening`);
        if (r.pruned.length + r.unused.length === 0) printLine('Nothing to clean up.');
      },
    );
  },
};
