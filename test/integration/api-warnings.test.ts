import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { ROOT, useSandbox } from '../helpers/cli';

// The warnings the CLI prints on stderr reach Node code through process.emitWarning by default
// (type StyxyWarning, a stable code), seen by a real process.on('warning') listener in a child
// process; `onWarning` replaces that.

const box = useSandbox();
const API_CJS = JSON.stringify(path.join(ROOT, 'dist', 'api.js'));

/** Runs `body` (an async function body with `api`, `home`, `warnings` and `done(value)`) in a child that listens for warnings. */
function child(body: string, args: string[] = []) {
  const script = `
    const api = require(${API_CJS});
    const home = ${JSON.stringify(box.home)};
    const warnings = [];
    process.on('warning', (w) => warnings.push({ name: w.name, code: w.code, message: w.message }));
    const done = (value) => setImmediate(() => console.log(JSON.stringify({ value, warnings })));
    (async () => { ${body} })().catch((e) => { console.error(e); process.exit(1); });
  `;
  const r = spawnSync(process.execPath, [...args, '-e', script], { cwd: box.cwd, env: box.env, encoding: 'utf8' });
  return { ...r, json: r.stdout ? JSON.parse(r.stdout) : null };
}

function corruptState(): void {
  box.run(['list']);
  fs.writeFileSync(path.join(box.home, 'state.json'), '{ not json');
}

test('by default a warning is a StyxyWarning with a code, heard by process.on("warning") and printed by Node', () => {
  corruptState();
  const r = child(`done((await api.list({ home })).length);`);
  expect(r.json.value).toBe(0);
  expect(r.json.warnings).toEqual([{ name: 'StyxyWarning', code: 'STYXY_STATE_CORRUPT', message: expect.stringMatching(/^state\.json was unusable/) }]);
  // Node prints it as it prints its own, with the code; --no-warnings silences it, as for Node's own.
  expect(r.stderr).toContain('[STYXY_STATE_CORRUPT] StyxyWarning:');
  corruptState();
  expect(child(`done((await api.list({ home })).length);`, ['--no-warnings']).stderr).toBe('');
});

test('onWarning replaces it: called with the message and the code, nothing emitted', () => {
  corruptState();
  const r = child(`
    const told = [];
    await api.list({ home, onWarning: (message, code) => told.push([code, message.startsWith('styxy: state.json was unusable')]) });
    done(told);
  `);
  expect(r.json).toEqual({ value: [['STYXY_STATE_CORRUPT', true]], warnings: [] });
  expect(r.stderr).toBe('');
});

test('release() of an allocation someone else made theirs warns STYXY_NOT_RELEASED; withPort does not', () => {
  const cli = JSON.stringify(path.join(ROOT, 'bin', 'styxy'));
  const r = child(`
    const { execFileSync } = require('child_process');
    const a = await api.allocate({ serviceType: 'dev', instanceId: 'web', home });
    execFileSync(process.execPath, [${cli}, 'allocate', '-s', 'dev', '-n', 'web', '--persistent', '--json']);
    const released = await a.release();
    const fromWithPort = await api.withPort({ serviceType: 'dev', instanceId: 'w2', home }, () => {
      execFileSync(process.execPath, [${cli}, 'allocate', '-s', 'dev', '-n', 'w2', '--persistent', '--json']);
      return 'ok';
    });
    done([released, fromWithPort]);
  `);
  expect(r.json).toEqual({
    value: [false, 'ok'],
    warnings: [{ name: 'StyxyWarning', code: 'STYXY_NOT_RELEASED', message: expect.stringContaining('was not released') }],
  });
});

test('the deprecated ttl still makes a lease, and says once (a DeprecationWarning) to use ttlMs', () => {
  const r = child(`
    const a = await api.allocate({ serviceType: 'dev', ttl: '30m', home });
    const b = await api.allocate({ serviceType: 'dev', ttl: 60000, home });
    const c = await api.allocate({ serviceType: 'dev', ttlMs: 60000, home });
    done([a, b, c].map((x) => x.owner.kind));
  `);
  expect(r.json).toEqual({
    value: ['lease', 'lease', 'lease'],
    warnings: [{ name: 'DeprecationWarning', code: 'STYXY_DEP_TTL', message: expect.stringContaining('ttlMs') }],
  });
});
