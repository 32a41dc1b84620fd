import { findWrapperReason, isOneStyxyCommand, isPackageRunner, shellScript, type WrapperReason } from '../../../lib/core/wrappers';

describe('isPackageRunner', () => {
  test.each<[string[], boolean]>([
    [['npm exec styxy allocate', '', ''], true],
    [['npm run dev'], true],
    [['npx', 'styxy'], true],
    [['/usr/bin/node', '/usr/lib/node_modules/npm/bin/npm-cli.js', 'run', 'dev'], true],
    [['node', '/usr/lib/node_modules/npm/bin/npx-cli.js', 'styxy'], true],
    [['/usr/local/bin/pnpm', 'dlx', 'styxy'], true],
    [['bash', '-c', 'npx styxy allocate; echo done'], false],
    [['node', '/srv/app/server.js'], false],
    [['vim', 'npm'], false],
  ])('%j is %s', (argv, expected) => {
    expect(isPackageRunner(argv)).toBe(expected);
  });
});

describe('shellScript', () => {
  test.each<[string[], string | null]>([
    [['sh', '-c', "'styxy' allocate"], "'styxy' allocate"],
    [['/bin/bash', '-c', 'x'], 'x'],
    [['bash', '-lc', 'x'], 'x'],
    [['bash', '--noprofile', '--norc', '-c', 'x', 'arg0'], 'x'],
    [['zsh', '-o', 'pipefail', '-c', 'x'], 'x'],
    [['sh', '-e', '-c', 'x'], 'x'],
    [['busybox', 'sh', '-c', 'x'], 'x'],
    [['-bash', '-c', 'x'], 'x'],
    [['bash', 'script.sh'], null],
    [['bash', '-e', 'script.sh'], null],
    [['bash'], null],
    [['node', '-c', 'x'], null],
    [['busybox', 'timeout', '-c', 'x'], null],
  ])('%j → %j', (argv, script) => {
    expect(shellScript(argv)).toBe(script);
  });
});

describe('isOneStyxyCommand', () => {
  test.each<[string, boolean]>([
    ['styxy allocate -s dev -q', true],
    ["'styxy' allocate -s dev", true],
    ['/usr/local/bin/styxy allocate -s dev --env > .env.port', true],
    ['FOO=1 styxy allocate -s dev', true],
    ['exec styxy allocate -s dev', true],
    ['npx styxy allocate -s dev', true],
    ['timeout 30 styxy allocate -s dev', true],
    ['node ./bin/styxy allocate -s dev', true],
    ['styxy allocate -s dev --json 2>&1', true],
    ['styxy allocate -s dev -q 2>/dev/null >&2', true],
    ['styxy allocate -s dev; sleep 10', false],
    ['styxy allocate -s dev 2>&1 &', false],
    ['styxy allocate -s dev && npm run dev', false],
    ['styxy allocate -s dev | tee port', false],
    ['p=$(styxy allocate -s dev -q)', false],
    ['styxy allocate -s dev\necho done', false],
    ['styxy run -s dev -- vite &', false],
    ['make deploy', false],
    ['cd /srv/app && styxy allocate -s dev -q', true],
    ["cd '/srv/my app' && styxy allocate -s dev -q", true],
    ['cd "/srv/$(id -u)" && styxy allocate -s dev -q', false],
    ['cd /a; cd b && exec styxy allocate -s dev', true],
    ['cd && styxy allocate -s dev', true],
    ['cd /a && styxy allocate -s dev && npm run dev', false],
    ['cd $(git rev-parse --show-toplevel) && styxy allocate -s dev', false],
    ['cd /a && make dev', false],
    ['cd /a & styxy allocate -s dev', false],
    ['node server.js', false],
  ])('%j is %s', (script, expected) => {
    expect(isOneStyxyCommand(script)).toBe(expected);
  });
});

/** Each row: a process in styxy's chain of ancestors, its parent, and the verdict. */
describe('findWrapperReason', () => {
  const direnvBash = ['/usr/bin/bash', '-c', 'eval "$("/usr/bin/direnv" stdlib)" && __main__ source_env "/p/.envrc"'];
  test.each<[string, string[], string[] | null, WrapperReason | null]>([
    ['a subshell of $(styxy …; other)', ['bash', 'agent.sh'], ['bash', 'agent.sh'], 'subshell'],
    ['an interactive shell', ['-bash'], ['sshd: me@pts/0'], null],
    ['a script', ['bash', 'start.sh'], ['bash'], null],
    ['npm exec under npx', ['npm exec styxy allocate'], ['bash'], 'package runner'],
    ['sh -c of node execSync', ['/bin/sh', '-c', 'styxy allocate -s dev --json'], ['node', 'tool.js'], 'one-command shell'],
    ['sh -c of Python shell=True', ['/bin/sh', '-c', 'styxy allocate -s dev -q'], ['python3', 'tool.py'], 'one-command shell'],
    ['sh -c of a make recipe', ['/bin/sh', '-c', 'styxy allocate -s dev -q > .port'], ['make', 'dev'], 'one-command shell'],
    ['bash -lc of an agent', ['/bin/bash', '-lc', 'styxy allocate -s dev -n web -q'], ['agent'], 'one-command shell'],
    ['the agent pattern: a shell that goes on after styxy', ['bash', '-c', 'p=$(styxy allocate -s dev -n web -q); echo $p'], ['agent'], null],
    ['a shell that starts a server after', ['sh', '-c', 'styxy allocate -s dev -q && vite'], ['node'], null],
    ['timeout', ['timeout', '30', 'styxy', 'allocate', '-s', 'dev'], ['python3', 'tool.py'], 'command wrapper'],
    ['flock', ['flock', '/tmp/f', 'styxy', 'allocate', '-s', 'dev'], ['bash', 'x.sh'], 'command wrapper'],
    ['nice', ['nice', '-n', '5', 'styxy'], ['bash'], 'command wrapper'],
    ['nohup', ['nohup', 'styxy'], ['bash'], 'command wrapper'],
    ['env', ['/usr/bin/env', 'FOO=1', 'styxy'], ['bash'], 'command wrapper'],
    ['stdbuf', ['stdbuf', '-oL', 'styxy'], ['bash'], 'command wrapper'],
    ['time', ['/usr/bin/time', '-v', 'styxy'], ['bash'], 'command wrapper'],
    ['xargs', ['xargs', '-n1', 'styxy', 'release'], ['bash'], 'command wrapper'],
    ['the bash direnv runs .envrc in', direnvBash, ['direnv', 'export', 'bash'], 'direnv shell'],
    ['a subshell of that bash', direnvBash, direnvBash, 'subshell'],
    ['direnv itself', ['direnv', 'export', 'bash'], ['-zsh'], 'direnv'],
    ['make', ['make', 'dev'], ['bash'], null],
    ['node', ['node', 'tool.js'], ['bash'], null],
    ['python', ['python3', 'tool.py'], ['bash'], null],
  ])('%s', (_name, argv, parentArgv, reason) => {
    expect(findWrapperReason(argv, parentArgv)).toBe(reason);
  });
});
