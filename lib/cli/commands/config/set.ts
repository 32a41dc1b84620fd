import { StyxyError } from '../../../errors';
import { SETTABLE_KEYS } from '../../../core/config-keys';
import { JSON_OPTION, context, present, type CommonArgs } from '../../command-kit';
import { declare, type OptionSpecs, type StyxyCommand } from '../../command-spec';
import { printLine, shown } from '../../output';
import { AUTO_RULE_KEY, RULE_OPTIONS, printRuleChange, ruleTexts, type RuleOptionArgs } from './rule-options';

interface SetArgs extends CommonArgs, RuleOptionArgs {
  key: string;
  value: string;
}

const options = { json: JSON_OPTION, ...RULE_OPTIONS } satisfies OptionSpecs;

export const configSetCommand: StyxyCommand<SetArgs> = {
  name: 'set',
  command: 'set <key> <value>',
  describe: "Change one setting in the user's config.json (backed up first)",
  options,
  positionals: [
    { name: 'key', required: true },
    { name: 'value', required: true },
  ],
  builder: (yargs) =>
    declare(yargs, configSetCommand)
      .example('$0 config set service-types.ai.instance-behavior multi', 'Let ai run several instances')
      .example('$0 config set service-types.dev.port-range 2900-3099', 'Widen the dev range')
      .example('$0 config set auto-allocation.require-confirmation true', 'Ask before giving an unknown type a range')
      .example("$0 config set auto-allocation-rule 'database-*' --chunk-size 5 --preferred-range 5400", 'A rule (same as config auto-allocation set-rule)')
      .epilog(`Keys: ${SETTABLE_KEYS.join(', ')}, ${AUTO_RULE_KEY} <pattern> [rule options]`),
  handler: async (args) => {
    const key = String(args.key);
    const texts = ruleTexts(args);
    if (key === AUTO_RULE_KEY) {
      const { runSetRule } = await import('../../../app/auto-config');
      return present(args, () => runSetRule(context(), String(args.value), texts), printRuleChange);
    }
    if (Object.keys(texts).length > 0)
      throw new StyxyError(
        'INVALID_ARGUMENT',
        `--chunk-size, --preferred-range-start, --placement and --instance-behavior go with '${AUTO_RULE_KEY}', not '${key}'`,
      );
    const { runConfigSet } = await import('../../../app/config');
    await present(
      args,
      () => runConfigSet(context(), key, String(args.value)),
      (r) => {
        printLine(`Set ${r.key} = ${shown(JSON.stringify(r.value))} (was ${shown(JSON.stringify(r.previous))}) in ${shown(r.file)}`);
        if (r.backup) printLine(`Previous config saved as ${shown(r.backup)}`);
      },
    );
  },
};
