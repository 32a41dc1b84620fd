import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as ts from 'typescript';
import { ROOT, useSandbox } from '../helpers/cli';

// `await using a = await allocate(...)`: a user's TypeScript, compiled by the real compiler against
// the shipped declarations only (dist/api.d.ts, no @types/node, no DOM, lib ES2022), run by
// this machine's Node against the built bundle, with the real CLI beside it. And the polyfill of
// Symbol.asyncDispose, in a realm that lacks it as Node before 18.18 and 20.4 does.

const box = useSandbox();

/** A project whose node_modules/styxy is this checkout, as `npm install` of the package gives. */
function userProject(): string {
  const dir = path.join(box.dir, 'user');
  fs.mkdirSync(path.join(dir, 'node_modules'), { recursive: true });
  fs.symlinkSync(ROOT, path.join(dir, 'node_modules', 'styxy'));
  return dir;
}

/** Compiles `source` (main.ts) with the user's options; returns the diagnostics and runs the output. */
function compileAndRun(source: string): { diagnostics: string[]; stdout: string; stderr: string; status: number | null } {
  const dir = userProject();
  const file = path.join(dir, 'main.ts');
  fs.writeFileSync(file, source);
  const options: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.CommonJS,
    moduleResolution: ts.ModuleResolutionKind.Node10,
    strict: true,
    // The barest project: no @types/node, no DOM. The declarations must compile there too.
    types: [],
    lib: ['lib.es2022.d.ts'],
    outDir: path.join(dir, 'out'),
  };
  const program = ts.createProgram([file], options);
  const emitted = program.emit();
  const diagnostics = [...ts.getPreEmitDiagnostics(program), ...emitted.diagnostics].map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
  const r = spawnSync(process.execPath, [path.join(dir, 'out', 'main.js')], { cwd: box.cwd, env: box.env, encoding: 'utf8' });
  return { diagnostics, stdout: r.stdout, stderr: r.stderr, status: r.status };
}

test('await using (typed by the declarations alone) releases the allocation when its block ends, and leaves alone one someone else made theirs meanwhile', () => {
  const cli = JSON.stringify(path.join(ROOT, 'bin', 'styxy'));
  const run = compileAndRun(`
    import { allocate, list, type PortAllocation } from 'styxy';
    // The declarations alone say what a PortAllocation is: AsyncDisposable.
    const disposable: AsyncDisposable = {} as PortAllocation;
    void disposable;
    declare const require: (id: string) => any;
    declare const process: { execPath: string; stdout: { write(s: string): void } };
    const { execFileSync } = require('child_process');
    const ports = async () => (await list()).map((a) => a.port);

    async function main(): Promise<void> {
      const seen: Record<string, number[]> = {};
      {
        await using web = await allocate({ serviceType: 'dev', instanceId: 'web' });
        await using api = await allocate({ serviceType: 'api', instanceId: 'api' });
        seen.inside = await ports();
        // The CLI makes 'api' persistent, as a user may meanwhile: it is theirs now, and stays.
        execFileSync(process.execPath, [${cli}, 'allocate', '-s', 'api', '-n', 'api', '--persistent', '--json']);
        void web; void api;
      }
      seen.after = await ports();
      process.stdout.write(JSON.stringify(seen));
    }
    main();
  `);
  expect(run.diagnostics).toEqual([]);
  expect([run.status, run.stderr]).toEqual([0, '']);
  expect(JSON.parse(run.stdout)).toEqual({ inside: [3000, 8000], after: [8000] });
  expect(box.run(['list', '--json']).json.allocations).toEqual([
    expect.objectContaining({ port: 8000, owner: expect.objectContaining({ kind: 'persistent' }) }),
  ]);
});

test('where the runtime has no Symbol.asyncDispose, the first allocation defines it, and it releases (Node 24: the runtime has it)', () => {
  // A vm realm has V8's Symbol without Node's additions: the bundle runs there with Node's modules.
  const script = `
    const vm = require('vm');
    const fs = require('fs');
    const code = fs.readFileSync(${JSON.stringify(path.join(ROOT, 'dist', 'api.js'))}, 'utf8');
    const module = { exports: {} };
    const realm = vm.createContext({ require, module, exports: module.exports, process, console, setTimeout, clearTimeout, setInterval, clearInterval, setImmediate, clearImmediate, Buffer, URL, AbortSignal, TextDecoder, TextEncoder });
    const before = vm.runInContext('typeof Symbol.asyncDispose', realm);
    vm.runInContext(code, realm, { filename: 'api.js' });
    (async () => {
      const home = ${JSON.stringify(box.home)};
      const a = await module.exports.allocate({ serviceType: 'dev', home });
      const symbol = vm.runInContext('Symbol.asyncDispose', realm);
      const inside = (await module.exports.list({ home })).length;
      await a[symbol]();
      const after = (await module.exports.list({ home })).length;
      console.log(JSON.stringify({ before, symbol: typeof symbol, description: symbol.description, inside, after }));
    })().catch((e) => { console.error(e); process.exit(1); });
  `;
  const r = spawnSync(process.execPath, ['-e', script], { cwd: box.cwd, env: box.env, encoding: 'utf8' });
  expect(r.stderr).toBe('');
  // From Node 24 on, V8 itself has the symbol (a realm has it too): the allocation then uses it.
  const native = Number(process.versions.node.split('.')[0]) >= 24;
  expect(JSON.parse(r.stdout)).toEqual({ before: native ? 'symbol' : 'undefined', symbol: 'symbol', description: 'Symbol.asyncDispose', inside: 1, after: 0 });
});
