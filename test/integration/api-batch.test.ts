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
