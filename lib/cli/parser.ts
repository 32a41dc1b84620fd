import yargs from 'yargs/yargs';
import { StyxyError } from '../errors';
import { writeErr } from '../os/stdio';
import { toYargsModule } from './command-spec';
import { configCommand } from './commands/config';
import { COMMANDS } from './commands/index';

import { version } from '../generated/version';

const NO_COMMAND = 'Name a command';
const SERVICE_TYPE_FLAGS = new Set(['-s', '--service-type', '--service']);

/** The service types of the effective config here; none when the config cannot be read. */
function configuredTypes(): string[] {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { loadConfig } = require('../store/config-files') as typeof import('../store/config-files');
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { resolvePaths } = require('../store/paths') as typeof import('../store/paths');
    return Object.keys(loadConfig(resolvePaths(process.env), process.cwd()).config.service_types).sort();
  } catch {
    return [];
  }
}

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
    .completion('completion', 'Print a completion script for bash or zsh (see the README)', (current: string, _argv: unknown, completionFilter: () => void, done: (completions: string[]) => void) => {
      // After -s/--service-type, offer the configured service types; elsewhere yargs' own list.
      const words = argv.slice(argv.indexOf('--get-yargs-completions') + 1);
      const previous = words[words.length - 2];
      if (previous === undefined || !SERVICE_TYPE_FLAGS.has(previous)) return completionFilter();
      done(configuredTypes().filter((name) => name.startsWith(current)));
    })
    .example('$0 allocate -s dev', 'A free port from the dev range')
    .example('$0 run -s dev -- npm run dev', 'Run a dev server on a free port; released when it ends')
    .example('$0 completion >> ~/.bashrc', 'Tab completion in bash (zsh: SHELL=zsh styxy completion >> ~/.zshrc)')
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
      if (message === NO_COMMAND) parser.showHelp((text) => writeErr(`${text}\n\n`));
      throw new StyxyError('USAGE', message ?? err?.message ?? 'Usage error', { suggestions: ['See: styxy --help'] });
    });
}
