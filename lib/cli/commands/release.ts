import { JSON_OPTION, context, present, type CommonArgs } from '../command-kit';
import { declare, type OptionSpecs, type StyxyCommand } from '../command-spec';
import { portsText, printLine } from '../output';

interface ReleaseArgs extends CommonArgs {
  lockIds?: string[];
  'service-type'?: string;
  'instance-id'?: string;
  project?: string;
  all?: boolean;
}

const options = {
  'service-type': { alias: ['s', 'service'], type: 'string', describe: 'Release by service type' },
  'instance-id': { alias: ['n', 'name'], type: 'string', describe: 'With -s: the instance to release' },
  project: { type: 'string', describe: 'With -s: the project (default: git top level, else the current directory)' },
  all: { type: 'boolean', describe: 'With -s and no -n: release every allocation of the type in the project' },
  json: JSON_OPTION,
} satisfies OptionSpecs;

export const releaseCommand: StyxyCommand<ReleaseArgs> = {
  name: 'release',
  command: 'release [lockIds..]',
  describe: 'Release allocations by lock id, or by service type (and instance id)',
  options,
  positionals: [{ name: 'lockIds', required: false, describe: 'The lock ids that allocate printed', variadic: true }],
  builder: (yargs) =>
    declare(yargs, releaseCommand)
      .example('$0 release dev-web-1a2b3c', 'Release by lock id')
      .example('$0 release $STYXY_LOCK_IDS', 'Release every allocation of a batch (those still there; NOT_FOUND names the rest)')
      .example('$0 release -s api -n backend', "Release this project's api instance 'backend'"),
  handler: async (args) => {
    const { runRelease } = await import('../../app/release');
    const ids = [...new Set((args.lockIds ?? []).map(String))];
    await present(
      args,
      () =>
        runRelease(context(), {
          ...(ids.length === 1 && { lockId: ids[0] as string }),
          ...(ids.length > 1 && { lockIds: ids }),
          ...(args['service-type'] !== undefined && { serviceType: args['service-type'] }),
          ...(args['instance-id'] !== undefined && { instanceId: args['instance-id'] }),
          ...(args.project !== undefined && { project: args.project }),
          ...(args.all && { all: true }),
        }),
      (result) => {
        for (const a of result.released)
          printLine(
            `Released ${a.block !== undefined && a.block > 1 ? 'ports' : 'port'} ${portsText(a)} (${a.serviceType} instance '${a.instanceId}', lock ${a.lockId})`,
          );
      },
    );
  },
};
