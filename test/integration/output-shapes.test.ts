import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { BIN, ROOT, rejection, useSandbox } from '../helpers/cli';
import { outputProblems } from '../helpers/output-schemas';
import { connectMcp } from '../helpers/mcp';
import { readmeRecipe } from '../helpers/readme';

// The MCP tools and the Node API answer with the shapes of the CLI's --json documents
// (schemas/output/, docs/cli.md "JSON output"): checked here against the same schemas, with the
// real MCP server over stdio and the built API bundle.

type Api = typeof import('../../types/styxy');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const api = require(path.join(ROOT, 'dist', 'api.js')) as Api;

const box = useSandbox();

/** A value as a program reading it sees it: functions (release) and symbols are not data. */
const data = (value: unknown): unknown => JSON.parse(JSON.stringify(value));

function expectConforms(schema: string | null, document: unknown): void {
  expect({ schema, problems: outputProblems(schema, document) }).toEqual({ schema, problems: [] });
}

/** A server that listens on $PORT until it is ended. */
function serverScript(): string {
  const file = path.join(box.dir, 'server.js');
  fs.writeFileSync(file, "require('http').createServer((q, s) => s.end('ok')).listen(Number(process.env.PORT), '127.0.0.1');\n");
  return file;
}

describe('MCP tools', () => {
  let client: Client;
  beforeEach(async () => {
    client = await connectMcp(box);
  });
  afterEach(async () => {
    await client.close();
  });

  async function call(name: string, args: Record<string, unknown>): Promise<any> {
    const r = (await client.callTool({ name, arguments: args })) as { isError?: boolean; content: Array<{ text: string }> };
    const json = JSON.parse(r.content[0]!.text);
    expect(json.success).toBe(r.isError !== true);
    return json;
  }

  test('each answers with the document of its CLI command: allocate, list, why, start, stop, release', async () => {
    const allocated = await call('allocate_port', { service_type: 'api', name: 'web' });
    expectConforms('allocate', allocated);
    expectConforms('list', await call('list_ports', {}));
    expectConforms('why', await call('who_holds_port', { port: allocated.port }));
    expectConforms('release', await call('release_port', { lock_id: allocated.lockId }));

    const started = await call('start_server', { command: [process.execPath, serverScript()], service_type: 'dev', name: 'site' });
    expectConforms('start', started);
    expect(started).toMatchObject({ started: true, serviceType: 'dev', instanceId: 'site' });
    const stopped = await call('stop_server', { port: started.port });
    expectConforms('stop', stopped);
    expect(stopped.stopped[0].released).toBe(true);
  });

  test("a tool error is the CLI's failure document, suggestions included (none: an empty list)", async () => {
    const missing = await call('release_port', { lock_id: 'dev-nothing-000000' });
    expect(missing.error.code).toBe('NOT_FOUND');
    expectConforms(null, missing);
    const bad = await call('allocate_port', { service_type: 'no good' });
    expect(bad.error.code).toBe('INVALID_ARGUMENT');
    expectConforms(null, bad);
    expectConforms(null, await call('who_holds_port', {}));
  });
});

describe('Node API', () => {
  test('allocate, list, release, whoHolds and stop resolve to the documents, or to their parts', async () => {
    const at = { home: box.home, cwd: box.cwd };
    // The allocate document without success, dryRun always there (false for a real allocation), and release() besides.
    const asDocument = (value: unknown) => {
      const { dryRun, ...rest } = data(value) as { dryRun: boolean };
      expect(typeof dryRun).toBe('boolean');
      return { success: true, ...rest, ...(dryRun && { dryRun }) };
    };
    const one = await api.allocate({ serviceType: 'dev', instanceId: 'web', ...at });
    expect('success' in one).toBe(false);
    expectConforms('allocate', asDocument(one));
    expectConforms('allocate', asDocument(await api.allocate({ serviceType: 'dev', instanceId: 'dry', dryRun: true, ...at })));
    const batch = await api.allocate({ serviceTypes: ['api', 'database'], instanceId: 'web', ...at });
    expectConforms('allocate', { success: true, allocations: batch.map(asDocument), pruned: 0 });
    // list() is list's allocations; whoHolds() and stop() are why's and stop's documents without success.
    expectConforms('list', { success: true, allocations: data(await api.list(at)), pruned: 0 });
    expectConforms('why', { success: true, ...(data(await api.whoHolds(one.port, at)) as object) });
    expectConforms('stop', { success: true, ...(data(await api.stop(one.port, { ...at, dryRun: true })) as object) });
    // release() is release's released.
    expectConforms('release', { success: true, released: data(await api.release(one.lockId, at)), pruned: 0 });
  });

  test("a rejection carries the failure document's error: code, message, suggestions, details", async () => {
    const err = await rejection(api.allocate({ serviceType: 'dev', port: 70000, home: box.home, cwd: box.cwd }));
    expect(err.code).toBe('INVALID_ARGUMENT');
    const { code, message, suggestions, details } = err;
    expectConforms(null, { success: false, error: { code, message, suggestions, ...(details && { details }) } });
  });
});

test('the recipe of docs/cli.md validates a real document with the schemas the package exports', () => {
  // A project that has styxy and ajv installed, and styxy on the PATH.
  const modules = path.join(box.cwd, 'node_modules');
  fs.mkdirSync(modules);
  fs.symlinkSync(ROOT, path.join(modules, 'styxy'));
  fs.symlinkSync(path.join(ROOT, 'node_modules', 'ajv'), path.join(modules, 'ajv'));
  const bin = path.join(box.dir, 'bin');
  fs.mkdirSync(bin);
  fs.symlinkSync(BIN, path.join(bin, 'styxy'));
  const r = spawnSync('sh', ['-ec', readmeRecipe('json-output-schema')], {
    cwd: box.cwd,
    env: { ...box.env, PATH: `${bin}:${process.env.PATH}` },
    encoding: 'utf8',
  });
  expect({ status: r.status, stderr: r.stderr }).toEqual({ status: 0, stderr: '' });
  expect(r.stdout.split('\n')[0]).toBe('valid');
  expect(JSON.parse(fs.readFileSync(path.join(box.cwd, 'allocation.json'), 'utf8'))).toMatchObject({ success: true, serviceType: 'dev', instanceId: 'web' });
});
