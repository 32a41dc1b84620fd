import { findEnvNameProblem, findNameProblem, findOwnEnvNameProblem, parseDuration, parsePort } from '../../../lib/core/names';

describe('findNameProblem', () => {
  test.each(['dev', 'a', 'rag-service', 'my_app.v2', 'X1', 'a'.repeat(63), '9lives'])('accepts %j', (name) => {
    expect(findNameProblem(name, 'service type')).toBeNull();
  });
  test.each([
    '',
    ' dev',
    'dev ',
    'a/b',
    '../x',
    '$(id)',
    'a;b',
    "a'b",
    '-x',
    '.hidden',
    '_x',
    'a'.repeat(64),
    'dév',
    'a\nb',
    'a\0b',
    '__proto__',
    'constructor',
    'toString',
  ])('refuses %j', (name) => {
    expect(findNameProblem(name, 'service type')).toMatch(/service type/);
  });
  test('refuses what is not a string', () => {
    expect(findNameProblem(undefined, 'instance id')).toMatch(/must not be empty/);
    expect(findNameProblem(12, 'instance id')).toMatch(/must not be empty/);
  });
});

describe('parsePort', () => {
  test.each([
    ['1', 1],
    ['3000', 3000],
    ['65535', 65535],
    [8080, 8080],
  ])('%j → %d', (input, port) => expect(parsePort(input)).toBe(port));
  test.each(['0', '65536', '-1', '3000.5', 'abc', '', ' 3000', '1e3', '0x10', '999999'])('%j is not a port', (input) => expect(parsePort(input)).toBeNull());
});

describe('parseDuration', () => {
  test.each([
    ['30s', 30_000],
    ['30m', 1_800_000],
    ['8h', 28_800_000],
    ['2d', 172_800_000],
    ['1h30m', 5_400_000],
  ])('%s', (text, ms) => expect(parseDuration(text)).toBe(ms));
  test.each(['', '0s', '8', 'h', '8 h', '-1h', '1w', '400d', '1.5h'])('%j is refused', (text) => expect(parseDuration(text)).toBeNull());
});

describe('findEnvNameProblem', () => {
  test.each(['PORT', 'VITE_PORT', '_x', 'a1'])('%s is a fine variable name', (n) => expect(findEnvNameProblem(n)).toBeNull());
  test.each(['', '1PORT', 'MY-PORT', 'A B', 'A;B', 'A\n', '__proto__', 'constructor', 'toString', 'X'.repeat(65)])('%j is refused', (n) =>
    expect(findEnvNameProblem(n)).not.toBeNull(),
  );
});

describe('findOwnEnvNameProblem', () => {
  test.each(['BACKEND_URL', 'DB_PORT', 'API_HOST', 'APP_ORIGIN', `${'A'.repeat(60)}_URL`, 'NODEJS_URL'])('%s is fine', (name) => {
    expect(findOwnEnvNameProblem(name)).toBeNull();
  });
  test.each([
    'BASH_ENV',
    'PATH',
    'LD_PRELOAD',
    'NODE_OPTIONS',
    'PROMPT_COMMAND',
    'backend_url',
    'URL',
    '_URL_X',
    'LD_LIBRARY_URL',
    'ld_audit_url',
    'BASH_FUNC_URL',
    'GIT_PROXY_URL',
    'PIP_INDEX_URL',
    'DOCKER_HOST',
    'NODE_EXTRA_URL',
    'STYXY_WEB_URL',
    `${'A'.repeat(61)}_URL`,
  ])('%s is refused', (name) => {
    expect(findOwnEnvNameProblem(name)).not.toBeNull();
  });
});
