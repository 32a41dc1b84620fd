import * as fs from 'fs';
import * as path from 'path';
import type { StyxyCommand, StyxyCommandGroup } from '../../lib/cli/command-spec';
import { COMMANDS } from '../../lib/cli/commands/index';
import { STACK_COMMANDS } from '../../lib/cli/commands/stack-commands';
import { configCommand } from '../../lib/cli/commands/config';
import { agentGroup } from '../../lib/cli/commands/agent';
import { hookCommand } from '../../lib/cli/commands/hook';
import { mcpCommand } from '../../lib/cli/commands/mcp';
import { COMMAND_ALIASES, OUTPUT_SCHEMAS, asksForJson, checkOutput, outputProblems, schemaNameOf } from '../helpers/output-schemas';

// The --json documents' schemas (schemas/output/): one per command the CLI declares, each strict
// enough that a renamed, missing or mistyped field fails. test/helpers/cli.ts checks every
// document the integration tests see against them; these tests check the schemas themselves.

/** Every command the CLI declares, as yargs is given them (lib/cli/parser.ts): the fast path's, the rare ones, the groups. */
const DECLARED: readonly (StyxyCommand | StyxyCommandGroup)[] = [...COMMANDS.values(), ...STACK_COMMANDS, configCommand, agentGroup, hookCommand, mcpCommand];

/** Each command that runs, by schema name (`config-auto-allocation-status`), with its other names. */
function leafCommands(): { name: string; aliases: string[] }[] {
  const leaves: { name: string; aliases: string[] }[] = [];
  const visit = (command: StyxyCommand | StyxyCommandGroup, prefix: string[]): void => {
    if ('subcommands' in command) return command.subcommands.forEach((sub) => visit(sub, [...prefix, command.name]));
    leaves.push({ name: [...prefix, command.name].join('-'), aliases: (command.aliases ?? []).map((alias) => [...prefix, alias].join('-')) });
  };
  DECLARED.forEach((c) => visit(c, []));
  return leaves;
}

const schemaFiles = fs
  .readdirSync(OUTPUT_SCHEMAS)
  .filter((f) => f.endsWith('.schema.json'))
  .map((f) => f.replace(/\.schema\.json$/, ''));

/** A real `allocate -s dev -n web --json` answer, as docs/cli.md shows it. */
const ALLOCATED = {
  success: true,
  port: 3061,
  lockId: 'dev-web-8f3a1c',
  serviceType: 'dev',
  instanceId: 'web',
  project: '/home/me/app',
  owner: { kind: 'process', pid: 4242, startTime: '1234567', command: 'bash' },
  allocatedAt: '2026-11-21T12:00:00.000Z',
  outcome: 'new',
  existing: false,
  reused: false,
  listening: false,
  autoAllocated: false,
  singleInstance: false,
  pruned: 0,
  derivedPort: true,
  url: 'http://localhost:3061',
};

test('every command the CLI declares has a schema, and every schema is a command (or the shared shapes)', () => {
  const commands = leafCommands().map((c) => c.name);
  expect(commands).toEqual(expect.arrayContaining(['allocate', 'list', 'config-auto-allocation-status', 'agent-install', 'up', 'mcp']));
  expect(commands.filter((name) => !schemaFiles.includes(name))).toEqual([]);
  expect(schemaFiles.filter((name) => name !== 'common' && !commands.includes(name))).toEqual([]);
});

test('the aliases the test helper knows are those the commands declare', () => {
  expect(COMMAND_ALIASES).toEqual(Object.fromEntries(leafCommands().flatMap((c) => c.aliases.map((alias) => [alias, c.name]))));
});

test.each(schemaFiles)('%s.schema.json compiles in strict mode, under its own name', (name) => {
  const schema = JSON.parse(fs.readFileSync(path.join(OUTPUT_SCHEMAS, `${name}.schema.json`), 'utf8'));
  expect(schema.$schema).toBe('http://json-schema.org/draft-07/schema#');
  expect(schema.$id).toBe(`https://styxy.dev/schemas/output/${name}.schema.json`);
  expect(typeof schema.title).toBe('string');
  // Compiling resolves every $ref (to the shared shapes, to state.schema.json) or throws.
  expect(() => outputProblems(name === 'common' ? null : name, {})).not.toThrow();
});

test.each(schemaFiles.filter((n) => n !== 'common'))('%s: a failure document conforms; one missing its suggestions does not', (name) => {
  const failure = { success: false, error: { code: 'USAGE', message: 'Unknown argument: x', suggestions: ['See: styxy --help'] } };
  expect(outputProblems(name, failure)).toEqual([]);
  expect(outputProblems(name, { ...failure, error: { ...failure.error, details: { command: 'x' } } })).toEqual([]);
  expect(outputProblems(name, { success: false, error: { code: 'USAGE', message: 'm' } }).join('\n')).toMatch(/suggestions/);
  expect(outputProblems(name, { success: false, error: { ...failure.error, code: 'usage error' } }).join('\n')).toMatch(/code/);
  expect(outputProblems(name, { ...failure, stack: 'at x' }).join('\n')).toMatch(/additional/);
});

test('an allocate document conforms; a renamed, a missing, a mistyped or an unknown field does not', () => {
  expect(outputProblems('allocate', ALLOCATED)).toEqual([]);
  const { port, ...withoutPort } = ALLOCATED;
  expect(outputProblems('allocate', withoutPort).join('\n')).toMatch(/required property 'port'/);
  expect(outputProblems('allocate', { ...withoutPort, prot: port }).join('\n')).toMatch(/additional properties.*prot/);
  expect(outputProblems('allocate', { ...ALLOCATED, port: '3061' }).join('\n')).toMatch(/\/port must be integer/);
  expect(outputProblems('allocate', { ...ALLOCATED, reused: 1 }).join('\n')).toMatch(/\/reused must be boolean/);
  // A batch is its allocations, each checked as one.
  expect(outputProblems('allocate', { success: true, allocations: [ALLOCATED, ALLOCATED], pruned: 0 })).toEqual([]);
  expect(outputProblems('allocate', { success: true, allocations: [withoutPort], pruned: 0 }).join('\n')).toMatch(
    /\/allocations\/0 must have required property 'port'/,
  );
});

test('an allocation record inside a document is checked against the state schema', () => {
  const record = {
    lockId: 'dev-web-8f3a1c',
    serviceType: 'dev',
    instanceId: 'web',
    port: 3061,
    project: '/p',
    owner: { kind: 'persistent' },
    allocatedAt: 'now',
  };
  expect(outputProblems('release', { success: true, released: [record], pruned: 0 })).toEqual([]);
  expect(outputProblems('release', { success: true, released: [{ ...record, owner: { kind: 'forever' } }], pruned: 0 })).not.toEqual([]);
  expect(outputProblems('list', { success: true, allocations: [record], pruned: 0 }).join('\n')).toMatch(/singleInstance/);
});

test('the command of a line: groups, aliases and flags; none for a line that names no command', () => {
  expect(schemaNameOf(['allocate', '-s', 'dev', '--json'])).toBe('allocate');
  expect(schemaNameOf(['--debug', 'list', '--json'])).toBe('list');
  expect(schemaNameOf(['config', 'undo-auto', '--json'])).toBe('config-undo-auto-allocation');
  expect(schemaNameOf(['config', 'auto-allocation', 'set-rule', 'db-*', '--json'])).toBe('config-auto-allocation-set-rule');
  expect(schemaNameOf(['agent', 'install', 'claude-code', '--json'])).toBe('agent-install');
  expect(schemaNameOf(['frob', '--json'])).toBeNull();
  expect(schemaNameOf(['config', '--json'])).toBeNull();
  expect(asksForJson(['list', '--json'])).toBe(true);
  expect(asksForJson(['allocate', '-s', 'dev', '--format', 'json'])).toBe(true);
  expect(asksForJson(['allocate', '-s', 'dev', '--format=json'])).toBe(true);
  expect(asksForJson(['run', '-s', 'dev', '--', 'tool', '--json'])).toBe(false);
  expect(asksForJson(['run', '-s', 'dev', '--port-flag', '--json', '--', 'tool'])).toBe(false);
});

test('checkOutput throws on a document that fails, names the schema and the problem; leaves what is not a --json document', () => {
  expect(() => checkOutput(['allocate', '-s', 'dev', '--json'], JSON.stringify(ALLOCATED))).not.toThrow();
  expect(() => checkOutput(['allocate', '-s', 'dev', '--json'], JSON.stringify({ ...ALLOCATED, port: undefined }))).toThrow(
    /allocate\.schema\.json[\s\S]*required property 'port'/,
  );
  // A line naming no command answers with a failure only.
  expect(() => checkOutput(['frob', '--json'], JSON.stringify({ success: true }))).toThrow(/common\.schema\.json/);
  // Asked for JSON, a command prints one document: not none, not two, not text.
  expect(() => checkOutput(['list', '--json'], '', 0)).toThrow(/did not print one JSON document/);
  expect(() => checkOutput(['list', '--json'], '{"success":true,"allocations":[],"pruned":0}\n{}\n', 0)).toThrow(/did not print one JSON document/);
  // ...unless it was killed before it could.
  expect(() => checkOutput(['list', '--json'], '', null)).not.toThrow();
  // Human output, and what `run` prints of its command's, are not Styxy's documents.
  expect(() => checkOutput(['run', '-s', 'dev', '--json', '--', 'node', 'x.js'], 'hello', 0)).not.toThrow();
  expect(() => checkOutput(['list'], '{"success": 1}')).not.toThrow();
  expect(() => checkOutput(['run', '-s', 'dev', '--json', '--', 'node', 'x.js'], '{"success": 1}')).not.toThrow();
  expect(() => checkOutput(['run', '-s', 'dev', '--json', '--', 'node', 'x.js'], '{"success": false}')).toThrow(/run\.schema\.json/);
});
