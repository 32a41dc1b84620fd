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
