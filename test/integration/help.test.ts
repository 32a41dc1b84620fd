import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { BIN, useSandbox } from '../helpers/cli';
import { hasPty, runInPty } from '../helpers/pty';

const box = useSandbox();

const COMMANDS = [
  'allocate',
  'run',
  'release',
  'list',
  'check',
  'scan',
  'cleanup',
  'doctor',
  'audit',
  'completion',
  'hook',
  'mcp',
  'agent',
  'agent install',
  'agent uninstall',
  'config',
  'config show',
  'config validate',
  'config path',
  'config set',
  'config auto-allocation',
  'config auto-allocation status',
  'config auto-allocation enable',
  'config auto-allocation disable',
  'config auto-allocation set-rule',
  'config auto-allocation remove-rule',
  'config undo-auto-allocation',
];

test('styxy with no command prints the help on stderr and exits 2', () => {
  const r = box.run([]);
  expect(r.code).toBe(2);
  expect(r.stdout).toBe('');
  expect(r.stderr).toContain('Commands:');
  expect(r.stderr).toContain('styxy run');
});

test('the top-level help lists every command with a description', () => {
  const help = box.run(['--help']).stdout;
  for (const command of COMMANDS.filter((c) => !c.includes(' '))) expect(help).toMatch(new RegExp(`styxy ${command}\\b.* {2,}\\S`));
});

test.each(COMMANDS)('styxy %s --help: a usage line, a description and at least one example', (command) => {
  const r = box.run([...command.split(' '), '--help']);
  expect(r.code).toBe(0);
  expect(r.stdout).toMatch(new RegExp(`^styxy ${command}`, 'm'));
  expect(r.stdout).toContain('Examples:');
  const examples = r.stdout.slice(r.stdout.indexOf('Examples:'));
  expect(examples).toMatch(/\n {2}styxy \S/);
});

describe('completion', () => {
  /** A directory with `styxy` on it, as an installed styxy would be. */
  function binDir(): string {
    const dir = path.join(box.dir, 'bin');
    if (!fs.existsSync(dir)) {
      fs.mkdirSync(dir);
      fs.symlinkSync(BIN, path.join(dir, 'styxy'));
    }
    return dir;
  }

  function bashComplete(line: string[]): string[] {
    const script = box.run(['completion'], { env: { SHELL: '/bin/bash' } }).stdout;
    const file = path.join(box.dir, 'styxy-completion.bash');
    fs.writeFileSync(file, script);
    const words = line.map((w) => `'${w}'`).join(' ');
    const r = spawnSync(
      'bash',
      ['-c', `source ${file}; COMP_WORDS=(${words}); COMP_CWORD=${line.length - 1}; _styxy_yargs_completions; printf '%s\\n' "\${COMPREPLY[@]}"`],
      {
        env: { ...box.env, PATH: `${binDir()}:${process.env.PATH}` },
        cwd: box.cwd,
        encoding: 'utf8',
      },
    );
    expect(r.stderr).toBe('');
    return r.stdout.split('\n').filter(Boolean);
  }

  test('bash: a command name completes', () => {
    expect(bashComplete(['styxy', 'al'])).toEqual(['allocate']);
  });

  test('bash: an option completes', () => {
    expect(bashComplete(['styxy', 'allocate', '--dry'])).toEqual(['--dry-run']);
  });

  test('bash: after -s, the configured service types complete, new ones included', () => {
    expect(bashComplete(['styxy', 'allocate', '-s', 'd'])).toEqual(['database', 'dev', 'docs']);
    box.writeConfig({ service_types: { daemon: { port_range: [41000, 41009] } } });
    expect(bashComplete(['styxy', 'run', '--service-type', 'da'])).toEqual(['daemon', 'database']);
  });

  test('zsh: the script loads under compinit and registers its completer; the completer answers', () => {
    if (spawnSync('sh', ['-c', 'command -v zsh']).status !== 0) return console.warn('skipped: zsh is not installed');
    const file = path.join(box.dir, '_styxy');
    fs.writeFileSync(file, box.run(['completion'], { env: { SHELL: '/usr/bin/zsh' } }).stdout);
    expect(fs.readFileSync(file, 'utf8')).toMatch(/^#compdef styxy/);
    const r = spawnSync('zsh', ['-f', '-c', `autoload -U compinit && compinit -u -D && source ${file} && print -r -- $_comps[styxy]`], {
      env: { ...box.env, HOME: box.dir },
      encoding: 'utf8',
    });
    expect(r.stdout.trim()).toBe('_styxy_yargs_completions');
    // What the completer asks styxy for, as zsh calls it.
    const answer = spawnSync(process.execPath, [BIN, '--get-yargs-completions', 'styxy', 'allocate', '-s', 'a'], {
      env: { ...box.env, SHELL: '/usr/bin/zsh', COMP_CWORD: '3', COMP_LINE: 'styxy allocate -s a' },
      encoding: 'utf8',
    });
    expect(answer.stdout.split('\n').filter(Boolean)).toEqual(['ai', 'api', 'auth']);
  });
});

describe('how wide help is', () => {
  const longest = (text: string) => Math.max(...text.split('\n').map((l) => l.length));

  test('help piped with no terminal is not wrapped; COLUMNS sets a width', () => {
    const piped = box.run(['run', '--help'], { env: { COLUMNS: undefined } });
    expect(piped.code).toBe(0);
    expect(longest(piped.stdout)).toBeGreaterThan(200); // the epilog is one paragraph, one line
    const narrow = box.run(['run', '--help'], { env: { COLUMNS: '70' } });
    expect(longest(narrow.stdout)).toBeLessThanOrEqual(70);
  });

  (hasPty() ? test : test.skip)('help on a terminal uses its whole width, never narrower than 60', () => {
    const wide = runInPty(box, ['run', '--help'], { cols: 150, env: { COLUMNS: undefined } });
    expect(wide.code).toBe(0);
    expect(longest(wide.output)).toBeGreaterThan(100);
    expect(longest(wide.output)).toBeLessThanOrEqual(150);
    const tiny = runInPty(box, ['run', '--help'], { cols: 30, env: { COLUMNS: undefined } });
    expect(longest(tiny.output)).toBeGreaterThan(30);
    expect(longest(tiny.output)).toBeLessThanOrEqual(60);
  });
});
