import yargs from 'yargs/yargs';
import { declare, type StyxyCommand } from '../../../lib/cli/command-spec';
import { COMMANDS } from '../../../lib/cli/commands/index';
import { fastParse } from '../../../lib/cli/fast-parse';

/** What yargs itself makes of a command line, on the command's own declarations. */
function yargsReading(argv: string[]): Record<string, unknown> {
  const command = COMMANDS.get(argv[0] as string) as StyxyCommand;
  const positional = command.positionals.map((p) => (p.required ? `<${p.name}>` : `[${p.name}]`)).join(' ');
  let parsed: Record<string, unknown> = {};
  yargs(argv)
    .command(`${command.name} ${positional}`.trim(), '', (y) => declare(y, command), (args) => {
      parsed = args;
    })
    .option('verbose', { type: 'boolean' })
    .parserConfiguration({ 'populate--': true, 'nargs-eats-options': true })
    .strict()
    .exitProcess(false)
    .fail((message) => {
      throw new Error(message);
    })
    .parse();
  return parsed;
}

function canonical(args: Record<string, unknown>, command: StyxyCommand): Record<string, unknown> {
  const keys = [...Object.keys(command.options), ...command.positionals.map((p) => p.name), 'verbose'];
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
    ['allocate', '-s', 'dev', '--ttl', '8h', '--verbose'],
    ['allocate', '-s', 'ai', '--wait-ready', '60', '--json'],
    ['allocate', '-s', 'ai', '--wait-ready', '--json'],
    ['allocate', '-s', 'ai', '--wait-ready'],
    ['allocate', '-s', 'dev', '--persistent', '--yes'],
    ['release', 'dev-web-1a2b3c'],
    ['release', '-s', 'api', '-n', 'backend', '--json'],
    ['release', '-s', 'dev', '--all'],
    ['list'],
    ['list', '-s', 'dev', '-v', '--json'],
    ['check', '3000'],
    ['check', '3000', '--json'],
    ['scan', '--start', '3000', '--end', '3099'],
    ['cleanup', '--force', '--json'],
    ['doctor', '--json'],
    ['run', '-s', 'dev', '--', 'npm', 'run', 'dev'],
    ['run', '-s', 'dev', '--port-flag', '--port', '--', 'vite', '--host'],
    ['run', '-s', 'dev', '--port-flag=--port=', '-n', 'web', '--', 'x', '-s', 'api', '--json'],
    ['run', '-s', 'dev', '--env-name', 'VITE_PORT', '--', 'a', '--', 'b'],
    ['run', '-s', 'dev', '--port-flag', '-p', '-p', '3000', '--', 'a'],
  ])('%j', (...argv) => {
    const fast = fastParse(argv, COMMANDS);
    expect(fast?.kind).toBe('command');
    if (fast?.kind !== 'command') return;
    expect(canonical(fast.args, fast.command)).toEqual(canonical(yargsReading(argv), fast.command));
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
    [['allocate', '-s', 'dev', '-s', 'api']],
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
    [['release', 'a', 'b']],
    [['config', 'show']],
    [['--json', 'list']],
    [['list', '--version']],
    [['frobnicate']],
    [['run', '-s', 'dev', '--port-flag']],
    [['run', '-s', 'dev', 'npm', 'start']],
  ])('%j', (argv) => {
    expect(fastParse(argv, COMMANDS)).toBeNull();
  });

  test('--version alone is answered without yargs', () => {
    expect(fastParse(['--version'], COMMANDS)).toEqual({ kind: 'version' });
  });
});
