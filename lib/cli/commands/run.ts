import { StyxyError } from '../../errors';
import type { AllocateResult } from '../../app/allocate';
import type { RunNotice } from '../../app/run';
import { JSON_OPTION, context, portArg, present, type CommonArgs } from '../command-kit';
import { declare, type OptionSpecs, type StyxyCommand } from '../command-spec';
import { outputMode, printLine, warn } from '../output';
import { parseDuration } from '../../core/names';
import { envFor } from '../../core/env-contract';
import { ALLOCATION_OPTIONS, checkBatchVarNames, envNameArg, labelAndSession } from '../allocate-kit';
import { askerFor } from '../prompt';

export interface RunArgs extends CommonArgs {
  /** An array when given more than once: several ports for one command. */
  'service-type': string | string[];
  'instance-id'?: string;
  port?: string;
  project?: string;
  'env-name'?: string;
  'port-flag'?: string | false;
  yes?: boolean;
  'new-type'?: boolean;
  detach?: boolean;
  'ready-timeout'?: string;
  label?: string;
  session?: string;
  '--'?: string[];
}

export const RUN_OPTIONS = {
  'service-type': ALLOCATION_OPTIONS['service-type'],
  'instance-id': ALLOCATION_OPTIONS['instance-id'],
  port: ALLOCATION_OPTIONS.port,
  project: ALLOCATION_OPTIONS.project,
  'env-name': { type: 'string', describe: 'The variable that carries the port (default PORT)' },
  'port-flag': {
    type: 'string',
    dashValue: true,
    describe:
      "Append this flag and the port to the command, for tools that ignore PORT (--port-flag --port); a flag ending in '=' is joined to it. Known dev servers get theirs without it; --no-port-flag adds none",
  },
  yes: { alias: ['y'], type: 'boolean', describe: 'Accept an auto-allocation without asking' },
  'new-type': ALLOCATION_OPTIONS['new-type'],
  label: ALLOCATION_OPTIONS.label,
  session: ALLOCATION_OPTIONS.session,
  detach: {
    type: 'boolean',
    describe:
      'Start the command in the background (its own session, output to a log), wait until it listens, print port, URL, PID and log, and exit (styxy start)',
  },
  'ready-timeout': { type: 'string', describe: 'With --detach: how long to wait for the server to listen (30s, 2m; default 60s)' },
  json: JSON_OPTION,
} satisfies OptionSpecs;

export const runCommand: StyxyCommand<RunArgs> = {
  name: 'run',
  command: 'run',
  describe: 'Allocate a port, run a command with it, release it when the command ends',
  options: RUN_OPTIONS,
  positionals: [],
  trailingCommand: true,
  builder: (yargs) =>
    declare(yargs, runCommand)
      .usage('$0 run -s <type> [options] -- <command> [args...]')
      .example('$0 run -s dev -- npm run dev', 'npm run dev with PORT set to a free port of the dev range')
      .example('$0 run -s dev -- npx vite', 'Vite ignores PORT: run knows it and passes the port as --port N')
      .example('$0 run -s dev --port-flag --listen -- ./my-server', 'A tool run does not know: the port is passed as --listen N')
      .example('$0 run -s api -- node server.js --listen 127.0.0.1:{port}', '{port} in an argument is replaced by the port')
      .example('$0 run -s ai -n rag -- python rag_server.py', 'ai is single-instance: when rag already runs, nothing is started')
      .epilog(
        'The command gets PORT (or --env-name) and STYXY_PORT, STYXY_LOCK_ID, STYXY_SERVICE_TYPE, STYXY_INSTANCE_ID, ' +
          'STYXY_EXISTING. styxy run owns what it allocates: it passes SIGINT, SIGTERM and SIGHUP on to the command ' +
          "(a Ctrl-C typed in the terminal reaches it once, from the terminal), exits with the command's status " +
          "(128 + the signal's number when a signal ended it), ends every process the command left running " +
          '(SIGTERM, then SIGKILL 2 s later; also 5 s after a passed-on signal the command ignores) and then releases the port. ' +
          'An allocation it found (the same -n, or a running single instance) is used and left as it was; ' +
          'when something already listens on its port, nothing is started and run exits 0. ' +
          "Before the command starts, run's own failures exit 125 (the code on stderr, and in --json); a command not found exits 127. " +
          '--detach (styxy start) starts it in the background instead: see styxy start --help.',
      ) as never,
  handler: async (args) => (args.detach ? startHandler(args) : runHandler(args)),
};

/** What run and start check and build alike from the command line, before anything is read. */
function readRunArgs(args: RunArgs) {
  const command = args['--'] ?? [];
  if (command.length === 0) {
    throw new StyxyError('USAGE', 'Name the command to run after --', { suggestions: ['For example: styxy run -s dev -- npm run dev'] });
  }
  const envName = envNameArg(args['env-name']);
  const portFlag = args['port-flag'];
  if (typeof portFlag === 'string' && !/^-{1,2}[A-Za-z0-9][A-Za-z0-9_-]*=?$/.test(portFlag)) {
    throw new StyxyError('INVALID_ARGUMENT', `--port-flag ${JSON.stringify(args['port-flag'])} is not a flag like --port, -p or --port=`);
  }
  const serviceTypes = ([] as string[]).concat(args['service-type']);
  if (serviceTypes.length > 1) {
    if (args.port !== undefined) throw new StyxyError('INVALID_ARGUMENT', '--port takes one service type; run that one on its own');
    checkBatchVarNames(serviceTypes, envName);
  }
  return {
    command,
    serviceTypes,
    request: {
      serviceType: serviceTypes[0] as string,
      ...(args['instance-id'] !== undefined && { instanceId: args['instance-id'] }),
      ...(args.port !== undefined && { port: portArg(args.port, '--port') }),
      ...(args.project !== undefined && { project: args.project }),
      ...(args.yes && { yes: true }),
      ...(args['new-type'] && { newType: true }),
      ...labelAndSession(args),
    },
    variables: (allocations: readonly AllocateResult[]) => envFor(allocations, envName),
    ...(args['port-flag'] !== undefined && { portFlag: args['port-flag'] }),
  };
}

async function runHandler(args: RunArgs): Promise<number> {
  const { command, serviceTypes, ...shared } = readRunArgs(args);
  const { runRun } = await import('../../app/run');
  const taken: number[] = [];
  const result = await runRun(context(), {
    ...shared,
    ...(serviceTypes.length > 1 && { serviceTypes }),
    envName: envNameArg(args['env-name']),
    command,
    ask: askerFor('human'),
    // A port taken by someone else is said once run is done, with who holds it (styxy why).
    onNotice: (notice) => (notice.kind === 'port-taken' ? void taken.push(notice.port) : tellNotice(notice)),
  });
  if (result.kind === 'running') {
    const a = result.allocation;
    const pid = result.pid ? ` (PID ${result.pid})` : '';
    const where = `'${a.existingInstanceId ?? a.instanceId}' is already ${result.listening || !a.starting ? 'running' : 'starting'} on port ${a.port}${pid}`;
    const why = a.outcome === 'existing' ? `${a.message ?? `Service '${a.serviceType}' only allows single instance`}: ` : '';
    warn(`styxy: ${why}${where}; not starting ${command[0]}`);
    return 0;
  }
  if (result.outcome.startError) warn(`styxy: ${result.outcome.startError}`);
  for (const port of taken) await tellPortTaken(port);
  return result.outcome.status;
}

/**
 * The command failed and its port is held by someone else now (its own tree has ended): most
 * likely it failed because of that (EADDRINUSE), so say who holds it, as `styxy why` does.
 */
async function tellPortTaken(port: number): Promise<void> {
  const { runWhy } = await import('../../app/why');
  const why = await runWhy(context(), port).catch(() => null);
  const holder = why && why.kind !== 'free' ? why.summary : `see who: styxy why ${port}`;
  warn(`styxy: port ${port} is held by another process, which is likely why the command failed: ${holder}`);
}

/** `styxy start`, `styxy run --detach`: see lib/app/detach.ts. */
export async function startHandler(args: RunArgs): Promise<number> {
  const { command, serviceTypes, ...shared } = readRunArgs(args);
  if (serviceTypes.length > 1) throw new StyxyError('INVALID_ARGUMENT', 'A detached start takes one service type; start each on its own');
  const timeout = args['ready-timeout'];
  const readyTimeoutMs =
    timeout === undefined ? undefined : (parseDuration(timeout) ?? (/^[0-9]{1,5}$/.test(timeout) && Number(timeout) > 0 ? Number(timeout) * 1000 : null));
  if (readyTimeoutMs === null) throw new StyxyError('INVALID_ARGUMENT', `--ready-timeout ${JSON.stringify(timeout)} is not a duration like 30s or 2m`);
  const mode = outputMode(args);
  const { runDetached } = await import('../../app/detach');
  await present(
    args,
    () =>
      runDetached(context(), {
        ...shared,
        command,
        ...(readyTimeoutMs !== undefined && { readyTimeoutMs }),
        ask: askerFor(mode),
        onNotice: tellNotice,
      }),
    (r) => {
      if (!r.started) warn(`styxy: '${r.instanceId}' (${r.serviceType}) is already running on port ${r.port}; started nothing`);
      printLine(`port: ${r.port}`);
      printLine(`url: ${r.url}`);
      printLine(`pid: ${r.pid ?? 'unknown'}`);
      printLine(`log: ${r.logPath ?? '-'}`);
    },
  );
  return 0;
}

function tellNotice(notice: RunNotice): void {
  switch (notice.kind) {
    case 'allocated':
      for (const a of notice.allocations) tellAllocated(a);
      return;
    case 'port-flag':
      warn(
        `styxy: ${notice.plan.tool} does not read PORT: adding ${notice.plan.append
          .filter((w) => w !== '--')
          .join(' ')
          .split('{port}')
          .join(String(notice.port))} (--no-port-flag leaves it out)`,
      );
      return;
    case 'wrong-port': {
      const ports = notice.ports.join(', ');
      const tried = notice.portFlag ? `the ${notice.portFlag.append.filter((w) => w !== '--' && w !== '{port}').join(' ') || 'port'} run added` : 'PORT';
      warn(
        `styxy: the command listens on port ${ports}, not on its port ${notice.port}: it ignored ${tried}. ` +
          `Give it the port with --port-flag FLAG (for example --port-flag --port) or {port} in its arguments, or set it in the tool's own config.`,
      );
      return;
    }
    case 'port-taken':
      // runHandler says it with the holder (styxy why); this is for any other caller.
      warn(`styxy: port ${notice.port} is held by another process, which is likely why the command failed; see who: styxy why ${notice.port}`);
      return;
    case 'ended-leftovers': {
      const n = notice.processes.length;
      warn(`styxy: ended ${n === 1 ? 'a process' : `${n} processes`} the command left running (PID ${notice.processes.map((p) => p.pid).join(', ')})`);
      return;
    }
  }
}

function tellAllocated(a: AllocateResult): void {
  if (a.autoAllocated && a.newRange) warn(`styxy: new service type '${a.serviceType}' got ports ${a.newRange[0]}-${a.newRange[1]}`);
  if (a.requestedPortNote) warn(`styxy: ${a.requestedPortNote}`);
  if (a.cooling) warn(`styxy: ${a.cooling.message}`);
}
