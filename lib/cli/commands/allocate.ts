import { StyxyError } from '../../errors';
import { allocationEnv, batchEnv } from '../../core/env-contract';
import { parseDuration } from '../../core/names';
import type { AllocateBatchInput, AllocateInput, AllocateResult } from '../../app/allocate';
import { ALLOCATION_OPTIONS, HOST_STYLE_OPTION, checkBatchVarNames, envNameArg, hostStyleArg, labelAndSession } from '../allocate-kit';
import { askerFor } from '../prompt';
import { JSON_OPTION, context, portArg, present, type CommonArgs } from '../command-kit';
import { declare, type OptionSpecs, type StyxyCommand } from '../command-spec';
import { ENV_FORMATS, isEnvFormat, renderEnv, type EnvFormat } from '../env-format';
import { bold, green, outputMode, printLine, warn, type OutputMode } from '../output';

interface AllocateArgs extends CommonArgs {
  /** An array when given more than once: a batch. */
  'service-type': string | string[];
  'instance-id'?: string;
  port?: string;
  project?: string;
  pid?: string;
  ttl?: string;
  persistent?: boolean;
  'env-name'?: string;
  format?: string;
  yes?: boolean;
  'dry-run'?: boolean;
  'wait-ready'?: string;
  'new-type'?: boolean;
  label?: string;
  session?: string;
  'host-style'?: string;
  block?: string;
}

const DEFAULT_WAIT_READY_S = 30;

const ALLOCATE_OPTIONS = {
  'service-type': ALLOCATION_OPTIONS['service-type'],
  'instance-id': ALLOCATION_OPTIONS['instance-id'],
  port: ALLOCATION_OPTIONS.port,
  project: ALLOCATION_OPTIONS.project,
  pid: { type: 'string', describe: 'Owner process (default: the process that ran styxy, wrappers passed over); on a sticky allocation, hands it over' },
  ttl: { type: 'string', describe: 'Lease that ends after a time instead of an owner process (30m, 8h, 2d); on a sticky allocation, renews it from now' },
  persistent: { type: 'boolean', describe: 'Keep the allocation until it is released (also on a sticky allocation made before)' },
  label: ALLOCATION_OPTIONS.label,
  session: ALLOCATION_OPTIONS.session,
  json: JSON_OPTION,
  env: { type: 'boolean', describe: 'Print shell statements for eval: PORT, STYXY_PORT, STYXY_LOCK_ID, ...' },
  format: { type: 'string', describe: `Print the variables for another reader: ${ENV_FORMATS.join(', ')} (posix is --env)` },
  'env-name': { type: 'string', describe: 'With --env or --format: the variable that carries the port (default PORT)' },
  quiet: { alias: ['q'], type: 'boolean', describe: 'Print the port number alone' },
  yes: { alias: ['y'], type: 'boolean', describe: 'Accept an auto-allocation without asking (with auto-allocation.require-confirmation)' },
  'dry-run': { type: 'boolean', describe: 'Show what would be allocated; change nothing' },
  'new-type': ALLOCATION_OPTIONS['new-type'],
  'host-style': HOST_STYLE_OPTION,
  block: { type: 'string', describe: 'N contiguous ports (2-100) for this one service, all or nothing, released together: STYXY_PORT_0 … STYXY_PORT_<N-1>' },
  'wait-ready': {
    type: 'string',
    optionalValue: true,
    describe: `When a single-instance service is already running, wait until its port accepts a connection (seconds, default ${DEFAULT_WAIT_READY_S})`,
  },
} satisfies OptionSpecs;

export const allocateCommand: StyxyCommand<AllocateArgs> = {
  name: 'allocate',
  command: 'allocate',
  describe: 'Allocate a port for a service type',
  options: ALLOCATE_OPTIONS,
  positionals: [],
  conflicts: [
    ['pid', 'ttl', 'persistent'],
    ['json', 'env', 'format', 'quiet'],
  ],
  builder: (yargs) =>
    declare(yargs, allocateCommand)
      .example('$0 allocate -s dev', 'A port from the dev range (3000-3099)')
      .example('eval "$($0 allocate -s api -n backend --env)"', 'Set PORT and STYXY_* in this shell')
      .example('$0 allocate -s api --format fish | source', 'The same in fish')
      .example('$0 allocate -s api --format dotenv > .env.styxy', 'For docker compose --env-file .env.styxy')
      .example('$0 allocate -s ai -n rag -q', 'ai is single-instance: every caller gets the one running port')
      .example('$0 allocate -s ai -n rag --env --wait-ready 60', 'If rag already runs, wait until it accepts connections')
      .example('$0 allocate -s grafana', 'An unknown type first gets a range of its own, written into config.json')
      .example('$0 allocate -s devs --new-type', "A new type whose name is close to a known one ('dev')")
      .example('$0 allocate -s api -n bg --pid $!', 'Hand the sticky allocation api/bg to the background job just started')
      .example('eval "$($0 allocate -s dev -s api -s database --env)"', 'Three ports at once, all or nothing: DEV_PORT, API_PORT, DATABASE_PORT, ...')
      .epilog(
        'Single-instance types (instance_behavior "single", like ai): while one allocation of the type is live, ' +
          'every allocate returns it with existing: true (STYXY_EXISTING=1) instead of a second port; ' +
          'releasing it, or its owner ending, frees the type. ' +
          'Unknown types are auto-allocated a range (see: styxy config auto-allocation status); ' +
          'with auto-allocation.require-confirmation, --yes accepts without asking. ' +
          "A name close to a known type's (another case, or an edit or two away: dve, Dev, databse) is refused as a " +
          'likely typo (SIMILAR_SERVICE_TYPE) unless --new-type is given.',
      ),
  handler: async (args) => {
    const values = readAllocateArgs(args);
    return values.serviceTypes.length > 1 ? allocateBatch(args, values) : allocateOne(args, values);
  },
};

/** What the allocate line says, checked (INVALID_ARGUMENT before anything is read), in the use case's terms. */
interface AllocateValues {
  serviceTypes: string[];
  format: EnvFormat;
  envName: string;
  mode: OutputMode;
  waitReadyS?: number;
  block?: number;
  /** What one allocation and a batch take alike. */
  shared: Omit<AllocateBatchInput, 'serviceTypes'>;
}

function readAllocateArgs(args: AllocateArgs): AllocateValues {
  const format = args.format ?? 'posix';
  if (!isEnvFormat(format)) throw new StyxyError('INVALID_ARGUMENT', `--format ${JSON.stringify(format)} is not one of ${ENV_FORMATS.join(', ')}`);
  const envName = envNameArg(args['env-name']);
  const ttlMs = args.ttl === undefined ? undefined : parseDuration(args.ttl);
  if (ttlMs === null) throw new StyxyError('INVALID_ARGUMENT', `--ttl ${JSON.stringify(args.ttl)} is not a duration like 30m, 8h or 2d`);
  const pid = args.pid === undefined ? undefined : /^[1-9][0-9]{0,9}$/.test(args.pid) ? Number(args.pid) : NaN;
  if (Number.isNaN(pid)) throw new StyxyError('INVALID_ARGUMENT', `--pid ${JSON.stringify(args.pid)} is not a process id`);
  const waitReady = args['wait-ready'];
  const waitReadyS =
    waitReady === undefined ? undefined : waitReady === '' ? DEFAULT_WAIT_READY_S : /^[0-9]{1,5}(\.[0-9]+)?$/.test(waitReady) ? Number(waitReady) : NaN;
  if (Number.isNaN(waitReadyS)) throw new StyxyError('INVALID_ARGUMENT', `--wait-ready ${JSON.stringify(waitReady)} is not a number of seconds`);
  const hostStyle = hostStyleArg(args['host-style']);
  const block = args.block === undefined ? undefined : /^[0-9]{1,3}$/.test(args.block) ? Number(args.block) : NaN;
  if (Number.isNaN(block)) throw new StyxyError('INVALID_ARGUMENT', `--block ${JSON.stringify(args.block)} is not a number of ports`);
  const shared: AllocateValues['shared'] = {
    ...(args['instance-id'] !== undefined && { instanceId: args['instance-id'] }),
    ...(args.project !== undefined && { project: args.project }),
    ...labelAndSession(args),
    owner: { ...(pid !== undefined && { pid }), ...(ttlMs !== undefined && { ttlMs }), ...(args.persistent && { persistent: true }) },
    ...(args['dry-run'] && { dryRun: true }),
    ...(args.yes && { yes: true }),
    ...(args['new-type'] && { newType: true }),
    ...(hostStyle && { hostStyle }),
  };
  const serviceTypes = ([] as string[]).concat(args['service-type']);
  return {
    serviceTypes,
    format,
    envName,
    mode: outputMode(args),
    ...(waitReadyS !== undefined && { waitReadyS }),
    ...(block !== undefined && { block }),
    shared,
  };
}

async function allocateOne(args: AllocateArgs, { serviceTypes, format, envName, mode, waitReadyS, block, shared }: AllocateValues): Promise<void> {
  const { runAllocate } = await import('../../app/allocate');
  const input: AllocateInput = {
    ...shared,
    serviceType: serviceTypes[0] as string,
    ...(args.port !== undefined && { port: portArg(args.port, '--port') }),
    ...(waitReadyS !== undefined && { waitReadyMs: waitReadyS * 1000 }),
    ...(block !== undefined && { block }),
  };
  await present(
    args,
    () => runAllocate(context(), input, askerFor(mode)),
    (result, mode) => {
      if (result.requestedPortNote) warn(`styxy: ${result.requestedPortNote}`);
      if (result.cooling) warn(`styxy: ${result.cooling.message}`);
      if (mode === 'quiet') return printLine(String(result.port));
      if (mode === 'env') return printLine(renderEnv(allocationEnv(result, envName), format));
      printLine(describeAllocation(result));
    },
  );
}

/** Several types at once (`-s web -s api`): all or nothing, one transaction. */
async function allocateBatch(args: AllocateArgs, { serviceTypes, format, envName, mode, waitReadyS, block, shared }: AllocateValues): Promise<void> {
  if (args.port !== undefined) throw new StyxyError('INVALID_ARGUMENT', '--port takes one service type; allocate that one on its own');
  if (waitReadyS !== undefined) throw new StyxyError('INVALID_ARGUMENT', '--wait-ready takes one service type; allocate that one on its own');
  if (block !== undefined) throw new StyxyError('INVALID_ARGUMENT', '--block takes one service type; allocate that one on its own');
  if (mode === 'env') checkBatchVarNames(serviceTypes, envName);
  const { runAllocateBatch } = await import('../../app/allocate');
  const input: AllocateBatchInput = { ...shared, serviceTypes, ...(mode === 'env' && { envName }) };
  await present(
    args,
    () => runAllocateBatch(context(), input, askerFor(mode)),
    (batch, mode) => {
      for (const result of batch.allocations) if (result.cooling) warn(`styxy: ${result.cooling.message}`);
      if (mode === 'quiet') return printLine(batch.allocations.map((r) => String(r.port)).join('\n'));
      if (mode === 'env') return printLine(renderEnv(batchEnv(batch.allocations, envName), format));
      printLine(batch.allocations.map(describeAllocation).join('\n'));
    },
  );
}

function describeAllocation(r: AllocateResult): string {
  const dry = r.dryRun ? ' (dry run: nothing was written)' : '';
  if (r.autoAllocated && r.newRange && r.autoAllocation) {
    const a = r.autoAllocation;
    const how = a.placement === 'preferred-start' ? `preferred start of rule '${a.rule}'` : `placement ${a.placement}${a.rule ? `, rule '${a.rule}'` : ''}`;
    return [
      `✨ New service type '${r.serviceType}' ${r.dryRun ? 'would be ' : ''}automatically configured${dry}`,
      `📋 Range: ${r.newRange[0]}-${r.newRange[1]} (${a.chunkSize} ports; ${how})`,
      `   ${a.reason}`,
      `${green('✅')} ${r.dryRun ? 'Would allocate' : 'Allocated'} port: ${bold(String(r.port))} — instance '${r.instanceId}', lock ${r.lockId}`,
    ].join('\n');
  }
  if (r.outcome === 'existing') {
    const pid = r.existingPid ? ` (PID ${r.existingPid})` : '';
    return [
      `ℹ ${r.message}${dry}`,
      `↪ Existing instance '${r.existingInstanceId}' is ${r.starting ? 'starting' : 'running'} on port ${bold(String(r.port))}${pid}`,
      ...(r.ready ? [`  It accepts connections (waited ${((r.waitedMs ?? 0) / 1000).toFixed(1)} s)`] : []),
      `  Use port ${r.port} (configure your client to connect to ${r.port}); lock ${r.lockId}${ownerChangeNote(r)}`,
    ].join('\n');
  }
  if (r.outcome === 'reused' || r.outcome === 'claimed')
    return `Reusing port ${bold(String(r.port))} for ${r.serviceType} instance '${r.instanceId}' (lock ${r.lockId})${ownerChangeNote(r)}${dry} — ${r.url}`;
  const verb = r.dryRun ? 'Would allocate' : 'Allocated';
  if (r.ports) {
    const span = `${r.ports[0]}-${r.ports[r.ports.length - 1]}`;
    return `${green('✔')} ${verb} ports ${bold(span)} (a block of ${r.ports.length}) for ${r.serviceType} — instance '${r.instanceId}', lock ${r.lockId}${dry} — ${r.url}`;
  }
  const home = r.homePort ? ' (its home port, as last time)' : r.derivedPort ? " (its derived home port, the same on every machine while it's free)" : '';
  return `${green('✔')} ${verb} port ${bold(String(r.port))}${home} for ${r.serviceType}${r.singleInstance ? ' (single instance)' : ''} — instance '${r.instanceId}', lock ${r.lockId}${dry} — ${r.url}`;
}

function ownerChangeNote(r: AllocateResult): string {
  switch (r.ownerChange) {
    case 'hand-over':
      return r.owner.kind === 'process' ? `; handed over to PID ${r.owner.pid}` : '';
    case 'renew':
      return r.owner.kind === 'lease' ? `; lease renewed until ${r.owner.expiresAt}` : '';
    case 'persist':
      return '; now persistent';
    default:
      return '';
  }
}
