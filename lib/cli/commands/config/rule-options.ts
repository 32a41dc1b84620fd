import type { OptionSpecs } from '../../command-spec';
import { printLine, shown } from '../../output';

/** The options of a rule for auto-allocation, shared by `config set auto-allocation-rule` and `set-rule`. */
export const RULE_OPTIONS = {
  'chunk-size': { type: 'string', describe: 'How many ports a matching type gets' },
  'preferred-range-start': { alias: ['preferred-range'], type: 'string', describe: 'Try the first free ports at or above this port first' },
  placement: { type: 'string', choices: ['after', 'before', 'smart'], describe: 'Where the range goes when there is no preferred start, or no room there' },
  'instance-behavior': { type: 'string', choices: ['single', 'multi'], describe: 'Make matching types single-instance' },
} satisfies OptionSpecs;

export interface RuleOptionArgs {
  'chunk-size'?: string;
  'preferred-range-start'?: string;
  placement?: string;
  'instance-behavior'?: string;
}

/** The `config set` key that sets a rule instead of a setting. */
export const AUTO_RULE_KEY = 'auto-allocation-rule';

/** The rule fields given on the command line, as the texts the use case checks. */
export function ruleTexts(args: RuleOptionArgs) {
  return {
    ...(args['chunk-size'] !== undefined && { chunkSize: String(args['chunk-size']) }),
    ...(args['preferred-range-start'] !== undefined && { preferredRangeStart: String(args['preferred-range-start']) }),
    ...(args.placement !== undefined && { placement: String(args.placement) }),
    ...(args['instance-behavior'] !== undefined && { instanceBehavior: String(args['instance-behavior']) }),
  };
}

export function printRuleChange(r: { pattern: string; rule: unknown; previous: unknown; order: string[]; file: string; backup: string | null }): void {
  if (r.rule) printLine(`Rule '${r.pattern}' = ${JSON.stringify(r.rule)}${r.previous ? ` (was ${JSON.stringify(r.previous)})` : ''} in ${shown(r.file)}`);
  else printLine(`Removed rule '${r.pattern}' (was ${JSON.stringify(r.previous)}) from ${shown(r.file)}`);
  printLine(`Rules, first match wins: ${r.order.length ? r.order.join(', ') : '(none)'}`);
  if (r.backup) printLine(`Previous config saved as ${shown(r.backup)}`);
}
