/**
 * Jest runs the TypeScript sources through SWC, which only strips the types (tsconfig.json has
 * isolatedModules, so nothing needs the whole program); type-checking is done once by
 * `npm run typecheck`. ts-jest took about 0.2 s of CPU per test file for the same output.
 */
const swc = (syntax) => ['@swc/jest', { jsc: { parser: { syntax }, target: 'es2022' }, module: { type: 'commonjs' } }];

module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': swc('typescript'), '^.+\\.js$': swc('ecmascript') },
  testTimeout: 60000,
  globalSetup: '<rootDir>/test/global-setup.js',
  // Each worker has a loopback of its own (see the file); 3 workers were the fastest here on 2 cores.
  runner: '<rootDir>/test/netns-runner.js',
  maxWorkers: 3,
  reporters: ['default', '<rootDir>/test/summary-reporter.js'],
};
