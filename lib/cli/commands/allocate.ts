import { StyxyError, isStyxyError } from '../../errors';
import { findEnvNameProblem, findLabelProblem, findSessionProblem, parseDuration } from '../../core/names';
import type { AllocateResult } from '../../app/allocate';
import { JSON_OPTION, context, portArg, present, type CommonArgs } from '../command-kit';
import { declare, type OptionSpecs, type StyxyCommand } from '../command-spec';
import { ENV_FORMATS, isEnvFormat, renderEnv } from '../env-format';
import { bold, green, outputMode, printLine, warn, type OutputMode } from '../output';
import { askYesNo, canAsk } from '../prompt';

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
}

const DEFAULT_WAIT_READY_S = 30;

export const ALLOCATE_OPTIONS = {
  'service-type': {
    alias: ['s', 'service'],
    type: 'string',
    demandOption: true,
    repeatable: true,
    describe: 'Service type (dev, api, ai, ...); give it several times to allocate several ports at once, all or nothing',
  },
  'instance-id': { alias: ['n', 'name'], type: 'string', describe: 'Instance id: the same type + id + project gets the same port back' },
  port: { alias: ['p'], type: 'string', describe: 'Try this port first' },
  project: { type: 'string', describe: 'Project directory (default: the git top level, else the current directory)' },
  pid: { type: 'string', describe: 'Owner process (default: the process that ran styxy, wrappers passed over); on a sticky allocation, hands it over' },
  ttl: { type: 'string', describe: 'Lease that ends after a time instead of an owner process (30m, 8h, 2d); on a sticky allocation, renews it from now' },
  persistent: { type: 'boolean', describe: 'Keep the allocation until it is released (also on a sticky allocation made before)' },
  label: { type: 'string', describe: 'A label recorded on a new allocation (an agent, a branch): shown by list and why' },
  session: { type: 'string', describe: 'The session recorded on a new allocation (default: $STYXY_SESSION); styxy stop --session ID ends them all' },
  json: JSON_OPTION,
  env: { type: 'boolean', describe: 'Print shell statements for eval: PORT, STYXY_PORT, STYXY_LOCK_ID, ...' },
  format: { type: 'string', describe: `Print the variables for another reader: ${ENV_FORMATS.join(', ')} (posix is --env)` },
  'env-name': { type: 'string', describe: 'With --env or --format: the variable that carries the port (default PORT)' },
  quiet: { alias: ['q'], type: 'boolean', describe: 'Print the port number alone' },
  yes: { alias: ['y'], type: 'boolean', describe: 'Accept an auto-allocation without asking (with auto-allocation.require-confirmation)' },
  'dry-run': { type: 'boolean', describe: 'Show what would be allocated; change nothing' },
  'new-type': {
    type: 'boolean',
    describe: "Create an unknown type even when its name is close to a known one (without it, 'dve' is refused: did you mean 'dev'?)",
  },
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
    const serviceTypes = ([] as string[]).concat(args['service-type']);
    const mode = outputMode(args);
    if (serviceTypes.length > 1) {
      if (args.port !== undefined) throw new StyxyError('INVALID_ARGUMENT', '--port takes one service type; allocate that one on its own');
      if (waitReadyS !== undefined) throw new StyxyError('INVALID_ARGUMENT', '--wait-ready takes one service type; allocate that one on its own');
      if (mode === 'env') checkBatchVarNames(serviceTypes, envName);
      const { runAllocateBatch } = await import('../../app/allocate');
      return present(
        args,
        () =>
          allocateAsking(mode, (_range, acceptedRanges) =>
            runAllocateBatch(context(), {
              serviceTypes,
              ...(args['instance-id'] !== undefined && { instanceId: args['instance-id'] }),
              ...(args.project !== undefined && { project: args.project }),
              ...labelAndSession(args),
              owner: { ...(pid !== undefined && { pid }), ...(ttlMs !== undefined && { ttlMs }), ...(args.persistent && { persistent: true }) },
              ...(args['dry-run'] && { dryRun: true }),
              ...(args.yes && { yes: true }),
              ...(args['new-type'] && { newType: true }),
              ...(acceptedRanges && { acceptedRanges }),
            }),
          ),
        (batch, mode) => {
          for (const result of batch.allocations) if (result.cooling) warn(`styxy: ${result.cooling.message}`);
          if (mode === 'quiet') return printLine(batch.allocations.map((r) => String(r.port)).join('\n'));
          if (mode === 'env') return printLine(renderEnv(batchEnvVars(batch.allocations, envName), format));
          printLine(batch.allocations.map(describeAllocation).join('\n'));
        },
      );
    }
    const { runAllocate } = await import('../../app/allocate');
    await present(
      args,
      () =>
        allocateAsking(mode, (acceptedRange) =>
          runAllocate(context(), {
            serviceType: serviceTypes[0] as string,
            ...(args['instance-id'] !== undefined && { instanceId: args['instance-id'] }),
            ...(args.port !== undefined && { port: portArg(args.port, '--port') }),
            ...(args.project !== undefined && { project: args.project }),
            ...labelAndSession(args),
            owner: { ...(pid !== undefined && { pid }), ...(ttlMs !== undefined && { ttlMs }), ...(args.persistent && { persistent: true }) },
            ...(args['dry-run'] && { dryRun: true }),
            ...(waitReadyS !== undefined && { waitReadyMs: waitReadyS * 1000 }),
            ...(args.yes && { yes: true }),
            ...(args['new-type'] && { newType: true }),
            ...(acceptedRange && { acceptedRange }),
          }),
        ),
      (result, mode) => {
        if (result.requestedPortNote) warn(`styxy: ${result.requestedPortNote}`);
        if (result.cooling) warn(`styxy: ${result.cooling.message}`);
        if (mode === 'quiet') return printLine(String(result.port));
        if (mode === 'env') return printLine(renderEnv(envVars(result, envName), format));
        printLine(describeAllocation(result));
      },
    );
  },
};

/**
 * `--label` and `--session`, the session falling back to $STYXY_SESSION (an agent's hook sets it
 * for every command it runs). A bad value, from either, is INVALID_ARGUMENT naming where it came from.
 */
export function labelAndSession(args: { label?: string; session?: string }, env: NodeJS.ProcessEnv = process.env): { label?: string; session?: string } {
  const session = args.session ?? (env.STYXY_SESSION ? env.STYXY_SESSION : undefined);
  const problem =
    (args.label !== undefined ? findLabelProblem(args.label) : null) ??
    (session !== undefined ? findSessionProblem(session) : null)?.replace(/^session/, args.session !== undefined ? '--session' : 'STYXY_SESSION');
  if (problem) throw new StyxyError('INVALID_ARGUMENT', problem);
  return { ...(args.label !== undefined && { label: args.label }), ...(session !== undefined && { session }) };
}

const MAX_QUESTIONS = 8;

/**
 * Runs an allocation; when an auto-allocation needs confirmation and a person is at the terminal
 * (and the output is not --json or --env), asks on stderr and runs it again with the accepted
 * range. Otherwise the CONFIRMATION_REQUIRED error, which carries the proposal, goes out as is.
 */
export async function allocateAsking<R = AllocateResult>(
  mode: OutputMode,
  run: (acceptedRange?: [number, number], acceptedRanges?: Record<string, [number, number]>) => Promise<R>,
): Promise<R> {
  let acceptedRange: [number, number] | undefined;
  // A batch may hold several new types, each asked about in turn.
  let acceptedRanges: Record<string, [number, number]> | undefined;
  for (let question = 0; ; question++) {
    try {
      return await run(acceptedRange, acceptedRanges);
    } catch (err) {
      const proposal =
        isStyxyError(err) && err.code === 'CONFIRMATION_REQUIRED'
          ? (err.details?.proposal as { serviceType: string; range: [number, number] } | undefined)
          : undefined;
      if (!proposal || mode === 'json' || mode === 'env' || !canAsk() || question >= MAX_QUESTIONS) throw err;
      if (question > 0) warn(`styxy: ${(err as Error).message}`);
      const [low, high] = proposal.range;
      if (!(await askYesNo(`Auto-allocate ports ${low}-${high} for '${proposal.serviceType}'?`))) {
        throw new StyxyError('CONFIRMATION_REQUIRED', `Declined: no range was given to '${proposal.serviceType}' and nothing was written`, {
          details: (err as StyxyError).details,
        });
      }
      acceptedRange = proposal.range;
      acceptedRanges = { ...acceptedRanges, [proposal.serviceType]: proposal.range };
    }
  }
}

/** `--env-name`: the variable that carries the port, PORT by default; INVALID_ARGUMENT when it cannot. */
export function envNameArg(value: string | undefined): string {
  const name = value ?? 'PORT';
  const problem = findEnvNameProblem(name);
  if (problem) throw new StyxyError('INVALID_ARGUMENT', `--env-name ${problem}`);
  return name;
}

export function envVars(result: AllocateResult, envName: string): [string, string][] {
  const vars: [string, string][] = [
    ['STYXY_PORT', String(result.port)],
    ['STYXY_LOCK_ID', result.lockId],
    ['STYXY_SERVICE_TYPE', result.serviceType],
    ['STYXY_INSTANCE_ID', result.instanceId],
    ['STYXY_EXISTING', result.existing ? '1' : '0'],
  ];
  return envName === 'STYXY_PORT' ? vars : [[envName, String(result.port)], ...vars];
}

/** A type's name as a variable: upper-cased, `-` and `.` as `_` (`dev-web` → `DEV_WEB`). */
export function typeVarStem(serviceType: string): string {
  return serviceType.toUpperCase().replace(/[-.]/g, '_');
}

function perTypeVarNames(serviceType: string): string[] {
  const stem = typeVarStem(serviceType);
  return [`${stem}_PORT`, `STYXY_${stem}_LOCK_ID`, `STYXY_${stem}_INSTANCE_ID`, `STYXY_${stem}_EXISTING`];
}

const BATCH_SHARED_VARS = ['STYXY_PORT', 'STYXY_LOCK_ID', 'STYXY_SERVICE_TYPE', 'STYXY_INSTANCE_ID', 'STYXY_EXISTING', 'STYXY_LOCK_IDS', 'STYXY_SERVICE_TYPES'];

/**
 * Before the lock: every variable a batch's --env would print is a valid name and no two mean
 * different things (types `a-b` and `a.b` would both be `A_B_PORT`). `--env-name` may name the
 * first type's own port variable, which then carries the same value twice.
 */
export function checkBatchVarNames(serviceTypes: readonly string[], envName: string): void {
  const owners = new Map<string, string>();
  const claim = (name: string, owner: string): void => {
    const problem = findEnvNameProblem(name);
    if (problem) {
      throw new StyxyError('INVALID_ARGUMENT', `--env cannot name a variable after ${owner}: ${problem}`, {
        details: { variable: name },
        suggestions: ['Read the batch as JSON instead: --json'],
      });
    }
    const other = owners.get(name);
    if (other !== undefined && other !== owner) {
      throw new StyxyError('INVALID_ARGUMENT', `--env would set ${name} for both ${other} and ${owner}; allocate them in separate calls or read --json`, {
        details: { variable: name },
      });
    }
    owners.set(name, owner);
  };
  const first = serviceTypes[0] as string;
  serviceTypes.forEach((t) => perTypeVarNames(t).forEach((name) => claim(name, `service type '${t}'`)));
  for (const name of BATCH_SHARED_VARS) claim(name, 'the batch');
  if (envName !== `${typeVarStem(first)}_PORT` && envName !== 'STYXY_PORT') claim(envName, '--env-name');
}

/**
 * A batch's variables: `<TYPE>_PORT` and `STYXY_<TYPE>_LOCK_ID` / `_INSTANCE_ID` / `_EXISTING` for
 * each type; `PORT` (or `--env-name`) and the usual `STYXY_*` for the first type, so a command
 * that reads PORT serves the first; `STYXY_LOCK_IDS` and `STYXY_SERVICE_TYPES` list them all.
 */
export function batchEnvVars(results: readonly AllocateResult[], envName: string): [string, string][] {
  const vars: [string, string][] = [];
  for (const r of results) vars.push([`${typeVarStem(r.serviceType)}_PORT`, String(r.port)]);
  const first = results[0] as AllocateResult;
  for (const pair of envVars(first, envName)) if (!vars.some(([name]) => name === pair[0])) vars.push(pair);
  for (const r of results) {
    const stem = typeVarStem(r.serviceType);
    vars.push([`STYXY_${stem}_LOCK_ID`, r.lockId], [`STYXY_${stem}_INSTANCE_ID`, r.instanceId], [`STYXY_${stem}_EXISTING`, r.existing ? '1' : '0']);
  }
  vars.push(['STYXY_LOCK_IDS', results.map((r) => r.lockId).join(' ')], ['STYXY_SERVICE_TYPES', results.map((r) => r.serviceType).join(' ')]);
  return vars;
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
  if (r.existing) {
    const pid = r.existingPid ? ` (PID ${r.existingPid})` : '';
    return [
      `ℹ ${r.message}${dry}`,
      `↪ Existing instance '${r.existingInstanceId}' is running on port ${bold(String(r.port))}${pid}`,
      ...(r.ready ? [`  It accepts connections (waited ${((r.waitedMs ?? 0) / 1000).toFixed(1)} s)`] : []),
      `  Use port ${r.port} (configure your client to connect to ${r.port}); lock ${r.lockId}${ownerChangeNote(r)}`,
    ].join('\n');
  }
  if (r.reused) return `Reusing port ${bold(String(r.port))} for ${r.serviceType} instance '${r.instanceId}' (lock ${r.lockId})${ownerChangeNote(r)}${dry}`;
  const verb = r.dryRun ? 'Would allocate' : 'Allocated';
  const home = r.homePort ? ' (its home port, as last time)' : '';
  return `${green('✔')} ${verb} port ${bold(String(r.port))}${home} for ${r.serviceType}${r.singleInstance ? ' (single instance)' : ''} — instance '${r.instanceId}', lock ${r.lockId}${dry}`;
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
