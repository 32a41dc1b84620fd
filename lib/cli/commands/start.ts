import { declare, outputOptions, type StyxyCommand } from '../command-spec';
import { ALLOCATION_FORMATS } from '../allocation-output';
import { RUN_OPTIONS, startHandler, type RunArgs } from './run';

// start is always detached: its output options say so without run's "with --detach".
const { detach: _detach, ...runOptions } = RUN_OPTIONS;
const options = { ...runOptions, ...outputOptions(ALLOCATION_FORMATS) };

/** `styxy start`: `styxy run --detach` under a name of its own (lib/app/detach.ts). */
export const startCommand: StyxyCommand<RunArgs> = {
  name: 'start',
  command: 'start',
  describe: 'Start a server in the background on an allocated port, wait until it listens, print where (run --detach)',
  options,
  positionals: [],
  trailingCommand: true,
  formats: ALLOCATION_FORMATS,
  builder: (yargs) =>
    declare(yargs, startCommand)
      .usage('$0 start -s <type> [options] -- <command> [args...]')
      .example('$0 start -s dev -n web -- npm run dev', 'Prints port, URL, PID and log path once the server listens; the server keeps running')
      .example('$0 start -s ai -n rag --json -- python3 rag.py', 'ai is single-instance: when rag already runs, nothing is started (started: false)')
      .epilog(
        'The server runs in its own session (setsid) with stdin from /dev/null and its output in $STYXY_HOME/logs/<type>-<id>-<project hash>.log; ' +
          'the allocation belongs to the process listening on the port and ends with it (styxy release, or ending the server, frees it). ' +
          'start exits 0 once the server listens, and 125 when it could not start it (the error code says why: SERVER_EXITED with the log tail, WAIT_TIMEOUT, ...).',
      ) as never,
  handler: (args) => startHandler(args),
};
