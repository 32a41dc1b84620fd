import { StyxyError } from '../../errors';
import type { AllocateResult } from '../../app/allocate';
import { context, portArg, type CommonArgs } from '../command-kit';
import { declare, type OptionSpecs, type StyxyCommand } from '../command-spec';
import { warn } from '../output';
import { ALLOCATE_OPTIONS, allocateAsking, envNameArg, envVars } from './allocate';

interface RunArgs extends CommonArgs {
  'service-type': string;
  'instance-id'?: string;
  port?: string;
  project?: string;
  'env-name'?: string;
  'port-flag'?: string;
  yes?: boolean;
  'new-type'?: boolean;
  '--'?: string[];
}

const options = {
  'service-type': ALLOCATE_OPTIONS['service-type'],
  'instance-id': ALLOCATE_OPTIONS['instance-id'],
  port: ALLOCATE_OPTIONS.port,
  project: ALLOCATE_OPTIONS.project,
  'env-name': { type: 'string', describe: 'The variable that carries the port (default PORT)' },
  'port-flag': { type: 'string', dashValue: true, describe: "Append this flag and the port to the command, for tools that ignore PORT (--port-flag --port); a flag ending in '=' is joined to it" },
  yes: { alias: ['y'], type: 'boolean', describe: 'Accept an auto-allocation without asking' },
  'new-type': ALLOCATE_OPTIONS['new-type'],
} satisfies OptionSpecs;

export const runCommand: StyxyCommand<RunArgs> = {
  name: 'run',
  command: 'run',
  describe: 'Allocate a port, run a command with it, release it when the command ends',
  options,
  positionals: [],
  trailingCommand: true,
  builder: (yargs) =>
    declare(yargs, runCommand)
      .usage('$0 run -s <type> [options] -- <command> [args...]')
      .example('$0 run -s dev -- npm run dev', 'npm run dev with PORT set to a free port of the dev range')
      .example('$0 run -s dev --port-flag --port -- npx vite', 'Vite ignores PORT: the port is passed as --port N')
      .example("$0 run -s api -- node server.js --listen 127.0.0.1:{port}", '{port} in an argument is replaced by the port')
      .example('$0 run -s ai -n rag -- python rag_server.py', 'ai is single-instance: when rag already runs, nothing is started')
      .epilog(
        'The command gets PORT (or --env-name) and STYXY_PORT, STYXY_LOCK_ID, STYXY_SERVICE_TYPE, STYXY_INSTANCE_ID, ' +
          'STYXY_EXISTING. styxy run owns the allocation: it passes SIGINT, SIGTERM and SIGHUP on to the command, ' +
          "exits with the command's status (128 + the signal's number when a signal ended it) and releases the port " +
          'however the command ends. Killed itself, its allocation is freed by the next styxy call. ' +
          "Before the command starts, failures have Styxy's own exit codes; a command not found exits 127.",
      ) as never,
  handler: async (args) => {
    const command = args['--'] ?? [];
    if (command.length === 0) {
      throw new StyxyError('USAGE', 'Name the command to run after --', { suggestions: ['For example: styxy run -s dev -- npm run dev'] });
    }
    const envName = envNameArg(args['env-name']);
    if (args['port-flag'] !== undefined && !/^-{1,2}[A-Za-z0-9][A-Za-z0-9_-]*=?$/.test(args['port-flag'])) {
      throw new StyxyError('INVALID_ARGUMENT', `--port-flag ${JSON.stringify(args['port-flag'])} is not a flag like --port, -p or --port=`);
    }
    const { runAllocate } = await import('../../app/allocate');
    const ctx = context();
    const result: AllocateResult = await allocateAsking('human', (acceptedRange) =>
      runAllocate(ctx, {
        serviceType: args['service-type'],
        ...(args['instance-id'] !== undefined && { instanceId: args['instance-id'] }),
        ...(args.port !== undefined && { port: portArg(args.port, '--port') }),
        ...(args.project !== undefined && { project: args.project }),
        owner: { pid: process.pid },
        ...(args.yes && { yes: true }),
        ...(args['new-type'] && { newType: true }),
        ...(acceptedRange && { acceptedRange }),
      }),
    );
    if (result.existing) {
      const where = `'${result.existingInstanceId}' is already running on port ${result.port}${result.existingPid ? ` (PID ${result.existingPid})` : ''}`;
      warn(`styxy: ${result.message ?? `Service '${result.serviceType}' only allows single instance`}: ${where}; not starting ${command[0]}`);
      return 0;
    }
    if (result.autoAllocated && result.newRange) warn(`styxy: new service type '${result.serviceType}' got ports ${result.newRange[0]}-${result.newRange[1]}`);
    if (result.requestedPortNote) warn(`styxy: ${result.requestedPortNote}`);
    const { releaseQuietly, startAndWait } = await import('../../app/run');
    let outcome;
    try {
      outcome = await startAndWait({
        command,
        env: envVars(result, envName),
        port: result.port,
        ...(args['port-flag'] !== undefined && { portFlag: args['port-flag'] }),
      });
    } finally {
      await releaseQuietly(ctx, result);
    }
    if (outcome.startError) warn(`styxy: ${outcome.startError}`);
    return outcome.status;
  },
};
