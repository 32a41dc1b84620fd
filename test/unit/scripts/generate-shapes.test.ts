import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as ts from 'typescript';

// What adding a config setting takes, run on a copy of the generator, the schemas and the
// config's hand-written code: the schema changed alone, `--check` says the generated files are
// stale; generated again, the layer's types and config set's table have the new settings, and
// the compiler asks for their defaults in lib/core/defaults.ts and nowhere else.

const ROOT = path.resolve(__dirname, '..', '..', '..');
let dir: string;

beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'styxy-shapes-'));
  for (const rel of ['scripts/generate-shapes.js', 'schemas/config.schema.json', 'schemas/state.schema.json', 'lib/core/types.ts', 'lib/core/defaults.ts']) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.copyFileSync(path.join(ROOT, rel), path.join(dir, rel));
  }
  fs.cpSync(path.join(ROOT, 'lib', 'generated'), path.join(dir, 'lib', 'generated'), { recursive: true });
});
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

const generate = (...args: string[]) =>
  spawnSync(process.execPath, [path.join(dir, 'scripts', 'generate-shapes.js'), ...args], {
    encoding: 'utf8',
    env: { ...process.env, NODE_PATH: path.join(ROOT, 'node_modules') },
  });
const schemaFile = () => path.join(dir, 'schemas', 'config.schema.json');
const editSchema = (edit: (schema: any) => void) => {
  const schema = JSON.parse(fs.readFileSync(schemaFile(), 'utf8'));
  edit(schema);
  fs.writeFileSync(schemaFile(), JSON.stringify(schema, null, 2));
};
const generated = (name: string) => fs.readFileSync(path.join(dir, 'lib', 'generated', name), 'utf8');

/** The compiler's errors in the copied lib/core/defaults.ts and types.ts, as "file: message". */
function typeErrors(): string[] {
  const files = ['defaults.ts', 'types.ts'].map((f) => path.join(dir, 'lib', 'core', f));
  const program = ts.createProgram(files, { strict: true, noEmit: true, skipLibCheck: true, types: [] });
  return ts.getPreEmitDiagnostics(program).map((d) => `${path.relative(dir, d.file?.fileName ?? '?')}: ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`);
}

test('the copy is what the schemas make, and its hand-written code compiles', () => {
  expect(generate('--check')).toMatchObject({ status: 0, stderr: '' });
  expect(typeErrors()).toEqual([]);
});

test('a setting and a section added to the schema: stale until generated, then in the types, in config set’s table, and asked of the defaults', () => {
  editSchema((schema) => {
    schema.properties.port_reuse.properties.warm_seconds = { type: 'integer', minimum: 0, maximum: 60 };
    schema.properties.tunnels = { type: 'object', additionalProperties: false, properties: { enabled: { type: 'boolean' } } };
  });
  const check = generate('--check');
  expect(check.status).toBe(1);
  expect(check.stderr).toContain('lib/generated/config.ts');
  expect(check.stderr).toContain('lib/generated/config-bounds.ts');
  expect(check.stderr).not.toContain('state.ts');

  expect(generate()).toMatchObject({ status: 0, stderr: '' });
  expect(generated('config.ts')).toMatch(/warm_seconds\?: number;/);
  expect(generated('config.ts')).toMatch(/tunnels\?: \{\s*enabled\?: boolean;/);
  expect(generated('config-bounds.ts')).toContain('warm_seconds: {"kind":"integer","bounds":[0,60]}');
  expect(generated('config-bounds.ts')).toMatch(/tunnels: \{\s*enabled: \{"kind":"boolean"\},/);

  // The compiler names one missing default at a time; each given, it asks for the next, then nothing.
  const defaultsFile = path.join(dir, 'lib', 'core', 'defaults.ts');
  const give = (before: string, value: string) => fs.writeFileSync(defaultsFile, fs.readFileSync(defaultsFile, 'utf8').replace(before, `${value}${before}`));
  const steps: [string, string, string][] = [
    ['warm_seconds', 'cooldown_seconds: 600', 'warm_seconds: 5, '],
    ['tunnels', '    urls: {', '    tunnels: { enabled: false },\n'],
  ];
  for (const [missing, before, value] of steps) {
    const errors = typeErrors();
    expect(errors).toEqual([expect.stringMatching(new RegExp(`^lib/core/defaults.ts: .*${missing}`))]);
    give(before, value);
  }
  expect(typeErrors()).toEqual([]);
});

test('a setting of a kind config set has no parser for stops the generator, naming it', () => {
  editSchema((schema) => {
    schema.properties.urls.properties.prefix = { type: 'string' };
  });
  const r = generate();
  expect(r.status).not.toBe(0);
  expect(r.stderr).toContain('urls.prefix');
});
