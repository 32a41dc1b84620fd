import * as fs from 'fs';
import * as path from 'path';
import { sandbox, type Sandbox } from '../helpers/cli';

// Where auto-allocation writes its port document: a path a cloned repository could aim at any file
// of the user's, so only the user's own config.json may set it, and only inside $STYXY_HOME.

let box: Sandbox;
beforeEach(() => {
  box = sandbox();
});
afterEach(() => box.cleanup());

describe('port_docs_path: never from a project, never outside $STYXY_HOME', () => {
  function writeProject(layer: unknown): string {
    const file = path.join(box.cwd, '.styxy.json');
    fs.writeFileSync(file, JSON.stringify(layer));
    return file;
  }

  test.each([
    ['an absolute path', (dir: string) => path.join(dir, 'victim.txt')],
    ['a path climbing out', () => '../../victim.txt'],
    ['a path in the home directory', () => '~/victim.txt'],
  ])("a project's .styxy.json setting it (%s) is INVALID_CONFIG naming the file and key; nothing is written", (_name, docs) => {
    const victim = path.join(box.dir, 'victim.txt');
    fs.writeFileSync(victim, 'SECRET=1\n');
    const file = writeProject({ auto_allocation: { port_docs_path: docs(box.dir) } });
    // HOME is the test's own directory, so that `~/victim.txt` is the victim there.
    const r = box.run(['allocate', '-s', 'grafana', '--json'], { env: { HOME: box.dir } });
    expect(r.code).toBe(9);
    expect(r.json.error.code).toBe('INVALID_CONFIG');
    expect(r.json.error.details.problems).toContainEqual(expect.objectContaining({ file, path: '/auto_allocation/port_docs_path' }));
    expect(fs.readFileSync(victim, 'utf8')).toBe('SECRET=1\n');
    expect(fs.existsSync(path.join(box.home, 'config.json'))).toBe(false);
    // config validate of that file says the same.
    const validate = box.run(['config', 'validate', file, '--json']);
    expect(validate.json.error.details.problems).toContainEqual(expect.objectContaining({ file, path: '/auto_allocation/port_docs_path' }));
  });

  test('a project may still set service types, rules and other settings, and null for the path', () => {
    writeProject({
      service_types: { web: { port_range: [12000, 12009] } },
      auto_allocation: { gap_size: 3, port_docs_path: null },
      auto_allocation_rules: { 'x-*': { chunk_size: 4 } },
    });
    expect(box.run(['allocate', '-s', 'web', '--json']).json.port).toBe(12000);
  });

  test.each(['/etc/styxy-ports.md', '../PORTS.md', 'docs/../../PORTS.md', '~/PORTS.md'])('config.json may not point it outside the home: %s', (docs) => {
    const set = box.run(['config', 'set', 'auto-allocation.port-docs-path', docs, '--json'], { env: { HOME: box.dir } });
    expect(set.json.error.code).toBe('INVALID_CONFIG');
    expect(fs.existsSync(path.join(box.home, 'config.json'))).toBe(false);
    box.writeConfig({ auto_allocation: { port_docs_path: docs } });
    const r = box.run(['allocate', '-s', 'grafana', '--json'], { env: { HOME: box.dir } });
    expect(r.json.error.code).toBe('INVALID_CONFIG');
    expect(r.json.error.details.problems).toContainEqual(
      expect.objectContaining({ file: path.join(box.home, 'config.json'), path: '/auto_allocation/port_docs_path' }),
    );
    expect(fs.existsSync(path.join(box.dir, 'PORTS.md'))).toBe(false);
  });

  test("from config.json it is honoured inside the home, by Styxy's writer: directories made, the file private", () => {
    box.writeConfig({ auto_allocation: { port_docs_path: 'docs/ports/PORTS.md' } });
    expect(box.run(['allocate', '-s', 'grafana', '--json']).code).toBe(0);
    box.writeConfig({
      ...JSON.parse(fs.readFileSync(path.join(box.home, 'config.json'), 'utf8')),
      auto_allocation: { port_docs_path: path.join(box.home, 'docs/ports/PORTS.md') },
    });
    expect(box.run(['allocate', '-s', 'jaeger', '--json']).code).toBe(0);
    const file = path.join(box.home, 'docs', 'ports', 'PORTS.md');
    const text = fs.readFileSync(file, 'utf8');
    expect(text.match(/\| grafana \|/g)).toHaveLength(1);
    expect(text.match(/\| jaeger \|/g)).toHaveLength(1);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
  });

  test.each([
    ['the document', 'PORTS.md'],
    ['a directory on the way', 'docs'],
  ])('a symlink planted as %s is refused, its target untouched; the allocation itself is made', (_name, link) => {
    const outside = path.join(box.dir, 'outside');
    fs.mkdirSync(outside);
    fs.writeFileSync(path.join(outside, 'PORTS.md'), 'mine\n');
    box.writeConfig({ auto_allocation: { port_docs_path: link === 'docs' ? 'docs/PORTS.md' : 'PORTS.md' } });
    fs.symlinkSync(link === 'docs' ? outside : path.join(outside, 'PORTS.md'), path.join(box.home, link));
    const r = box.run(['allocate', '-s', 'grafana', '--json']);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/the change was made, but .* symbolic link/);
    expect(fs.readdirSync(outside)).toEqual(['PORTS.md']);
    expect(fs.readFileSync(path.join(outside, 'PORTS.md'), 'utf8')).toBe('mine\n');
  });
});
