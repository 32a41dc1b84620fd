import * as fs from 'fs';
import * as path from 'path';
import { sandbox, type Sandbox } from '../helpers/cli';

// A config with problems: what it blocks, where the problem is said to be, and what is never shown.

let box: Sandbox;
beforeEach(() => {
  box = sandbox();
});
afterEach(() => box.cleanup());

const statePath = () => path.join(box.home, 'state.json');

function writeHomeFile(name: string, text: string): void {
  fs.mkdirSync(box.home, { recursive: true, mode: 0o700 });
  fs.writeFileSync(path.join(box.home, name), text, { mode: 0o600 });
}

describe('a broken config.json blocks only what needs it', () => {
  const broken = '{\n  "auto_allocation": { "gap_size": 3, },\n  "colour": "blue",\n  "service_types": { "web": { "port_range": [12000, 12009] }, },\n}\n';

  test('list, check, scan, audit, release and cleanup work and warn; allocate, run and config changes refuse with every problem at once', () => {
    const kept = box.run(['allocate', '-s', 'dev', '--persistent', '--json']).json;
    const other = box.run(['allocate', '-s', 'api', '--persistent', '--json']).json;
    writeHomeFile('config.json', broken);
    const config = path.join(box.home, 'config.json');
    // Each trailing comma, as [line, column]: two on line 4 (inside and after service_types).
    const lines = broken.split('\n');
    const commas = [
      [2, (lines[1] as string).indexOf(', }') + 1],
      [4, (lines[3] as string).indexOf(', }') + 1],
      [4, (lines[3] as string).length],
    ];
    const works: string[][] = [
      ['list', '--json'],
      ['check', String(kept.port), '--json'],
      ['scan', '--start', '2990', '--end', '3100', '--json'],
      ['audit', '--json'],
      ['cleanup', '--json'],
      ['release', other.lockId, '--json'],
    ];
    for (const args of works) {
      const r = box.run(args);
      expect({ args, code: r.code }).toEqual({ args, code: 0 });
      expect(r.json.success).toBe(true);
      if (args[0] !== 'audit') expect(r.stderr).toContain(`warning: the config is invalid`);
      if (args[0] !== 'audit') expect(r.stderr).toContain(`${config}:2:${commas[0]?.[1]}`);
    }
    expect(box.run(['list', '--json']).json.allocations.map((a: { lockId: string }) => a.lockId)).toEqual([kept.lockId]);

    const refuses: string[][] = [
      ['allocate', '-s', 'dev', '--json'],
      ['allocate', '-s', 'brand-new', '--json'],
      ['config', 'set', 'auto-allocation.gap-size', '5', '--json'],
      ['config', 'auto-allocation', 'set-rule', 'x-*', '--chunk-size', '4', '--json'],
      ['config', 'auto-allocation', 'disable', '--json'],
    ];
    for (const args of refuses) {
      const r = box.run(args);
      expect({ args, code: r.code, error: r.json?.error?.code }).toEqual({ args, code: 9, error: 'INVALID_CONFIG' });
      // Every problem at once: both trailing commas with line and column, and the unknown key.
      expect(r.json.error.details.problems).toEqual([
        ...commas.map(([line, column]) => ({
          file: config,
          layer: 'user config',
          path: '/',
          line,
          column,
          message: 'not valid JSON: trailing comma (remove it)',
        })),
        expect.objectContaining({ file: config, path: '/colour', message: "unknown key 'colour'" }),
      ]);
    }
    const run = box.run(['run', '-s', 'dev', '--json', '--', process.execPath, '-e', 'require("fs").writeFileSync("ran", "")']);
    expect([run.code, run.json.error.code]).toEqual([125, 'INVALID_CONFIG']);
    expect(fs.existsSync(path.join(box.cwd, 'ran'))).toBe(false);
    expect(fs.readFileSync(config, 'utf8')).toBe(broken);
  });
});

describe('an unparseable config is reported by place, never by content', () => {
  test('.styxy.json linked to a file of secrets: INVALID_CONFIG with file, line and column, and not a byte of it', () => {
    const secrets = path.join(box.dir, 'env');
    fs.writeFileSync(secrets, 'SHELL=/bin/bash\nAWS_SECRET_ACCESS_KEY=hunter2hunter2\n');
    const link = path.join(box.cwd, '.styxy.json');
    fs.symlinkSync(secrets, link);
    for (const args of [
      ['allocate', '-s', 'dev', '--json'],
      ['allocate', '-s', 'dev'],
      ['config', 'validate'],
      ['config', 'validate', link, '--json'],
      ['doctor', '--json'],
    ]) {
      const r = box.run(args);
      expect(r.code).not.toBe(0);
      const out = r.stdout + r.stderr;
      expect(out).not.toMatch(/SHELL|bash|AWS|hunter2/);
      expect(out).toContain(`${link}:1:1`);
    }
    const r = box.run(['allocate', '-s', 'dev', '--json']);
    expect(r.json.error.code).toBe('INVALID_CONFIG');
    expect(r.json.error.details.problems).toEqual([
      { file: link, layer: 'project config', path: '/', line: 1, column: 1, message: 'not valid JSON: unexpected character where a value should start' },
    ]);
  });
});

describe('a problem is blamed on the file and layer that introduced it', () => {
  test('config.json widening dev over monitoring blames config.json, and the hint names only files you can fix', () => {
    box.writeConfig({ service_types: { dev: { port_range: [3000, 3199] } } });
    const config = path.join(box.home, 'config.json');
    const r = box.run(['allocate', '-s', 'dev', '--json']);
    expect(r.json.error.code).toBe('INVALID_CONFIG');
    expect(r.json.error.details.problems).toEqual([
      {
        file: config,
        layer: 'user config',
        path: '/service_types/dev/port_range',
        message: "range 3000-3199 of 'dev' overlaps 3100-3199 of 'monitoring' (from built-in defaults)",
      },
    ]);
    expect(r.json.error.suggestions).toEqual([`Fix ${config} and check it with: styxy config validate`]);
    const human = box.run(['allocate', '-s', 'dev']);
    expect(human.stderr).toContain(`${config} (user config): /service_types/dev/port_range`);
    expect(human.stderr).not.toMatch(/Fix built-in/);
  });

  test('a project range overlapped by config.json blames config.json; preferred ports and bounds blame the layer that set them', () => {
    const project = path.join(box.cwd, '.styxy.json');
    fs.writeFileSync(project, JSON.stringify({ service_types: { web: { port_range: [12000, 12099] } }, auto_allocation: { max_port: 20000 } }));
    box.writeConfig({ service_types: { zeta: { port_range: [11990, 12005] }, dev: { preferred_ports: [5000] } }, auto_allocation: { min_port: 30000 } });
    const config = path.join(box.home, 'config.json');
    const problems = box.run(['allocate', '-s', 'dev', '--json']).json.error.details.problems;
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ file: config, layer: 'user config', path: '/service_types/zeta/port_range' }),
        expect.objectContaining({ file: config, layer: 'user config', path: '/service_types/dev/preferred_ports/0' }),
        expect.objectContaining({ file: config, layer: 'user config', path: '/auto_allocation/min_port' }),
      ]),
    );
    expect(problems).toHaveLength(3);
  });
});

describe("settings a project's .styxy.json may not make", () => {
  function writeProject(layer: unknown): string {
    const file = path.join(box.cwd, '.styxy.json');
    fs.writeFileSync(file, JSON.stringify(layer));
    return file;
  }

  test("a project's .styxy.json may not set lifetime: it would decide how long every project's allocations live", () => {
    // Another project's allocation, reserved after its detected owner ended.
    box.writeConfig({ lifetime: { reservation_grace_seconds: 60 } });
    const other = path.join(box.dir, 'other');
    fs.mkdirSync(other);
    const reserved = box.run(['allocate', '-s', 'dev', '-n', 'web', '-q'], { cwd: other });
    expect(reserved.code).toBe(0);
    const before = fs.readFileSync(statePath(), 'utf8');
    const file = writeProject({ lifetime: { reservation_grace_seconds: 0 } });
    const r = box.run(['allocate', '-s', 'dev', '--json']);
    expect(r.json.error.code).toBe('INVALID_CONFIG');
    expect(r.json.error.details.problems).toContainEqual(expect.objectContaining({ file, path: '/lifetime' }));
    expect(fs.readFileSync(statePath(), 'utf8')).toBe(before);
    // The same setting in the user's own config.json is honoured.
    fs.rmSync(file);
    expect(box.run(['config', 'set', 'lifetime.reservation-grace-seconds', '0', '--json']).code).toBe(0);
  });
});
