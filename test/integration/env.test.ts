import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { BIN, useSandbox } from '../helpers/cli';

const box = useSandbox();

const shells = ['bash', 'dash', 'zsh'].filter((sh) => spawnSync('sh', ['-c', `command -v ${sh}`]).status === 0);
const styxy = `node ${BIN}`;

function sh(shell: string, script: string) {
  return spawnSync(shell, ['-c', script], { env: box.env, cwd: box.cwd, encoding: 'utf8' });
}

describe.each(shells)('%s', (shell) => {
  test.each([
    ['eval $(…)', `eval $(${styxy} allocate -s dev -n web --env)`],
    ['eval "$(…)"', `eval "$(${styxy} allocate -s dev -n web --env)"`],
  ])('%s sets PORT and the STYXY_* variables', (_name, line) => {
    const r = sh(shell, `${line}; echo "$PORT|$STYXY_PORT|$STYXY_LOCK_ID|$STYXY_SERVICE_TYPE|$STYXY_INSTANCE_ID|$STYXY_EXISTING"`);
    expect(r.status).toBe(0);
    const [port, styxyPort, lockId, type, instance, existing] = r.stdout.trim().split('|');
    expect(Number(port)).toBeGreaterThanOrEqual(3000);
    expect(styxyPort).toBe(port);
    expect(lockId).toMatch(/^dev-web-/);
    expect([type, instance, existing]).toEqual(['dev', 'web', '0']);
  });

  test('--env-name names the port variable, and the variables are exported', () => {
    const r = sh(shell, `eval "$(${styxy} allocate -s api --env --env-name API_PORT)"; sh -c 'echo "$API_PORT $STYXY_PORT"'`);
    const [a, b] = r.stdout.trim().split(' ');
    expect(a).toBe(b);
    expect(Number(a)).toBeGreaterThanOrEqual(8000);
  });

  test('a failing --env makes the eval fail, prints only false; on stdout, and the message on stderr', () => {
    const raw = box.run(['allocate', '-s', 'no/such', '--env']);
    expect(raw.stdout).toBe('false;\n');
    expect(raw.stderr).toContain('service type');
    expect(raw.code).toBe(3);
    const r = sh(shell, `eval "$(${styxy} allocate -s 'bad;name' --env)" && echo REACHED`);
    expect(r.status).not.toBe(0);
    expect(r.stdout).not.toContain('REACHED');
    const unquoted = sh(shell, `eval $(${styxy} allocate -s dev --port 99999 --env) && echo REACHED`);
    expect(unquoted.status).not.toBe(0);
    expect(unquoted.stdout).not.toContain('REACHED');
  });

  test('set -e with out=$(styxy …) || exit stops the script on failure', () => {
    const r = sh(shell, `set -e; out=$(${styxy} allocate -s dev --port 0 --env) || exit 7; echo REACHED`);
    expect(r.status).toBe(7);
    expect(r.stdout).not.toContain('REACHED');
  });
});

test('hostile --env-name is refused before anything is written', () => {
  for (const name of ['PORT;id', '1PORT', 'A B', '$(id)']) {
    const r = box.run(['allocate', '-s', 'dev', '--env', '--env-name', name]);
    expect(r.code).toBe(3);
    expect(r.stdout).toBe('false;\n');
  }
  expect(fs.existsSync(path.join(box.home, 'state.json'))).toBe(false);
});

describe('--format', () => {
  test('fish: styxy allocate --format fish | source sets and exports the variables', () => {
    if (spawnSync('sh', ['-c', 'command -v fish']).status !== 0) return console.warn('skipped: fish is not installed');
    const r = spawnSync('fish', ['-c', `${styxy} allocate -s dev -n web --format fish | source; sh -c 'echo "$PORT|$STYXY_LOCK_ID|$STYXY_EXISTING"'`], {
      env: box.env,
      cwd: box.cwd,
      encoding: 'utf8',
    });
    const [port, lockId, existing] = r.stdout.trim().split('|');
    expect(Number(port)).toBeGreaterThanOrEqual(3000);
    expect(lockId).toMatch(/^dev-web-/);
    expect(existing).toBe('0');
  });

  test.each([
    ['posix', /^export PORT='(\d+)';$/m],
    ['fish', /^set -gx PORT '(\d+)';$/m],
    ['powershell', /^\$env:PORT = '(\d+)';$/m],
    ['dotenv', /^PORT='(\d+)'$/m],
  ])('%s carries the same nine variables', (format, portLine) => {
    const r = box.run(['allocate', '-s', 'dev', '--format', format]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(portLine);
    expect(r.stdout.trim().split('\n')).toHaveLength(9);
  });

  test.each([
    ['posix', 'false;\n'],
    ['fish', 'false;\n'],
    ['powershell', "throw 'styxy failed: see the message above';\n"],
    ['dotenv', ''],
  ])('%s on failure: stdout makes the reader fail (or sets nothing), the message goes to stderr', (format, out) => {
    const r = box.run(['allocate', '-s', 'bad;name', '--format', format]);
    expect(r.code).toBe(3);
    expect(r.stdout).toBe(out);
    expect(r.stderr).toContain('service type');
  });

  test('an unknown format, or --format with --json, is refused and writes nothing', () => {
    expect(box.run(['allocate', '-s', 'dev', '--format', 'csh']).code).toBe(3);
    expect(box.run(['allocate', '-s', 'dev', '--format', 'fish', '--json']).code).toBe(2);
    expect(fs.existsSync(path.join(box.home, 'state.json'))).toBe(false);
  });
});
