import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parse as parseDotenv } from 'dotenv';
import { renderEnv, type EnvFormat } from '../../../lib/cli/env-format';
import { readPowershellAssignments } from '../../helpers/powershell';

/**
 * Round trips through the real shells: the rendered statements are evaluated the way the
 * README says, each variable is read back NUL-separated and compared byte for byte. A value
 * that injected a command would create the canary file.
 */

const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;

let dir: string;
let canary: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'styxy-env-'));
  canary = path.join(dir, 'PWNED');
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Hostile values; CANARY becomes the canary's path. */
const HOSTILE = [
  "it's",
  '$(touch CANARY)',
  '`touch CANARY`',
  'a;touch CANARY',
  "'; touch CANARY; '",
  '"; touch CANARY; "',
  'x\ny',
  '\nq\n\n',
  '"q"',
  '\\',
  "\\'",
  "''",
  '*',
  '  spaced  out  ',
  '$HOME ${HOME} $$',
  '%PATH%',
  '\u2018curly\u2019',
  '\u2019; touch CANARY; \u2019',
  '-n',
  '--',
  'café cafe\u0301',
  'tab\there',
  '{a,b} ~ !1 #x',
  '',
];

const values = () => HOSTILE.map((v) => v.split('CANARY').join(canary));
const vars = () => values().map((v, i) => [`V${i}`, v] as [string, string]);

function readBack(shell: string[], script: string): string[] {
  const r = spawnSync(shell[0] as string, [...shell.slice(1), script], { cwd: dir, encoding: 'utf8', env: { PATH: process.env.PATH, HOME: dir } });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return r.stdout.split('\0').slice(0, -1);
}

const POSIX_SHELLS: Array<[string, string[]]> = [
  ['bash', ['bash', '-c']],
  ['dash', ['dash', '-c']],
  ['zsh', ['zsh', '-c']],
  ['busybox sh', ['busybox', 'sh', '-c']],
];

describe.each(POSIX_SHELLS)('posix through %s', (name, shell) => {
  const available = has(shell[0] as string);
  if (!available) console.warn(`skipped: ${name} is not installed (apt-get install ${shell[0]})`);
  const maybe = available ? test : test.skip;

  maybe('eval "$(…)" reads every value back unchanged and runs nothing', () => {
    const file = path.join(dir, 'env.sh');
    fs.writeFileSync(file, `${renderEnv(vars(), 'posix')}\n`);
    const print = vars()
      .map(([n]) => `printf '%s\\0' "$${n}"`)
      .join('; ');
    expect(readBack(shell, `eval "$(cat ${file})"; ${print}`)).toEqual(values());
    expect(fs.existsSync(canary)).toBe(false);
  });

  maybe('unquoted eval $(…) still runs nothing', () => {
    const file = path.join(dir, 'env.sh');
    fs.writeFileSync(file, `${renderEnv(vars(), 'posix')}\n`);
    const r = spawnSync(shell[0] as string, [...shell.slice(1), `eval $(cat ${file}); echo done`], { cwd: dir, encoding: 'utf8' });
    expect(r.stdout).toContain('done');
    expect(fs.existsSync(canary)).toBe(false);
  });

  maybe('the variables are exported to child processes', () => {
    const script = `eval "$(printf '%s' ${JSON.stringify(renderEnv([['PORT', '3000']], 'posix'))})"; sh -c 'printf "%s\\0" "$PORT"'`;
    expect(readBack(shell, script)).toEqual(['3000']);
  });
});

describe('fish', () => {
  const available = has('fish');
  if (!available) console.warn('skipped: fish is not installed (apt-get install fish)');
  const maybe = available ? test : test.skip;

  maybe('| source reads every value back unchanged, exported, and runs nothing', () => {
    const file = path.join(dir, 'env.fish');
    fs.writeFileSync(file, `${renderEnv(vars(), 'fish')}\n`);
    const print = vars()
      .map(([n]) => `printf '%s\\0' "$${n}"`)
      .join('; ');
    expect(readBack(['fish', '-c'], `cat ${file} | source; ${print}`)).toEqual(values());
    expect(readBack(['fish', '-c'], `cat ${file} | source; sh -c 'printf "%s\\0" "$V0"'`)).toEqual([values()[0]]);
    expect(fs.existsSync(canary)).toBe(false);
  });
});

describe('powershell', () => {
  const available = has('pwsh');
  if (!available) console.warn('skipped: PowerShell (pwsh) is not installed; its quoting is checked against the rules below only');
  (available ? test : test.skip)('Invoke-Expression reads every value back unchanged and runs nothing', () => {
    // Setting an environment variable to '' removes it in PowerShell, so '' is left out.
    const list = vars().filter(([, v]) => v !== '');
    const file = path.join(dir, 'env.ps1');
    fs.writeFileSync(file, `${renderEnv(list, 'powershell')}\n`);
    const print = list.map(([n]) => `[Console]::Out.Write($env:${n} + [char]0)`).join('; ');
    const got = readBack(['pwsh', '-NoProfile', '-Command'], `Invoke-Expression (Get-Content -Raw ${file}); ${print}`);
    expect(got).toEqual(list.map(([, v]) => v));
    expect(fs.existsSync(canary)).toBe(false);
  });

  test("without pwsh: a reader of the language specification's verbatim strings reads every value back, and nothing else", () => {
    const text = renderEnv(vars(), 'powershell');
    expect(readPowershellAssignments(text)).toEqual(vars());
    // The reader is strict enough to matter: an undoubled quote, as a naive quoting would leave, is refused.
    expect(() => readPowershellAssignments("$env:X = 'it's';")).toThrow();
    expect(() => readPowershellAssignments("$env:X = 'a\u2019; Remove-Item x; \u2019';")).toThrow();
  });

  test('a quote, typographic quotes included, is doubled; nothing else changes', () => {
    expect(renderEnv([['X', "a'b\u2018c\u2019d\u201ae\u201bf$g`h"]], 'powershell')).toBe(
      "$env:X = 'a''b\u2018\u2018c\u2019\u2019d\u201a\u201ae\u201b\u201bf$g`h';",
    );
  });
});

describe('dotenv', () => {
  const composeValues = () => values().filter((v) => !/['\\$\r\n]/.test(v));
  const available = has('docker-compose') && spawnSync('/usr/bin/python3', ['-c', 'import yaml']).status === 0;
  if (!available) console.warn('skipped: docker-compose (with python3-yaml) is not installed (apt-get install docker-compose)');

  (available ? test : test.skip)('docker-compose --env-file reads every value it accepts back unchanged, uninterpolated', () => {
    const list = composeValues().map((v, i) => [`V${i}`, v] as [string, string]);
    fs.writeFileSync(path.join(dir, '.env.styxy'), `${renderEnv(list, 'dotenv')}\n`);
    const environment = list.map(([n]) => `      ${n}: "\${${n}}"`).join('\n');
    fs.writeFileSync(path.join(dir, 'docker-compose.yml'), `services:\n  app:\n    image: busybox\n    environment:\n${environment}\n`);
    const r = spawnSync(
      'sh',
      ['-c', 'docker-compose --env-file .env.styxy config | /usr/bin/python3 -c "import yaml, sys, json; print(json.dumps(yaml.safe_load(sys.stdin)))"'],
      {
        cwd: dir,
        encoding: 'utf8',
      },
    );
    expect(r.status).toBe(0);
    const env = JSON.parse(r.stdout).services.app.environment as Record<string, string | null>;
    const got = list.map(([n]) => String(env[n] ?? ''));
    expect(got).toEqual(list.map(([, v]) => v));
    expect(fs.existsSync(canary)).toBe(false);
  });

  test("the dotenv package's parser reads every value it is given back unchanged", () => {
    const list = composeValues().map((v, i) => [`V${i}`, v] as [string, string]);
    expect(Object.entries(parseDotenv(`${renderEnv(list, 'dotenv')}\n`))).toEqual(list);
  });

  test('a value with a quote, a backslash, a $ or a line break is refused, not mangled', () => {
    for (const v of ["it's", 'x\ny', 'x\ry', 'a\\b', '${HOME}']) expect(() => renderEnv([['X', v]], 'dotenv')).toThrow(/cannot be written as a dotenv value/);
  });
});

describe.each(['posix', 'fish', 'powershell', 'dotenv'] as EnvFormat[])('%s names', (format) => {
  test.each(['A B', 'A;B', '$(id)', '1X', '', '__proto__', 'X\n'])('variable name %j is refused', (name) => {
    expect(() => renderEnv([[name, '1']], format)).toThrow(/variable name/);
  });

  test('a NUL byte in a value is refused: no environment can carry it', () => {
    expect(() => renderEnv([['X', 'a\0b']], format)).toThrow(/NUL/);
  });
});
