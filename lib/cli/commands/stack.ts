import { StyxyError } from '../../errors';
import type { UpNotice, UpService } from '../../app/up';
import { writeFd } from '../../os/stdio';
import { JSON_OPTION, context, present, type CommonArgs } from '../command-kit';
import { declare, type StyxyCommand } from '../command-spec';
import { bold, colourEnabled, glyph, printLine, shown, warn } from '../output';

interface UpArgs extends CommonArgs {
  detach?: boolean;
  wait?: string;
}

/** The colours the services' prefixes cycle through, as concurrently and overmind do. */
const PREFIX_COLOURS = ['36', '35', '33', '34', '32', '31'];

export const upCommand: StyxyCommand<UpArgs> = {
  name: 'up',
  command: 'up',
  describe: "Start the stack of this project's .styxy.json (its services): ports in one batch, each service with its siblings' URLs",
  options: {
    detach: {
      alias: ['d'],
      type: 'boolean',
      describe: 'Start every service in the background (output to logs under $STYXY_HOME/logs) and return once each listens',
    },
    wait: { type: 'string', describe: 'With --detach: how long each service has to listen, in seconds (default 60)' },
    json: JSON_OPTION,
  },
  positionals: [],
  builder: (yargs) =>
    declare(yargs, upCommand)
      .example('$0 up', 'Run the stack in the foreground; Ctrl-C ends every service and releases every port')
      .example('$0 up --detach', 'Start it in the background; styxy status shows it, styxy down stops it')
      .epilog(
        'Each service gets PORT, STYXY_PORT and STYXY_URL, and <NAME>_PORT and <NAME>_URL of every service of the stack ' +
          '(web, api → WEB_URL, API_URL). A service starts once those in its depends_on listen. ' +
          "In the foreground, every line a service writes is prefixed with its name; when one service exits, the others are ended and up exits with that service's status. See docs/stacks.md.",
      ),
  handler: async (args) => {
    const waitS = args.wait === undefined ? undefined : /^[0-9]{1,5}(\.[0-9]+)?$/.test(args.wait) ? Number(args.wait) : NaN;
    if (Number.isNaN(waitS) || waitS === 0) throw new StyxyError('INVALID_ARGUMENT', `--wait ${JSON.stringify(args.wait)} is not a number of seconds`);
    if (waitS !== undefined && !args.detach) throw new StyxyError('INVALID_ARGUMENT', '--wait goes with --detach');
    if (args.json && !args.detach) throw new StyxyError('INVALID_ARGUMENT', "--json goes with --detach: in the foreground, up prints the services' output");
    const { runUp, runUpDetached } = await import('../../app/up');
    if (args.detach) {
      return present(
        args,
        () => runUpDetached(context(), { ...(waitS !== undefined && { waitMs: waitS * 1000 }) }),
        (result) => {
          // Padded as status pads them, so that the ports and URLs line up.
          const width = Math.max(...result.services.map((s) => s.name.length));
          printLine(result.services.map((s) => describeStarted(s, width)).join('\n'));
        },
      );
    }
    const painter = prefixPainter();
    const outcome = await runUp(context(), {
      onLine: (service, stream, line) => writeFd(stream === 'stdout' ? 1 : 2, `${painter(service)}${line}\n`),
      onNotice: (notice) => tellNotice(notice, painter),
    });
    return outcome.status;
  },
};

/** Each service's name, padded to the longest, coloured only where colour is on. */
function prefixPainter(): (service: string) => string {
  let width = 0;
  const colours = new Map<string, string>();
  return (service) => {
    if (!colours.has(service)) colours.set(service, PREFIX_COLOURS[colours.size % PREFIX_COLOURS.length] as string);
    width = Math.max(width, service.length);
    const label = `${service.padEnd(width)} |`;
    return colourEnabled() ? `\u001b[${colours.get(service)}m${label}\u001b[0m ` : `${label} `;
  };
}

function describeStarted(s: UpService, width: number): string {
  const pid = s.pid === null ? 'already running elsewhere (single instance)' : `PID ${s.pid}`;
  return `${bold(s.name)}${' '.repeat(width - s.name.length)}  port ${s.port}  ${s.url}  ${pid}${s.logPath ? `  log ${shown(s.logPath)}` : ''}`;
}

function tellNotice(notice: UpNotice, painter: (service: string) => string): void {
  switch (notice.kind) {
    case 'allocated':
      // Register every name first, so the prefixes are aligned from the first line on.
      for (const s of notice.services) painter(s.name);
      for (const s of notice.services) warn(`styxy: ${s.name} ${glyph('arrow')} port ${s.port} (${s.url})`);
      return;
    case 'started':
      return warn(`styxy: started ${notice.service.name} (PID ${notice.service.pid})`);
    case 'existing':
      return warn(`styxy: ${notice.service.name} is a single instance already running on port ${notice.service.port}; not starting it again`);
    case 'waiting':
      return warn(`styxy: ${notice.service} waits until ${notice.dependsOn.join(', ')} listen${notice.dependsOn.length === 1 ? 's' : ''}`);
    case 'exited':
      return warn(`styxy: ${notice.service} exited${notice.exit.signal ? ` (${notice.exit.signal})` : ''} with status ${notice.exit.status}`);
    case 'stopping':
      return warn(notice.reason === 'signal' ? `styxy: ${notice.signal}: ending every service` : `styxy: ${notice.service} ended: ending the others`);
  }
}

export const downCommand: StyxyCommand<CommonArgs> = {
  name: 'down',
  command: 'down',
  describe: "Stop this project's stack (started by up or up --detach) and release its ports",
  options: { json: JSON_OPTION },
  positionals: [],
  builder: (yargs) => declare(yargs, downCommand).example('$0 down', 'End every service of the stack and release its ports'),
  handler: async (args) => {
    const { runStackDown } = await import('../../app/stack');
    await present(
      args,
      () => runStackDown(context()),
      (result) => {
        if (result.supervisorPid !== null) printLine(`Asked styxy up (PID ${result.supervisorPid}) to end the stack`);
        for (const s of result.stopped) printLine(`Stopped ${s.name} (PID ${s.pid})`);
        if (result.supervisorPid === null && result.stopped.length === 0) printLine('Nothing of this stack was running');
        if (result.released.length > 0) printLine(`Released ${result.released.length} port${result.released.length === 1 ? '' : 's'}`);
      },
    );
  },
};

export const statusCommand: StyxyCommand<CommonArgs> = {
  name: 'status',
  command: 'status',
  describe: "Each service of this project's stack: port, URL, PID, and whether it listens",
  options: { json: JSON_OPTION },
  positionals: [],
  builder: (yargs) => declare(yargs, statusCommand).example('$0 status --json', 'The stack as JSON'),
  handler: async (args) => {
    const { runStackStatus } = await import('../../app/stack');
    await present(
      args,
      () => runStackStatus(context()),
      (result) => {
        printLine(`${shown(result.project)}: ${result.state}${result.supervisorPid !== null ? ` (styxy up, PID ${result.supervisorPid})` : ''}`);
        const width = Math.max(...result.services.map((s) => s.name.length));
        for (const s of result.services) {
          const port = s.port === null ? 'no port' : `port ${s.port}  ${s.url}`;
          const pid = s.pid === null ? '' : `  PID ${s.pid}`;
          printLine(`  ${s.name.padEnd(width)}  ${port}${pid}  ${s.listening ? 'listening' : 'not listening'}`);
        }
      },
    );
  },
};
