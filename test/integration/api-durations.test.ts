import * as path from 'path';
import { ROOT, freePortBlock, useSandbox } from '../helpers/cli';

// Every duration the API takes or gives is in milliseconds and named ...Ms (test/unit/api-types.test.ts
// holds the declarations to that); the older names stay, deprecated, with the same meaning.

type Api = typeof import('../../types/styxy');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const api = require(path.join(ROOT, 'dist', 'api.js')) as Api;

const box = useSandbox();

test('a port still cooling says how long ago it was freed and its cool-down in ms, and in the deprecated seconds', async () => {
  const base = await freePortBlock(1);
  box.writeConfig({ service_types: { web: { port_range: [base, base] } }, port_reuse: { cooldown_seconds: 900 } });
  const at = { home: box.home, cwd: box.cwd };
  const one = await api.allocate({ serviceType: 'web', instanceId: 'one', persistent: true, ...at });
  const freedBefore = Date.now();
  await api.release(one.lockId, at);
  const two = await api.allocate({ serviceType: 'web', instanceId: 'two', persistent: true, ...at });
  const freedAt = Date.parse(two.cooling!.freedAt);
  expect(freedAt).toBeGreaterThanOrEqual(freedBefore - 1000);
  expect(two).toMatchObject({ port: base, cooling: { cooldownMs: 900_000, cooldownSeconds: 900, previousHolder: { instanceId: 'one' } } });
  // Measured from freedAt when the answer was made: not negative, not later than now.
  expect(two.cooling!.freedAgoMs).toBeGreaterThanOrEqual(0);
  expect(two.cooling!.freedAgoMs).toBeLessThanOrEqual(Date.now() - freedAt);
});

test('ttlMs makes a lease of that many milliseconds; ttlMs with ttl or another owner is INVALID_ARGUMENT', async () => {
  const at = { home: box.home, cwd: box.cwd };
  const before = Date.now();
  const a = await api.allocate({ serviceType: 'dev', ttlMs: 3_600_000, ...at });
  const after = Date.now();
  expect(a.owner.kind).toBe('lease');
  // An hour from the moment the call decided, which lies between before and after.
  const ends = Date.parse((a.owner as { expiresAt: string }).expiresAt);
  expect(ends).toBeGreaterThanOrEqual(before + 3_600_000 - 1);
  expect(ends).toBeLessThanOrEqual(after + 3_600_000);
  for (const bad of [{ ttlMs: 1000, ttl: 1000 }, { ttlMs: 1000, persistent: true }, { ttlMs: '30m' }, { ttlMs: 0 }, { ttlMs: 1.5 }]) {
    const err = await api.allocate({ serviceType: 'dev', ...(bad as object), ...at }).catch((e: unknown) => e);
    expect((err as { code: string }).code).toBe('INVALID_ARGUMENT');
  }
});
