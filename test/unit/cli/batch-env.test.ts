import type { AllocateResult } from '../../../lib/app/allocate';
import { batchEnvVars, checkBatchVarNames, typeVarStem } from '../../../lib/cli/commands/allocate';
import { isStyxyError } from '../../../lib/errors';

const result = (serviceType: string, port: number, over: Partial<AllocateResult> = {}): AllocateResult => ({
  success: true,
  port,
  lockId: `${serviceType}-app-aaaaaa`,
  serviceType,
  instanceId: 'app',
  project: '/p',
  owner: { kind: 'persistent' },
  allocatedAt: '2026-01-01T00:00:00.000Z',
  existing: false,
  reused: false,
  autoAllocated: false,
  singleInstance: false,
  pruned: 0,
  ...over,
});

const codeOf = (run: () => void): string | undefined => {
  try {
    run();
    return undefined;
  } catch (err) {
    return isStyxyError(err) ? err.code : 'not a StyxyError';
  }
};

test.each([
  ['dev', 'DEV'],
  ['db-main', 'DB_MAIN'],
  ['cache.x', 'CACHE_X'],
  ['Web2', 'WEB2'],
])('%s is written as %s', (type, stem) => expect(typeVarStem(type)).toBe(stem));

describe('checkBatchVarNames', () => {
  test.each<[string, string[], string, string | undefined]>([
    ['distinct types', ['dev', 'api', 'database'], 'PORT', undefined],
    ['--env-name naming the first type’s own variable', ['dev', 'api'], 'DEV_PORT', undefined],
    ['--env-name STYXY_PORT', ['dev', 'api'], 'STYXY_PORT', undefined],
    ['a name that starts with a digit', ['dev', '0db'], 'PORT', 'INVALID_ARGUMENT'],
    ['two types that make one name', ['a-b', 'a.b'], 'PORT', 'INVALID_ARGUMENT'],
    ['--env-name taking another type’s variable', ['dev', 'api'], 'API_PORT', 'INVALID_ARGUMENT'],
    ['a type whose name starts like a shared variable but makes distinct names', ['dev', 'styxy-lock-ids'], 'PORT', undefined],
    ['a type named like a shared variable', ['dev', 'styxy'], 'PORT', 'INVALID_ARGUMENT'],
  ])('%s', (_name, types, envName, code) => expect(codeOf(() => checkBatchVarNames(types, envName))).toBe(code));
});

test('batchEnvVars: per-type ports first, the usual ones for the first type, then each type’s own and the lists', () => {
  const vars = batchEnvVars([result('dev', 3000), result('db-main', 5432, { existing: true })], 'PORT');
  expect(vars).toEqual([
    ['DEV_PORT', '3000'],
    ['DB_MAIN_PORT', '5432'],
    ['PORT', '3000'],
    ['STYXY_PORT', '3000'],
    ['STYXY_LOCK_ID', 'dev-app-aaaaaa'],
    ['STYXY_SERVICE_TYPE', 'dev'],
    ['STYXY_INSTANCE_ID', 'app'],
    ['STYXY_EXISTING', '0'],
    ['STYXY_DEV_LOCK_ID', 'dev-app-aaaaaa'],
    ['STYXY_DEV_INSTANCE_ID', 'app'],
    ['STYXY_DEV_EXISTING', '0'],
    ['STYXY_DB_MAIN_LOCK_ID', 'db-main-app-aaaaaa'],
    ['STYXY_DB_MAIN_INSTANCE_ID', 'app'],
    ['STYXY_DB_MAIN_EXISTING', '1'],
    ['STYXY_LOCK_IDS', 'dev-app-aaaaaa db-main-app-aaaaaa'],
    ['STYXY_SERVICE_TYPES', 'dev db-main'],
  ]);
  // --env-name DEV_PORT: the first type's variable is not written twice.
  expect(batchEnvVars([result('dev', 3000), result('api', 8000)], 'DEV_PORT').filter(([n]) => n === 'DEV_PORT')).toHaveLength(1);
});
