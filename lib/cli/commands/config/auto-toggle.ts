import { JSON_OPTION, context, present, type CommonArgs } from '../../command-kit';
import { declare, type OptionSpecs, type StyxyCommand } from '../../command-spec';
import { printLine, shown } from '../../output';

const options = { json: JSON_OPTION } satisfies OptionSpecs;

/** `config auto-allocation enable` and `disable`: the same command but for the value it sets. */
function autoToggle(enable: boolean): StyxyCommand<CommonArgs> {
  const name = enable ? 'enable' : 'disable';
  const command: StyxyCommand<CommonArgs> = {
    name,
    command: name,
    describe: enable ? 'Give unknown service types a range of their own' : 'Refuse unknown service types (UNKNOWN_SERVICE_TYPE)',
    options,
    positionals: [],
    builder: (yargs) => declare(yargs, command).example(`$0 config auto-allocation ${name}`, enable ? 'Turn it on' : 'Turn it off'),
    handler: async (args) => {
      const { runAutoEnable } = await import('../../../app/auto-config');
      await present(
        args,
        () => runAutoEnable(context(), enable),
        (r) => {
          printLine(`Auto-allocation ${enable ? 'enabled' : 'disabled'} in ${shown(r.file)}${r.previous === enable ? ' (it already was)' : ''}`);
          if (r.backup) printLine(`Previous config saved as ${shown(r.backup)}`);
        },
      );
    },
  };
  return command;
}

export const autoEnableCommand = autoToggle(true);
export const autoDisableCommand = autoToggle(false);
