import { JSON_OPTION, context, present, type CommonArgs } from '../../command-kit';
import { declare, type OptionSpecs, type StyxyCommand } from '../../command-spec';
import { RULE_OPTIONS, printRuleChange, ruleTexts, type RuleOptionArgs } from './rule-options';

interface SetRuleArgs extends CommonArgs, RuleOptionArgs {
  pattern: string;
}

const options = { json: JSON_OPTION, ...RULE_OPTIONS } satisfies OptionSpecs;

export const setRuleCommand: StyxyCommand<SetRuleArgs> = {
  name: 'set-rule',
  command: 'set-rule <pattern>',
  describe: 'Add a rule for types matching a glob, or change one (a new rule goes last; first match wins)',
  options,
  positionals: [{ name: 'pattern', required: true, describe: 'A minimatch glob over type names, like database-*' }],
  builder: (yargs) =>
    declare(yargs, setRuleCommand)
      .example("$0 config auto-allocation set-rule 'database-*' --chunk-size 5 --preferred-range-start 5400", 'Databases get 5 ports near 5400')
      .example("$0 config auto-allocation set-rule 'llm-*' --instance-behavior single", 'Every new llm-* type runs once'),
  handler: async (args) => {
    const { runSetRule } = await import('../../../app/auto-config');
    await present(args, () => runSetRule(context(), String(args.pattern), ruleTexts(args)), printRuleChange);
  },
};
