import yargs from 'yargs/yargs';
import { StyxyError } from '../errors';
import { toYargsModule } from './command-spec';
import { configCommand } from './commands/config';
import { COMMANDS } from './commands/index';

import { version } from '../generated/version';

const NO_COMMAND = 'Name a command';

/**
 * The yargs parser: one module per command, each loading its use case only when it runs. Used
 * for help, usage errors and the command lines the fast path leaves to it.
 */
export function buildParser(argv: string[], onStatus: (status: void | number) => void) {
  let parser = yargs(argv)
    .scriptName('styxy')
    .usage('$0 <command> [options]\n\nHands out local TCP ports from per-service ranges, safely, to everything on this machine.');
  for (const command of COMMANDS.values()) parser = parser.command(toYargsModule(command, onStatus));
  return parser
    .command(configCommand)
    .option('verbose', { type: 'boolean', describe: 'Print stack traces of unexpected errors', global: true })
    .parserConfiguration({ 'populate--': true, 'nargs-eats-options': true })
    .demandCommand(1, NO_COMMAND)
    .recommendCommands()
    .strict()
    .version(version)
    .help()
    .alias('h', 'help')
    .wrap(Math.min(100, process.stdout.columns || 100))
    .exitProcess(false)
    .fail((message, err, parser) => {
      // yargs reports its own parse errors (a flag without its value) as a YError: usage errors too.
      if (err && err.name !== 'YError') throw err;
      if (message === NO_COMMAND) parser.showHelp((text) => process.stderr.write(`${text}\n\n`));
      throw new StyxyError('USAGE', message ?? err?.message ?? 'Usage error', { suggestions: ['See: styxy --help'] });
    });
}
