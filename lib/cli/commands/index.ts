import type { StyxyCommand } from '../command-spec';
import { allocateCommand } from './allocate';
import { auditCommand } from './audit';
import { checkCommand } from './check';
import { cleanupCommand } from './cleanup';
import { doctorCommand } from './doctor';
import { hereCommand, listCommand } from './list';
import { releaseCommand } from './release';
import { runCommand } from './run';
import { scanCommand } from './scan';
import { startCommand } from './start';
import { stopCommand } from './stop';
import { urlCommand } from './url';
import { whyCommand } from './why';

/** The commands declared as data, which the fast path can parse without yargs. */
export const COMMANDS: ReadonlyMap<string, StyxyCommand> = new Map(
  [
    allocateCommand,
    runCommand,
    startCommand,
    releaseCommand,
    listCommand,
    hereCommand,
    checkCommand,
    scanCommand,
    cleanupCommand,
    doctorCommand,
    auditCommand,
    urlCommand,
    whyCommand,
    stopCommand,
  ].map((c) => [c.name, c as StyxyCommand]),
);
