import { JSON_OPTION, context, present, type CommonArgs } from '../../command-kit';
import { declare, type OptionSpecs, type StyxyCommand } from '../../command-spec';
import { printLine, shown } from '../../output';

interface ValidateArgs extends CommonArgs {
  file?: string;
}

const options = { json: JSON_OPTION } satisfies OptionSpecs;

export const configValidateCommand: StyxyCommand<ValidateArgs> = {
  name: 'validate',
  command: 'validate [file]',
  describe: 'Check a config file, or every config file in force',
  options,
  positionals: [{ name: 'file', required: false, describe: 'A config file to check (default: all layers in force)' }],
  builder: (yargs) =>
    declare(yargs, configValidateCommand)
      .example('$0 config validate', 'Check .styxy.json and config.json')
      .example('$0 config validate team.json', 'Check a file before installing it'),
  handler: async (args) => {
    const { runConfigValidate } = await import('../../../app/config');
    await present(
      args,
      () => runConfigValidate(context(), args.file),
      (r) => printLine(r.files.length ? `Valid: ${shown(r.files.join(', '))}` : 'Valid (no config files; built-in defaults only).'),
    );
  },
};
