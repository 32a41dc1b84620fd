import * as implementation from '../../lib/api';
import type * as Declared from '../../types/styxy';

// The declarations users compile against (types/styxy.d.ts, shipped as dist/api.d.ts) hold the
// implementation to them: `npm run typecheck` fails when lib/api.ts drifts from them. What a user
// writes against the installed package is compiled in test/tools/package.test.ts.

const asDeclared: Omit<typeof Declared, 'StyxyError'> = implementation;
const errorClass: new (...args: ConstructorParameters<typeof Declared.StyxyError>) => Declared.StyxyError = implementation.StyxyError;

test('lib/api.ts exports exactly what the declarations declare', () => {
  expect(
    Object.keys(implementation)
      .filter((k) => k !== '__esModule')
      .sort(),
  ).toEqual(['StyxyError', 'allocate', 'allocateMany', 'envVars', 'list', 'release', 'stop', 'whoHolds', 'withPort']);
  expect(typeof asDeclared.withPort).toBe('function');
  expect(new errorClass('NOT_FOUND', 'x').exitCode).toBe(8);
});
