import type { StyxyCommand } from '../command-spec';
import { allocateCommand } from './allocate';
import { auditCommand } from './audit';
import { checkCommand } from './check';
import { cleanupCommand } from './cleanup';
import { doctorCommand } from './doctor';
import { listCommand } from './list';
import { releaseCommand } from './release';
import { runCommand } from './run';
import { scanCommand } from './scan';
import { startCommand } from './start';
import { urlCommand } from './url';

/** The commands declared as data, which the fast path can parse without yargs. */
export const COMMANDS: ReadonlyMap<string, StyxyCommand> = new Map(
  [
    allocateCommand,
    runCommand,
    startCommand,
    releaseCommand,
    listCommand,
    checkCommand,
    scanCommand,
    cleanupCommand,
    doctorCommand,
    auditCommand,
    urlCommand,
  ].map((c) => [c.name, c as StyxyCommand]),
);
