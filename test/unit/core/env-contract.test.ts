import { allocationEnv, batchEnv, findBatchVarProblem, findEnvNameArgClash, typeVarStem, type EnvAllocation } from '../../../lib/core/env-contract';

const result = (serviceType: string, port: number, over: Partial<EnvAllocation> = {}): EnvAllocation => ({
  port,
  lockId: `${serviceType}-app-aaaaaa`,
  serviceType,
  instanceId: 'app',
  existing: false,
  reused: false,
  listening: false,
  url: `http://localhost:${port}`,
  ...over,
});

test.each([
  ['dev', 'DEV'],
  ['db-main', 'DB_MAIN'],
  ['cache.x', 'CACHE_X'],
  ['Web2', 'WEB2'],
])('%s is written as %s', (type, stem) => expect(typeVarStem(type)).toBe(stem));

describe('findBatchVarProblem', () => {
  test.each<[string, string[], string, string | undefined]>([
    ['distinct types', ['dev', 'api', 'database'], 'PORT', undefined],
    ['--env-name naming the first type’s own variable', ['dev', 'api'], 'DEV_PORT', undefined],
    ['--env-name STYXY_PORT', ['dev', 'api'], 'STYXY_PORT', undefined],
    ['a name that starts with a digit', ['dev', '0db'], 'PORT', 'problem'],
    ['two types that make one name', ['a-b', 'a.b'], 'PORT', 'problem'],
    ['--env-name taking another type’s variable', ['dev', 'api'], 'API_PORT', 'problem'],
    ['a type whose name starts like a shared variable but makes distinct names', ['dev', 'styxy-lock-ids'], 'PORT', undefined],
    ['a type named like a shared variable', ['dev', 'styxy'], 'PORT', 'problem'],
    ['--env-name taking another type’s URL variable', ['dev', 'api'], 'API_URL', 'problem'],
  ])('%s', (_name, types, envName, code) => expect(findBatchVarProblem(types, envName) ? 'problem' : undefined).toBe(code));
});

test('batchEnv: per-type ports first, the usual ones for the first type, then each type’s own and the lists', () => {
  const vars = batchEnv([result('dev', 3000), result('db-main', 5432, { existing: true, reused: true, listening: true })], 'PORT');
  expect(vars).toEqual([
    ['DEV_PORT', '3000'],
    ['DEV_URL', 'http://localhost:3000'],
    ['DB_MAIN_PORT', '5432'],
    ['DB_MAIN_URL', 'http://localhost:5432'],
    ['PORT', '3000'],
    ['STYXY_PORT', '3000'],
    ['STYXY_URL', 'http://localhost:3000'],
    ['STYXY_LOCK_ID', 'dev-app-aaaaaa'],
    ['STYXY_SERVICE_TYPE', 'dev'],
    ['STYXY_INSTANCE_ID', 'app'],
    ['STYXY_EXISTING', '0'],
    ['STYXY_REUSED', '0'],
    ['STYXY_LISTENING', '0'],
    ['STYXY_DEV_LOCK_ID', 'dev-app-aaaaaa'],
    ['STYXY_DEV_INSTANCE_ID', 'app'],
    ['STYXY_DEV_EXISTING', '0'],
    ['STYXY_DEV_REUSED', '0'],
    ['STYXY_DEV_LISTENING', '0'],
    ['STYXY_DB_MAIN_LOCK_ID', 'db-main-app-aaaaaa'],
    ['STYXY_DB_MAIN_INSTANCE_ID', 'app'],
    ['STYXY_DB_MAIN_EXISTING', '1'],
    ['STYXY_DB_MAIN_REUSED', '1'],
    ['STYXY_DB_MAIN_LISTENING', '1'],
    ['STYXY_LOCK_IDS', 'dev-app-aaaaaa db-main-app-aaaaaa'],
    ['STYXY_SERVICE_TYPES', 'dev db-main'],
  ]);
  // --env-name DEV_PORT: the first type's variable is not written twice.
  expect(batchEnv([result('dev', 3000), result('api', 8000)], 'DEV_PORT').filter(([n]) => n === 'DEV_PORT')).toHaveLength(1);
});

test('allocationEnv: PORT first, then the STYXY_* variables; --env-name STYXY_PORT is not written twice', () => {
  expect(allocationEnv(result('dev', 3000, { existing: true, listening: true }))).toEqual([
    ['PORT', '3000'],
    ['STYXY_PORT', '3000'],
    ['STYXY_URL', 'http://localhost:3000'],
    ['STYXY_LOCK_ID', 'dev-app-aaaaaa'],
    ['STYXY_SERVICE_TYPE', 'dev'],
    ['STYXY_INSTANCE_ID', 'app'],
    ['STYXY_EXISTING', '1'],
    ['STYXY_REUSED', '0'],
    ['STYXY_LISTENING', '1'],
  ]);
  expect(allocationEnv(result('dev', 3000), 'STYXY_PORT').filter(([n]) => n === 'STYXY_PORT')).toHaveLength(1);
});

test('a type’s own names for its port and URL reach every sibling, after the standard ones', () => {
  const api = result('api', 8003, { envNames: { url: 'BACKEND_URL', port: 'BACKEND_PORT' } });
  const vars = batchEnv([result('dev', 3000), api]);
  expect(vars.slice(-2)).toEqual([
    ['BACKEND_PORT', '8003'],
    ['BACKEND_URL', 'http://localhost:8003'],
  ]);
  expect(Object.fromEntries(vars)).toMatchObject({ API_URL: 'http://localhost:8003', DEV_URL: 'http://localhost:3000', PORT: '3000' });
  // Alone, too; a name already set (here PORT, by --env-name) keeps its standard meaning.
  expect(allocationEnv(api, 'PORT').slice(-2)).toEqual([
    ['BACKEND_PORT', '8003'],
    ['BACKEND_URL', 'http://localhost:8003'],
  ]);
  expect(allocationEnv(result('api', 8003, { envNames: { port: 'PORT' } })).filter(([n]) => n === 'PORT')).toHaveLength(1);
});

describe('findEnvNameArgClash', () => {
  const types = [
    { serviceType: 'web', port: 'WEB_APP_PORT', url: 'WEB_APP_URL' },
    { serviceType: 'api', url: 'BACKEND_URL' },
  ];
  test.each([
    ['PORT', null],
    ['WEB_APP_PORT', null],
    ['WEB_APP_URL', { variable: 'WEB_APP_URL', serviceType: 'web', key: 'url' }],
    ['BACKEND_URL', { variable: 'BACKEND_URL', serviceType: 'api', key: 'url' }],
  ])('%s', (envName, expected) => {
    expect(findEnvNameArgClash(envName, types)).toEqual(expected);
  });
});
