import type { StyxyCommand } from '../../../lib/cli/command-spec';
import { COMMANDS } from '../../../lib/cli/commands/index';
import { fastParse } from '../../../lib/cli/fast-parse';
import { buildParser } from '../../../lib/cli/parser';

/**
 * What the real yargs parser (parser.ts: the same commands, global options and parser
 * configuration styxy runs with) makes of a command line. Only the handlers are replaced, by
 * ones that record the arguments they are given.
 */
async function yargsReading(argv: string[]): Promise<Record<string, unknown>> {
  let parsed: Record<string, unknown> = {};
  const recording = new Map<string, StyxyCommand>(
    [...COMMANDS].map(([name, command]) => [name, { ...command, handler: async (args: Record<string, unknown>) => void (parsed = args) }]),
  );
  await buildParser(argv, { onStatus: () => undefined, onParsed: () => undefined }, recording).parseAsync();
  return parsed;
}

function canonical(args: Record<string, unknown>, command: StyxyCommand): Record<string, unknown> {
  const keys = [...Object.keys(command.options), ...command.positionals.map((p) => p.name), 'debug'];
  const options = Object.fromEntries(keys.filter((k) => args[k] !== undefined).map((k) => [k, String(args[k])]));
  return args['--'] === undefined ? options : { ...options, '--': args['--'] };
}

describe('the fast path reads a line exactly as yargs does', () => {
  test.each([
    ['allocate', '-s', 'dev'],
    ['allocate', '-s', 'dev', '--json'],
    ['allocate', '--service-type', 'api', '-n', 'web', '--env', '--env-name', 'API_PORT'],
    ['allocate', '--service=ai', '--name=rag', '-q'],
    ['allocate', '-s', 'dev', '-p', '3050', '--project', '/tmp/x', '--dry-run'],
    ['allocate', '-s', 'dev', '--pid', '123'],
    ['allocate', '-s', 'dev', '--ttl', '8h', '--debug'],
    ['list', '--verbose', '--debug'],
    ['list', '-v'],
    ['url', '-s', 'dev', '-n', 'web', '--open', '--host-style', 'subdomain'],
    ['allocate', '-s', 'dev', '--host-style', 'subdomain', '--json'],
    ['allocate', '-s', 'ai', '--wait-ready', '60', '--json'],
    ['allocate', '-s', 'ai', '--wait-ready', '--json'],
    ['allocate', '-s', 'ai', '--wait-ready'],
    ['allocate', '-s', 'dev', '--persistent', '--yes'],
    ['allocate', '-s', 'dev', '-s', 'api', '--service', 'database', '--env'],
    ['allocate', '--service-type=dev', '-s', 'api', '-n', 'web', '--json'],
    ['release', 'dev-web-1a2b3c'],
    ['release', 'dev-a-1a2b3c', 'api-b-4d5e6f', 'dev-c-000000', '--json'],
    ['release'],
    ['release', '-s', 'api', '-n', 'backend', '--json'],
    ['release', '-s', 'dev', '--all'],
    ['list'],
    ['list', '-s', 'dev', '-v', '--json'],
    ['check', '3000'],
    ['check', '3000', '--json'],
    ['why', '3000'],
    ['why', '3000', '--json'],
    ['stop', '3000', '--dry-run', '--json'],
    ['stop', '-s', 'dev', '-n', 'web', '--force', '--grace', '2s'],
    ['stop', '--session', 'claude-code:3f2a'],
    ['list', '--project', '--json'],
    ['list', '--project', '/tmp/x', '-v'],
    ['here', '-v'],
    ['allocate', '-s', 'dev', '--label', 'agent 2', '--session', 's-1'],
    ['run', '-s', 'dev', '--label', 'x', '--', 'npm', 'start'],
    ['cleanup', '--gone', '--json'],
    ['scan', '--start', '3000', '--end', '3099'],
    ['cleanup', '--force', '--json'],
    ['cleanup', '--force', '-y'],
    ['doctor', '--json'],
    ['run', '-s', 'dev', '--', 'npm', 'run', 'dev'],
    ['run', '-s', 'dev', '--port-flag', '--port', '--', 'vite', '--host'],
    ['run', '-s', 'dev', '--port-flag=--port=', '-n', 'web', '--', 'x', '-s', 'api', '--json'],
    ['run', '-s', 'dev', '--env-name', 'VITE_PORT', '--', 'a', '--', 'b'],
    ['run', '-s', 'dev', '--port-flag', '-p', '-p', '3000', '--', 'a'],
    ['start', '-s', 'dev', '-n', 'web', '--ready-timeout', '30s', '--json', '--', 'npm', 'run', 'dev'],
    ['run', '--detach', '-s', 'ai', '--', 'python3', 'rag.py'],
    ['run', '-s', 'bad;name', '--port-flag', '--json', '--', 'node', '-e', '0'],
    ['run', '-s', 'dev', '--', 'node', '--json', '--debug'],
    ['allocate', '-s', 'dev', '--format', 'fish'],
    ['allocate', '-s', 'dev', '--format=port', '-q'],
    ['allocate', '-s', 'dev', '--json', '--format', 'json'],
    ['list', '-q'],
    ['here', '--format', 'port'],
    ['url', '-s', 'dev', '--format', 'url'],
    ['start', '-s', 'dev', '--format', 'env', '--env-name', 'WEB_PORT', '--', 'vite'],
  ])('%j', async (...argv) => {
    const fast = fastParse(argv, COMMANDS);
    expect(fast.kind).toBe('command');
    if (fast.kind !== 'command') return;
    expect(canonical(fast.args, fast.command)).toEqual(canonical(await yargsReading(argv), fast.command));
  });

  test('flags that disagree are read here too: invoke() refuses them, for both parsers alike', () => {
    expect(fastParse(['allocate', '-s', 'dev', '--json', '--env'], COMMANDS).kind).toBe('command');
    expect(fastParse(['allocate', '-s', 'dev', '--format', 'env', '-q'], COMMANDS).kind).toBe('command');
  });

  test('a --json that is the value of --port-flag is not the --json flag', () => {
    const fast = fastParse(['run', '-s', 'dev', '--port-flag', '--json', '--', 'x'], COMMANDS);
    expect(fast.kind === 'command' && fast.args).toMatchObject({ 'port-flag': '--json' });
    expect(fast.kind === 'command' && fast.args.json).toBeUndefined();
  });
});

describe('the fast path leaves to yargs what it is not sure of', () => {
  test.each([
    [[]],
    [['--help']],
    [['allocate', '--help']],
    [['allocate', '-h']],
    [['allocate']],
    [['allocate', '-s']],
    [['allocate', '-s', 'dev', '--bogus']],
    [['allocate', '-s', 'dev', '-n', 'a', '-n', 'b']],
    [['allocate', '-s', 'dev', '--no-json']],
    [['allocate', '-s', 'dev', '--json=false']],
    [['allocate', '-s', 'dev', '-qv']],
    [['allocate', '-s', 'dev', '--ttl', '1h', '--persistent']],
    [['allocate', '-s', 'dev', '--pid', '1', '--ttl', '1h']],
    [['allocate', '-s', 'dev', 'extra']],
    [['allocate', '-s', 'dev', '--', 'x']],
    [['allocate', '-s', '-dev']],
    [['allocate', '-s', 'ai', '--wait-ready', '-q']],
    [['check']],
    [['config', 'show']],
    [['--json', 'list']],
    [['list', '--version']],
    [['frobnicate']],
    [['run', '-s', 'dev', '--port-flag']],
    [['run', '-s', 'dev', 'npm', 'start']],
    [['allocate', '-s', 'dev', '--verbose']],
  ])('%j', (argv) => {
    expect(fastParse(argv, COMMANDS)).toEqual({ kind: 'needs-yargs' });
  });

  test("a value outside an option's choices is left to yargs, which names them", () => {
    const pick: StyxyCommand = {
      name: 'pick',
      command: 'pick',
      describe: '',
      builder: (y) => y,
      options: { placement: { type: 'string', choices: ['after', 'before'], describe: '' } },
      positionals: [],
      handler: async () => undefined,
    };
    const commands = new Map([['pick', pick]]);
    expect(fastParse(['pick', '--placement', 'after'], commands).kind).toBe('command');
    expect(fastParse(['pick', '--placement', 'sideways'], commands)).toEqual({ kind: 'needs-yargs' });
  });

  test('--version alone is answered without yargs', () => {
    expect(fastParse(['--version'], COMMANDS)).toEqual({ kind: 'version' });
  });
});
