import { builtInConfig } from '../../../lib/core/defaults';
import { editDistance, findNearMissType } from '../../../lib/core/near-miss';

describe('editDistance', () => {
  test.each([
    ['dev', 'dev', 0],
    ['dve', 'dev', 1], // a transposition is one edit
    ['edv', 'dev', 1],
    ['vde', 'dev', 2],
    ['databse', 'database', 1],
    ['datbase', 'database', 1],
    ['dtaabase', 'database', 1],
    ['daatbse', 'database', 2],
    ['monitorign', 'monitoring', 1],
    ['', 'dev', 3],
    ['dev', '', 3],
    ['api', 'ai', 1],
    ['grafana', 'database', 6],
    ['ca', 'abc', 3], // optimal string alignment: a swapped pair is not edited again
  ])('%j to %j is %d', (a, b, d) => {
    expect(editDistance(a, b)).toBe(d);
    expect(editDistance(b, a)).toBe(d);
  });
});

describe('findNearMissType over the built-in types', () => {
  const known = Object.keys(builtInConfig().service_types);

  test.each([
    ['dve', 'dev'],
    ['Dev', 'dev'],
    ['DEV', 'dev'],
    ['AI', 'ai'],
    ['databse', 'database'],
    ['Databse', 'database'],
    ['datbaase', 'database'],
    ['apii', 'api'],
    ['tset', 'test'],
    ['montoring', 'monitoring'],
    ['infrastucture', 'infrastructure'],
    ['storybok', 'storybook'],
    ['mesaging', 'messaging'],
  ])('%j is a near miss of %j', (name, type) => {
    expect(findNearMissType(name, known)).toBe(type);
  });

  test.each([
    'grafana',
    'jaeger',
    'prometheus',
    'redis',
    'postgres',
    'kafka',
    'vite',
    'web',
    'db',
    'llm',
    'rag',
    'ollama',
    'mail',
    'admin',
    'dev2',
    'api3',
    'ui2',
    'worker',
    'vde',
    'xy',
    'backend',
    'frontend',
  ])('%j is far from every known type', (name) => {
    expect(findNearMissType(name, known)).toBeNull();
  });

  test('two-letter names may differ in case only: ui and ai are both real types', () => {
    expect(findNearMissType('ui', ['ai'])).toBeNull();
    expect(findNearMissType('Ui', ['ui', 'ai'])).toBe('ui');
  });

  test('the nearest type wins, then the first in alphabetical order, whatever the order given', () => {
    expect(findNearMissType('tesd', ['test', 'tests'])).toBe('test');
    expect(findNearMissType('abcx', ['abcz', 'abcy'])).toBe('abcy');
    expect(findNearMissType('abcx', ['abcy', 'abcz'])).toBe('abcy');
  });

  test('auto-allocated and user types count as known', () => {
    expect(findNearMissType('grafan', ['grafana'])).toBe('grafana');
    expect(findNearMissType('Grafana', [...known, 'grafana'])).toBe('grafana');
  });
});
