import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { ROOT, closeServer, freePortBlock, listen, sandbox, type Sandbox, rejection } from '../helpers/cli';

// allocate({ serviceTypes }) through the built Node API: the CLI's batch, as values.

type Api = typeof import('../../types/styxy');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const api = require(path.join(ROOT, 'dist', 'api.js')) as Api;

let box: Sandbox;
let base: number;
let at: { home: string; cwd: string };
beforeEach(async () => {
  box = sandbox();
  at = { home: box.home, cwd: box.cwd };
  base = await freePortBlock(3);
  box.writeConfig({ service_types: { web: { port_range: [base, base + 1] }, db: { port_range: [base + 2, base + 2] } } });
});
afterEach(() => box.cleanup());

test('allocate({ serviceTypes }) resolves to one allocation per type, each with its own release()', async () => {
  const [web, db] = await api.allocate({ serviceTypes: ['web', 'db'], instanceId: 'app', ...at });
  expect([web?.serviceType, web?.port, db?.serviceType, db?.port]).toEqual(['web', base, 'db', base + 2]);
  expect(box.run(['list', '--json']).json.allocations).toHaveLength(2);
  await web!.release();
  await db!.release();
  expect(box.run(['list', '--json']).json.allocations).toEqual([]);
});

test('one exhausted type rejects naming it, and nothing is allocated', async () => {
  const server = await listen(base + 2, '127.0.0.1');
  try {
    await api.allocate({ serviceType: 'web', persistent: true, ...at });
    const before = fs.readFileSync(path.join(box.home, 'state.json'), 'utf8');
    const err = await rejection(api.allocate({ serviceTypes: ['web', 'db'], ...at }));
    expect(err).toBeInstanceOf(api.StyxyError);
    expect(err.code).toBe('RANGE_EXHAUSTED');
    expect(err.details).toMatchObject({ serviceType: 'db', serviceTypes: ['web', 'db'] });
    expect(fs.readFileSync(path.join(box.home, 'state.json'), 'utf8')).toBe(before);
  } finally {
    await closeServer(server);
  }
});

test('bad batches are refused with INVALID_ARGUMENT', async () => {
  expect((await rejection(api.allocate({ serviceTypes: 'web' as never, ...at }))).code).toBe('INVALID_ARGUMENT');
  expect((await rejection(api.allocate({ serviceTypes: ['web', 'web'], ...at }))).code).toBe('INVALID_ARGUMENT');
  expect((await rejection(api.allocate({ serviceTypes: ['web'], waitReadyMs: 5, ...at } as never))).code).toBe('INVALID_ARGUMENT');
  expect((await rejection(api.allocate({ serviceTypes: ['web'], serviceType: 'db', ...at } as never))).code).toBe('INVALID_ARGUMENT');
});

test('envVars gives a batch the variables allocate --env prints: each sibling’s port and URL', async () => {
  const batch = await api.allocate({ serviceTypes: ['web', 'db'], instanceId: 'app', persistent: true, ...at });
  const vars = api.envVars(batch);
  expect(vars).toMatchObject({ PORT: String(base), WEB_URL: `http://localhost:${base}`, DB_URL: `http://localhost:${base + 2}`, STYXY_URL: batch[0]!.url });
  const cli = box.run(['allocate', '-s', 'web', '-s', 'db', '-n', 'app', '--format', 'dotenv']).stdout;
  // The same names and values as the CLI's, but for whether the port is served (the CLI asked again).
  const fromCli = Object.fromEntries(
    cli
      .trim()
      .split('\n')
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 2, -1)]),
  );
  const same = (v: Record<string, string>) => Object.fromEntries(Object.entries(v).filter(([k]) => !/REUSED|LISTENING/.test(k)));
  expect(same(fromCli)).toEqual(same(vars));
  expect(api.envVars(batch[1]!, { envName: 'DB_PORT' })).toMatchObject({ DB_PORT: String(base + 2), STYXY_URL: `http://localhost:${base + 2}` });
  let err: unknown;
  try {
    api.envVars(batch, { envName: '1BAD' });
  } catch (e) {
    err = e;
  }
  expect((err as { code?: string }).code).toBe('INVALID_ARGUMENT');
});

describe('allocateMany', () => {
  test('is the batch under a name of its own: one allocation per type, in order, all or nothing', async () => {
    const [web, db] = await api.allocateMany({ serviceTypes: ['web', 'db'], instanceId: 'app', ...at });
    expect([web?.serviceType, web?.port, db?.serviceType, db?.port]).toEqual(['web', base, 'db', base + 2]);
    // The same sticky allocations as the overloaded allocate's batch: handed back, not doubled.
    const again = await api.allocate({ serviceTypes: ['web', 'db'], instanceId: 'app', ...at });
    expect(again.map((a) => [a.lockId, a.reused])).toEqual([
      [web?.lockId, true],
      [db?.lockId, true],
    ]);
    const before = fs.readFileSync(path.join(box.home, 'state.json'), 'utf8');
    const err = await rejection(api.allocateMany({ serviceTypes: ['web', 'db'], instanceId: 'other', ...at }));
    expect([err.code, err.details.serviceType]).toEqual(['RANGE_EXHAUSTED', 'db']);
    expect(fs.readFileSync(path.join(box.home, 'state.json'), 'utf8')).toBe(before);
    await web!.release();
    await db!.release();
    expect(box.run(['list', '--json']).json.allocations).toEqual([]);
  });

  test('takes no single serviceType: INVALID_ARGUMENT naming allocateMany, nothing written', async () => {
    for (const bad of [{ serviceType: 'web' }, { serviceTypes: 'web' }, null, { serviceTypes: ['web'], port: base }]) {
      const err = await rejection(api.allocateMany({ ...(bad as object), ...at } as never));
      expect([err.code, err.message]).toEqual(['INVALID_ARGUMENT', expect.stringContaining('allocateMany')]);
    }
    expect((await rejection(api.allocateMany(null as never))).code).toBe('INVALID_ARGUMENT');
    expect(fs.existsSync(path.join(box.home, 'state.json'))).toBe(false);
  });

  test('the ES module face has every export of the CommonJS one, allocateMany among them', () => {
    // A real ES module in a child (Jest runs CommonJS): its named exports against require's.
    const script = `
      import * as esm from ${JSON.stringify(path.join(ROOT, 'dist', 'api.mjs'))};
      import { createRequire } from 'module';
      const cjs = createRequire(import.meta.url)(${JSON.stringify(path.join(ROOT, 'dist', 'api.js'))});
      console.log(JSON.stringify({ esm: Object.keys(esm).filter((k) => k !== 'default').sort(), cjs: Object.keys(cjs).filter((k) => k !== '__esModule').sort(), same: esm.allocateMany === cjs.allocateMany }));
    `;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    const out = JSON.parse(r.stdout);
    expect(out.esm).toEqual(out.cjs);
    expect(out.esm).toEqual(expect.arrayContaining(['allocateMany', 'envVars', 'whoHolds', 'stop']));
    expect(out.same).toBe(true);
  });
});
