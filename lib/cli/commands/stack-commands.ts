import type { StyxyCommand } from '../command-spec';
import { composeCommand } from './compose';
import { downCommand, statusCommand, upCommand } from './stack';

/** The stack commands (`up`, `down`, `status`, `compose`): registered with yargs only. */
export const STACK_COMMANDS: readonly StyxyCommand[] = [upCommand, downCommand, statusCommand, composeCommand];
