import type { StyxyCommandGroup } from '../../command-spec';
import { autoDisableCommand, autoEnableCommand } from './auto-toggle';
import { autoStatusCommand } from './auto-status';
import { removeRuleCommand } from './remove-rule';
import { setRuleCommand } from './set-rule';

export const autoAllocationCommand: StyxyCommandGroup = {
  name: 'auto-allocation',
  command: 'auto-allocation <command>',
  describe: 'Show and change how unknown service types get a range',
  subcommands: [autoStatusCommand, autoEnableCommand, autoDisableCommand, setRuleCommand, removeRuleCommand],
  examples: [
    ['$0 config auto-allocation status', 'Is it on, which rules apply, which types it made'],
    ["$0 config auto-allocation set-rule 'llm-*' --instance-behavior single", 'Every new llm-* type runs once'],
  ],
};
