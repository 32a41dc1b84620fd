import { StyxyError } from '../errors';
import { assertSupportedPlatform } from '../os/platform';
import { parsePort } from '../core/names';
import type { AppContext } from '../app/context';
import { outputMode, printJson, warn, type OutputMode, type OutputOptions } from './output';

/** What every handler receives besides its own options. */
export interface CommonArgs extends OutputOptions {
  _: (string | number)[];
}

/** `--json`, the same on every command. */
export const JSON_OPTION = { type: 'boolean', describe: 'Print one JSON document on stdout (also on failure)' } as const;

/**
 * The transaction context, loaded with the app layer only when a command runs. Its warnings go
 * out through the output layer, which escapes the control characters of the paths and messages
 * they quote.
 */
export function context(): AppContext {
  // Every command reaches Styxy's files through here, after its options are parsed (so --json
  // reports the refusal as JSON) and before anything is read.
  assertSupportedPlatform();
  return { ...(require('../app/context') as typeof import('../app/context')).defaultContext(), warn };
}

/** Runs a command's use case and prints its result: JSON as is, or the human rendering. */
export async function present<R>(args: OutputOptions, run: () => Promise<R> | R, human: (result: R, mode: OutputMode) => void): Promise<void> {
  const mode = outputMode(args);
  const result = await run();
  if (mode === 'json') printJson(result);
  else human(result, mode);
}

/** A port argument: an integer 1-65535, or INVALID_ARGUMENT. */
export function portArg(value: unknown, flag: string): number {
  const port = parsePort(value);
  if (port === null) throw new StyxyError('INVALID_ARGUMENT', `${flag} must be a port number from 1 to 65535, got ${JSON.stringify(String(value))}`);
  return port;
}
