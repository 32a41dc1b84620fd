import yargs from 'yargs/yargs';
import { StyxyError } from '../errors';
import { allocateCommand } from './commands/allocate';
import { checkCommand } from './commands/check';
import { cleanupCommand } from './commands/cleanup';
import { configCommand } from './commands/config';
import { doctorCommand } from './commands/doctor';
import { listCommand } from './commands/list';
import { releaseCommand } from './commands/release';
import { scanCommand } from './commands/scan';

import { version } from '../generated/version';

const NO_COMMAND = 'Name a command';

/** The yargs parser: one module per command, each loading its use case only when it runs. */
export function buildParser(argv: string[]) {
  return yargs(argv)
    .scriptName('styxy')
    .usage('$0 <command> [options]\n\nHands out local TCP ports from per-service ranges, safely, to everything on this machine.')
    .command(allocateCommand)
    .command(releaseCommand)
    .command(listCommand)
    .command(checkCommand)
    .command(scanCommand)
    .command(cleanupCommand)
    .command(configCommand)
    .command(doctorCommand)
    .option('verbose', { type: 'boolean', describe: 'Print stack traces of unexpected errors', global: true })
    .demandCommand(1, NO_COMMAND)
    .recommendCommands()
    .strict()
    .version(version)
    .help()
    .alias('h', 'help')
    .wrap(Math.min(100, process.stdout.columns || 100))
    .exitProcess(false)
    .fail((message, err, parser) => {
      if (err) throw err;
      if (message === NO_COMMAND) parser.showHelp((text) => process.stderr.write(`${text}\n\n`));
      throw new StyxyError('USAGE', message, { suggestions: ['See: styxy --help'] });
    });
}
