import * as fs from 'fs';
import * as path from 'path';
import Ajv, { type ValidateFunction } from 'ajv';
import type { StyxyCommand, StyxyCommandGroup } from '../../lib/cli/command-spec';
import { COMMANDS } from '../../lib/cli/commands/index';
import { STACK_COMMANDS } from '../../lib/cli/commands/stack-commands';
import { configCommand } from '../../lib/cli/commands/config';
import { agentGroup } from '../../lib/cli/commands/agent';
import { hookCommand } from '../../lib/cli/commands/hook';
import { mcpCommand } from '../../lib/cli/commands/mcp';

/** The published schemas of the `--json` documents, one file per command (see docs/cli.md, JSON output). */
export const OUTPUT_SCHEMAS = path.resolve(__dirname, '..', '..', 'schemas', 'output');
const SCHEMAS = path.resolve(OUTPUT_SCHEMAS, '..');
const BASE = 'https://styxy.dev/schemas/output/';

/** Every command the CLI declares, as yargs is given them (the fast path's, the rare ones, the groups). */
export function declaredCommands(): readonly (StyxyCommand | StyxyCommandGroup)[] {
  return [...COMMANDS.values(), ...STACK_COMMANDS, configCommand, agentGroup, hookCommand, mcpCommand];
}

/** The schema name of every command that runs (`config-auto-allocation-status`), groups walked down. */
export function leafCommandNames(): string[] {
  const names: string[] = [];
  const visit = (command: StyxyCommand | StyxyCommandGroup, prefix: string[]): void => {
    if ('subcommands' in command) return command.subcommands.forEach((sub) => visit(sub, [...prefix, command.name]));
    names.push([...prefix, command.name].join('-'));
  };
  declaredCommands().forEach((c) => visit(c, []));
  return names;
}

/**
 * The schema name for a command line (`['config', 'undo-auto', '--json']` → `config-undo-auto-allocation`),
 * or null when it names no command Styxy has (then only a failure document may come out). The
 * command words come before the options in every line the tests run; flags are skipped.
 */
export function schemaNameOf(argv: readonly string[]): string | null {
  let level: readonly (StyxyCommand | StyxyCommandGroup)[] = declaredCommands();
  const words: string[] = [];
  for (const word of argv) {
    if (word === '--') return null;
    if (word.startsWith('-')) continue;
    const found = level.find((c) => c.name === word || ('aliases' in c && c.aliases?.includes(word)));
    if (!found) return null;
    words.push(found.name);
    if (!('subcommands' in found)) return words.join('-');
    level = found.subcommands;
  }
  return null;
}

/** The line asks for one JSON document: `--json` or `--format json` before any `--`. */
export function asksForJson(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  const own = end === -1 ? argv : argv.slice(0, end);
  return own.some((word, i) => word === '--json' || word === '--format=json' || (word === '--format' && own[i + 1] === 'json'));
}

let ajv: Ajv | undefined;
const compiled = new Map<string, ValidateFunction>();

/** Every schema added once per test worker; each command's is compiled the first time it is needed. */
function validator(name: string): ValidateFunction {
  const known = compiled.get(name);
  if (known) return known;
  if (!ajv) {
    ajv = new Ajv({ allErrors: true, strict: true });
    for (const file of ['state.schema.json', 'config.schema.json']) ajv.addSchema(JSON.parse(fs.readFileSync(path.join(SCHEMAS, file), 'utf8')));
    for (const file of fs.readdirSync(OUTPUT_SCHEMAS).filter((f) => f.endsWith('.schema.json'))) {
      ajv.addSchema(JSON.parse(fs.readFileSync(path.join(OUTPUT_SCHEMAS, file), 'utf8')));
    }
  }
  const validate = ajv.getSchema(`${BASE}${name}.schema.json`);
  if (!validate) throw new Error(`no schema ${name}.schema.json in schemas/output`);
  compiled.set(name, validate);
  return validate;
}

/** The problems of `document` against the schema `name` (`allocate`; null: the failure shape alone): empty when it conforms. */
export function outputProblems(name: string | null, document: unknown): string[] {
  const validate = name === null ? failureValidator() : validator(name);
  if (validate(document)) return [];
  // An if/then/else adds "must match else" to the problems found inside it: they say it all.
  return (validate.errors ?? [])
    .filter((e) => e.keyword !== 'if')
    .map((e) => `${e.instancePath || '/'} ${e.message ?? e.keyword}${e.params ? ` ${JSON.stringify(e.params)}` : ''}`);
}

function failureValidator(): ValidateFunction {
  const known = compiled.get('#failure');
  if (known) return known;
  validator('common');
  const validate = ajv!.getSchema(`${BASE}common.schema.json#/definitions/failure`);
  if (!validate) throw new Error('no failure definition in common.schema.json');
  compiled.set('#failure', validate);
  return validate;
}

/**
 * Checks what a styxy command line printed: when the line asked for JSON and stdout is one JSON
 * document, it must conform to the schema of its command (a line that names no command: the
 * failure shape). Throws, naming the line and every problem, so the test that ran it fails.
 * `styxy run` without --detach prints the command's own output: only its failures are checked.
 */
export function checkOutput(argv: readonly string[], stdout: string): void {
  if (!asksForJson(argv)) return;
  let document: unknown;
  try {
    document = JSON.parse(stdout);
  } catch {
    return;
  }
  const name = schemaNameOf(argv);
  const failed = typeof document === 'object' && document !== null && (document as { success?: unknown }).success === false;
  if (name === 'run' && !failed && !argv.includes('--detach') && !argv.includes('-d')) return;
  const problems = outputProblems(name, document);
  if (problems.length === 0) return;
  throw new Error(
    `styxy ${argv.join(' ')} printed a --json document that fails schemas/output/${name ?? 'common'}.schema.json:\n  ` +
      `${problems.join('\n  ')}\ndocument: ${stdout.slice(0, 4000)}`,
  );
}
