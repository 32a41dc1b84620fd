import { StyxyError } from '../../errors';
import { JSON_OPTION, context, type CommonArgs } from '../command-kit';
import { declare, type StyxyCommand } from '../command-spec';
import { glyph, outputMode, printJson, printLine, warn } from '../output';

interface ComposeArgs extends CommonArgs {
  /** An array when given more than once: several files, merged in order. */
  file?: string | string[];
  type?: string | string[];
  'dry-run'?: boolean;
  '--'?: string[];
}

export const composeCommand: StyxyCommand<ComposeArgs> = {
  name: 'compose',
  command: 'compose',
  describe: "Run docker compose with the file's published host ports allocated by Styxy, per worktree",
  options: {
    file: {
      alias: ['f'],
      type: 'string',
      describe:
        'The compose file (default: compose.yaml, compose.yml, docker-compose.yaml or docker-compose.yml, here or above, and compose.override.yaml beside it); may be given again',
    },
    type: {
      alias: ['t'],
      type: 'string',
      repeatable: true,
      describe: "SERVICE=TYPE: the service type a compose service's ports come from (default: the service's name); may be given again",
    },
    'dry-run': { type: 'boolean', describe: 'Print the override file, the variables and the command; allocate, write and run nothing' },
    json: JSON_OPTION,
  },
  positionals: [],
  trailingCommand: true,
  builder: (yargs) =>
    declare(yargs, composeCommand)
      .usage('$0 compose [-f FILE] [-t SERVICE=TYPE …] [--dry-run] -- <docker compose arguments…>')
      .example('$0 compose -- up -d', "Start the compose stack on this worktree's own host ports")
      .example('$0 compose -- down', 'Stop it, then release its ports')
      .example('$0 compose -t db=database --dry-run -- up -d', 'See the override and the ports, changing nothing')
      .epilog(
        'Every fixed host port in ports: (short or long syntax, after ${VAR:-default} interpolation, for the services of the enabled profiles) ' +
          'gets a port of its own, sticky per service and worktree, kept until compose -- down. The ports go to docker compose in an override file ' +
          'under $STYXY_HOME/compose (Compose 2.24.4 or later), with COMPOSE_PROJECT_NAME set per worktree unless you set it. See docs/stacks.md.',
      ) as never,
  handler: async (args) => {
    const types: Record<string, string> = {};
    for (const pair of ([] as string[]).concat(args.type ?? [])) {
      const m = /^([^=]+)=(.+)$/.exec(pair);
      if (!m) throw new StyxyError('INVALID_ARGUMENT', `--type ${JSON.stringify(pair)} is not SERVICE=TYPE`);
      types[m[1] as string] = m[2] as string;
    }
    const composeArgs = (args['--'] ?? []).map(String);
    if (composeArgs.length === 0 && !args['dry-run']) {
      throw new StyxyError('USAGE', 'Name the docker compose arguments after --', { suggestions: ['For example: styxy compose -- up -d'] });
    }
    const { runCompose } = await import('../../app/compose');
    const result = await runCompose(context(), {
      ...(args.file !== undefined && { file: args.file }),
      args: composeArgs,
      types,
      env: process.env,
      ...(args['dry-run'] && { dryRun: true }),
      ...(outputMode(args) === 'json' && { quietStdout: true }),
    });
    if (outputMode(args) === 'json') printJson(result);
    else if (result.dryRun) {
      printLine(result.override.trimEnd());
      printLine(`# COMPOSE_PROJECT_NAME=${result.projectName}`);
      printLine(`# ${result.command.join(' ')}`);
    } else {
      for (const p of result.ports) warn(`styxy: ${p.service} ${p.published}${glyph('arrow')}${p.target}: host port ${p.port}`);
      if (result.released?.length) warn(`styxy: released ${result.released.length} port${result.released.length === 1 ? '' : 's'}`);
    }
    return result.status ?? 0;
  },
};
