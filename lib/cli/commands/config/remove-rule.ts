import { JSON_OPTION, context, present, type CommonArgs } from '../../command-kit';
import { declare, type OptionSpecs, type StyxyCommand } from '../../command-spec';
import { printRuleChange } from './rule-options';

interface RemoveRuleArgs extends CommonArgs {
  pattern: string;
}

const options = { json: JSON_OPTION } satisfies OptionSpecs;

export const removeRuleCommand: StyxyCommand<RemoveRuleArgs> = {
  name: 'remove-rule',
  command: 'remove-rule <pattern>',
  describe: "Remove a rule from the user's config.json",
  options,
  positionals: [{ name: 'pattern', required: true }],
  builder: (yargs) => declare(yargs, removeRuleCommand).example("$0 config auto-allocation remove-rule 'database-*'", 'Drop the rule'),
  handler: async (args) => {
    const { runRemoveRule } = await import('../../../app/auto-config');
    await present(args, () => runRemoveRule(context(), String(args.pattern)), printRuleChange);
  },
};
