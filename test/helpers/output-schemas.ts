import * as fs from 'fs';
import * as path from 'path';
import * as crypto from 'crypto';
import { createRequire } from 'module';

/** The published schemas of the `--json` documents, one file per command (see docs/cli.md, JSON output). */
export const OUTPUT_SCHEMAS = path.resolve(__dirname, '..', '..', 'schemas', 'output');
const SCHEMAS = path.resolve(OUTPUT_SCHEMAS, '..');
const BASE = 'https://styxy.dev/schemas/output/';

/**
 * The other names of commands, as schema names (`config undo-auto` is `config undo-auto-allocation`).
 * test/unit/output-schemas.test.ts holds this to the commands' declarations: the tests that run the
 * CLI do not load the declarations, only the schemas' file names.
 */
export const COMMAND_ALIASES: Readonly<Record<string, string>> = { 'config-undo-auto': 'config-undo-auto-allocation' };

let knownNames: Set<string> | undefined;

/** The commands that have a schema: the files in schemas/output (`config-show`), without the shared shapes. */
export function schemaNames(): ReadonlySet<string> {
  knownNames ??= new Set(
    fs
      .readdirSync(OUTPUT_SCHEMAS)
      .filter((f) => f.endsWith('.schema.json') && f !== 'common.schema.json')
      .map((f) => f.replace(/\.schema\.json$/, '')),
  );
  return knownNames;
}

/**
 * The schema name for a command line (`['config', 'undo-auto', '--json']` → `config-undo-auto-allocation`),
 * or null when it names no command that has one (then only a failure document may come out). The
 * command words come before the options in every line the tests run; flags are skipped.
 */
export function schemaNameOf(argv: readonly string[]): string | null {
  const names = schemaNames();
  let prefix = '';
  for (const word of argv) {
    if (word === '--') return null;
    if (word.startsWith('-')) continue;
    const said = prefix ? `${prefix}-${word}` : word;
    const name = COMMAND_ALIASES[said] ?? said;
    if (names.has(name)) return name;
    // A group (`config`, `config auto-allocation`): its subcommand comes next.
    if (![...names].some((n) => n.startsWith(`${name}-`))) return null;
    prefix = name;
  }
  return null;
}

/**
 * The line asks for one JSON document: `--json` or `--format json` before any `--` (not the value
 * of `--port-flag`, which takes the next word whatever it is: `run --port-flag --json`).
 */
export function asksForJson(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  const own = end === -1 ? argv : argv.slice(0, end);
  return own.some(
    (word, i) => (word === '--json' && own[i - 1] !== '--port-flag') || word === '--format=json' || (word === '--format' && own[i + 1] === 'json'),
  );
}

/** One checked document's problems, as ajv reports them. */
interface Validate {
  (data: unknown): boolean;
  errors?: { instancePath: string; keyword: string; message?: string; params?: unknown }[] | null;
}

let validators: Record<string, Validate> | undefined;

/**
 * Node's own require, not Jest's: what it loads is cached for the whole worker process, so the
 * validators are read once per worker, not once per test file; ajv is loaded only to make them.
 */
const nodeRequire = createRequire(__filename);

/**
 * Every schema's validator, compiled once for all test workers: ajv's standalone code for all of
 * them is written to a file named by a hash of the schemas' text (under node_modules/.cache),
 * which each worker then only loads. Jest gives every test file a module registry of its own,
 * so a validator compiled in memory would be compiled again in each (most of a second here).
 */
function loadValidators(): Record<string, Validate> {
  if (validators) return validators;
  const files = [
    ...['state.schema.json', 'config.schema.json'].map((f) => path.join(SCHEMAS, f)),
    ...fs
      .readdirSync(OUTPUT_SCHEMAS)
      .filter((f) => f.endsWith('.schema.json'))
      .sort()
      .map((f) => path.join(OUTPUT_SCHEMAS, f)),
  ];
  const texts = files.map((f) => fs.readFileSync(f, 'utf8'));
  const hash = crypto
    .createHash('sha256')
    .update((nodeRequire('ajv/package.json') as { version: string }).version)
    // This file too: a change in how the code is made makes it anew.
    .update(fs.readFileSync(__filename))
    .update(texts.join('\0'))
    .digest('hex')
    .slice(0, 16);
  // Inside node_modules, where the code's own require('ajv/dist/runtime/...') resolves.
  const cached = path.join(SCHEMAS, '..', 'node_modules', '.cache', 'styxy-tests', `output-validators-${hash}.js`);
  if (!fs.existsSync(cached)) {
    fs.mkdirSync(path.dirname(cached), { recursive: true });
    const Ajv = (nodeRequire('ajv') as typeof import('ajv')).default;
    const standaloneCode = (nodeRequire('ajv/dist/standalone') as typeof import('ajv/dist/standalone')).default;
    const ajv = new Ajv({ allErrors: true, strict: true, inlineRefs: false, code: { source: true } });
    // Without the text annotations, as scripts/build.js does: they check nothing, and the code
    // would carry a copy of each.
    const annotation = (key: string, value: unknown) => (key === 'title' || key === 'description') && typeof value === 'string';
    for (const text of texts) ajv.addSchema(JSON.parse(text, (key, value) => (annotation(key, value) ? undefined : value)));
    const exports: Record<string, string> = { '#failure': `${BASE}common.schema.json#/definitions/failure` };
    for (const file of files.filter((f) => f.startsWith(OUTPUT_SCHEMAS))) exports[path.basename(file, '.schema.json')] = `${BASE}${path.basename(file)}`;
    // Written whole under another name, then renamed: a worker never loads half a file.
    const partial = `${cached}.${process.pid}`;
    fs.writeFileSync(partial, standaloneCode(ajv, exports));
    fs.renameSync(partial, cached);
    // Those of earlier schemas are of no more use.
    for (const old of fs.readdirSync(path.dirname(cached))) {
      if (old.startsWith('output-validators-') && old !== path.basename(cached) && old.endsWith('.js'))
        fs.rmSync(path.join(path.dirname(cached), old), { force: true });
    }
  }
  validators = nodeRequire(cached) as Record<string, Validate>;
  return validators;
}

/** The problems of `document` against the schema `name` (`allocate`; null: the failure shape alone): empty when it conforms. */
export function outputProblems(name: string | null, document: unknown): string[] {
  const validate = loadValidators()[name ?? '#failure'];
  if (!validate) throw new Error(`no schema ${name}.schema.json in schemas/output`);
  if (validate(document)) return [];
  // An if/then/else adds "must match else" to the problems found inside it: they say it all.
  return (validate.errors ?? [])
    .filter((e) => e.keyword !== 'if')
    .map((e) => `${e.instancePath || '/'} ${e.message ?? e.keyword}${e.params ? ` ${JSON.stringify(e.params)}` : ''}`);
}

/**
 * Checks what a styxy command line printed when the line asked for JSON: stdout must be exactly
 * one JSON document, conforming to the schema of its command (a line that names no command: the
 * failure shape). Throws, naming the line and every problem, so the test that ran it fails.
 * `status` null (the process was killed) leaves stdout unchecked; so does `styxy run` without
 * --detach, whose stdout is its command's: only a failure document of its own is checked.
 */
export function checkOutput(argv: readonly string[], stdout: string, status: number | null = 0): void {
  if (!asksForJson(argv) || status === null) return;
  const name = schemaNameOf(argv);
  const ownOutput = name !== 'run' || argv.includes('--detach') || argv.includes('-d');
  let document: unknown;
  try {
    document = JSON.parse(stdout);
  } catch {
    if (!ownOutput) return;
    throw new Error(`styxy ${argv.join(' ')} was asked for --json and did not print one JSON document (exit status ${status}):\n${stdout.slice(0, 4000)}`);
  }
  const failed = typeof document === 'object' && document !== null && (document as { success?: unknown }).success === false;
  if (!ownOutput && !failed) return;
  const problems = outputProblems(name, document);
  if (problems.length === 0) return;
  throw new Error(
    `styxy ${argv.join(' ')} printed a --json document that fails schemas/output/${name ?? 'common'}.schema.json:\n  ` +
      `${problems.join('\n  ')}\ndocument: ${stdout.slice(0, 4000)}`,
  );
}
