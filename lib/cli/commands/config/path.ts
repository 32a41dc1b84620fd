import { JSON_OPTION, context, present, type CommonArgs } from '../../command-kit';
import { declare, type OptionSpecs, type StyxyCommand } from '../../command-spec';
import { printLine, shown } from '../../output';

const options = { json: JSON_OPTION } satisfies OptionSpecs;

export const configPathCommand: StyxyCommand<CommonArgs> = {
  name: 'path',
  command: 'path',
  describe: "Print where Styxy's files are",
  options,
  positionals: [],
  builder: (yargs) => declare(yargs, configPathCommand).example('$0 config path', 'Where config.json lives'),
  handler: async (args) => {
    const { runConfigPath } = await import('../../../app/config');
    await present(
      args,
      () => runConfigPath(context()),
      (r) => {
        printLine(`config   ${shown(r.config)}${r.configExists ? '' : ' (not created yet)'}`);
        printLine(`project  ${shown(r.project ?? '(no .styxy.json found)')}`);
        printLine(`state    ${shown(r.state)}`);
        printLine(`audit    ${shown(r.audit)}`);
      },
    );
  },
};
