import type { StyxyCommandGroup } from '../../command-spec';
import { autoAllocationCommand } from './auto-allocation';
import { configPathCommand } from './path';
import { configSetCommand } from './set';
import { configShowCommand } from './show';
import { undoAutoCommand } from './undo-auto';
import { configValidateCommand } from './validate';

/** `styxy config`: one file per subcommand, declared as data like the other commands. */
export const configCommand: StyxyCommandGroup = {
  name: 'config',
  command: 'config <command>',
  describe: 'Show, check and change the config',
  subcommands: [configShowCommand, configValidateCommand, configPathCommand, configSetCommand, autoAllocationCommand, undoAutoCommand],
  examples: [
    ['$0 config show', 'The effective config: defaults, then .styxy.json, then config.json'],
    ['$0 config set service-types.ai.instance-behavior multi', 'Change one setting, keeping everything else'],
  ],
};
