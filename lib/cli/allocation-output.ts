import { envFor, type EnvAllocation } from '../core/env-contract';
import { renderEnv } from './env-format';
import { envFormatOf, outputMode, printLine, type OutputFormat, type OutputOptions } from './output';

/** Every format of a command that prints allocations it made (allocate, start). */
export const ALLOCATION_FORMATS: readonly OutputFormat[] = ['json', 'env', 'fish', 'powershell', 'dotenv', 'port', 'url'];

/**
 * `port` and `url`: the bare values, one a line, in the order given. False for any other mode,
 * which the caller prints.
 */
export function printBare(results: readonly { port: number; url?: string }[], args: OutputOptions): boolean {
  const mode = outputMode(args);
  if (mode !== 'quiet' && mode !== 'url') return false;
  if (results.length > 0) printLine(results.map((r) => (mode === 'quiet' ? String(r.port) : (r.url ?? ''))).join('\n'));
  return true;
}

/**
 * Prints one call's allocations in the machine format the line asks for: `port` and `url` (see
 * `printBare`), or the env formats: the variables of the contract (core/env-contract.ts), a
 * batch's when there are several, quoted for their reader. False for human text (and JSON,
 * which `present` prints), which each command words itself.
 */
export function printAllocations(results: readonly EnvAllocation[], args: OutputOptions, envName = 'PORT'): boolean {
  if (printBare(results, args)) return true;
  if (outputMode(args) !== 'env') return false;
  printLine(renderEnv(envFor(results, envName), envFormatOf(args)));
  return true;
}
