import { findStackProblems, normaliseInsideDir, planServiceVariables, planStack, serviceVarStem } from '../../../lib/core/stack';
import type { StackService } from '../../../lib/core/types';

const F = '/p/.styxy.json';
const paths = (services: Record<string, StackService>) => findStackProblems(services, F).map((p) => p.path);

describe('normaliseInsideDir', () => {
  test.each([
    ['.', ''],
    ['a/b', 'a/b'],
    ['./a/../b/', 'b'],
    ['a//b/.', 'a/b'],
  ])('%j is %j', (dir, expected) => expect(normaliseInsideDir(dir)).toBe(expected));
  test.each(['..', '../x', 'a/../..', '/etc', '\\\\server\\share', 'C:/x', 'a\0b'])('%j leads outside', (dir) => expect(normaliseInsideDir(dir)).toBeNull());
});

describe('findStackProblems', () => {
  test.each<[string, Record<string, StackService>, string[]]>([
    ['a good stack', { web: { command: 'x', depends_on: ['api'] }, api: { command: 'y', cwd: 'svc/api' } }, []],
    ['an unknown dependency', { web: { command: 'x', depends_on: ['nope'] } }, ['/services/web/depends_on/0']],
    ['a dependency on itself', { web: { command: 'x', depends_on: ['web'] } }, ['/services/web/depends_on/0']],
    ['a cwd outside', { web: { command: 'x', cwd: '../up' } }, ['/services/web/cwd']],
    ['one variable for two names', { 'a-b': { command: 'x' }, 'a.b': { command: 'y' } }, ['/services/a.b']],
    [
      'a cycle of three',
      { a: { command: 'x', depends_on: ['b'] }, b: { command: 'x', depends_on: ['c'] }, c: { command: 'x', depends_on: ['a'] } },
      ['/services/a/depends_on'],
    ],
    ['a name of Object.prototype is not a service', { web: { command: 'x', depends_on: ['toString'] } }, ['/services/web/depends_on/0']],
  ])('%s', (_what, services, expected) => expect(paths(services)).toEqual(expected));

  test('a cycle is named along its way', () => {
    const [problem] = findStackProblems({ a: { command: 'x', depends_on: ['b'] }, b: { command: 'x', depends_on: ['a'] } }, F);
    expect(problem?.message).toContain('a -> b -> a');
  });
});

describe('planStack', () => {
  test('dependencies first, else the file order; the type defaults to the name', () => {
    const plan = planStack({
      web: { command: 'w', depends_on: ['api', 'db'] },
      api: { type: 'api', command: 'a', depends_on: ['db'], cwd: './svc/../api' },
      db: { type: 'database', command: 'd' },
      docs: { command: 'o' },
    });
    expect(plan.map((s) => s.name)).toEqual(['db', 'api', 'web', 'docs']);
    expect(plan.map((s) => s.type)).toEqual(['database', 'api', 'web', 'docs']);
    expect(plan.find((s) => s.name === 'api')?.cwd).toBe('api');
    expect(plan.find((s) => s.name === 'web')?.cwd).toBe('');
  });
});

describe('planServiceVariables', () => {
  const ports = [
    {
      name: 'web-app',
      port: 3000,
      lockId: 'dev-web-app-1',
      serviceType: 'dev',
      instanceId: 'web-app',
      existing: false,
      reused: true,
      listening: false,
      url: 'http://localhost:3000',
    },
    {
      name: 'api',
      port: 8000,
      lockId: 'api-api-1',
      serviceType: 'api',
      instanceId: 'api',
      existing: true,
      reused: false,
      listening: true,
      url: 'http://api.shop.localhost:8000',
      envNames: { url: 'BACKEND' },
    },
  ];
  test("every sibling's port and URL, its own PORT and STYXY_*, its env last", () => {
    const [web] = planStack({ 'web-app': { command: 'x', env: { API_URL: 'http://api.test' } } });
    const vars = Object.fromEntries(planServiceVariables(web!, ports));
    expect(vars).toMatchObject({
      WEB_APP_PORT: '3000',
      WEB_APP_URL: 'http://localhost:3000',
      API_PORT: '8000',
      API_URL: 'http://api.test',
      PORT: '3000',
      STYXY_PORT: '3000',
      STYXY_URL: 'http://localhost:3000',
      STYXY_LOCK_ID: 'dev-web-app-1',
      STYXY_SERVICE_TYPE: 'dev',
      STYXY_INSTANCE_ID: 'web-app',
      STYXY_EXISTING: '0',
      STYXY_REUSED: '1',
      STYXY_LISTENING: '0',
      STYXY_STACK_SERVICE: 'web-app',
    });
    // A sibling's own names are its own, not this service's.
    expect(vars.BACKEND).toBeUndefined();
  });
  test('URLs as the allocations write them (the subdomain style too)', () => {
    const [api] = planStack({ api: { command: 'x' } });
    const vars = Object.fromEntries(planServiceVariables(api!, ports));
    expect(vars).toMatchObject({
      API_URL: 'http://api.shop.localhost:8000',
      STYXY_URL: 'http://api.shop.localhost:8000',
      BACKEND: 'http://api.shop.localhost:8000',
      WEB_APP_URL: 'http://localhost:3000',
    });
  });
  test.each([
    ['web', 'WEB'],
    ['web-app', 'WEB_APP'],
    ['my.db', 'MY_DB'],
  ])('%j → %j', (name, stem) => expect(serviceVarStem(name)).toBe(stem));
});
