import { JSON_OPTION, context, present, type CommonArgs } from '../../command-kit';
import { declare, type OptionSpecs, type StyxyCommand } from '../../command-spec';
import { printLine, shown } from '../../output';

interface UndoAutoArgs extends CommonArgs {
  type?: string;
  force?: boolean;
}

const options = {
  json: JSON_OPTION,
  force: { type: 'boolean', describe: 'Also release its live allocations' },
} satisfies OptionSpecs;

export const undoAutoCommand: StyxyCommand<UndoAutoArgs> = {
  name: 'undo-auto-allocation',
  command: 'undo-auto-allocation [type]',
  aliases: ['undo-auto'],
  describe: 'Remove an auto-allocated service type (the newest when none is named) from config.json',
  options,
  positionals: [{ name: 'type', required: false, describe: 'The auto-allocated type (default: the newest)' }],
  builder: (yargs) =>
    declare(yargs, undoAutoCommand)
      .example('$0 config undo-auto grafana', "Take grafana's range back")
      .example('$0 config undo-auto-allocation --force', 'Undo the newest, releasing what uses it'),
  handler: async (args) => {
    const { runUndoAuto } = await import('../../../app/auto-config');
    await present(
      args,
      () => runUndoAuto(context(), { ...(args.type !== undefined && { serviceType: String(args.type) }), ...(args.force && { force: true }) }),
      (r) => {
        printLine(`Removed auto-allocated type '${r.serviceType}'${r.range ? ` (${r.range[0]}-${r.range[1]})` : ''} from ${shown(r.file)}`);
        for (const a of r.released) printLine(`  released ${a.lockId} (port ${a.port})`);
        if (r.backup) printLine(`Previous config saved as ${shown(r.backup)}`);
      },
    );
  },
};
