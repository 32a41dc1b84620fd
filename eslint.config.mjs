// ESLint for Styxy: typescript-eslint's recommended rules over lib/, test/ and scripts/.
// No stylistic rules here: lint finds mistakes, not layout.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'lib/generated/**', 'node_modules/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      // A variable a closure reads before its one assignment (a child process its own handlers
      // refer to) cannot be const.
      'prefer-const': ['error', { ignoreReadBeforeAssign: true }],
      // `import fs = require('fs')` is deliberate: esbuild's ES-module interop copied every export of
      // fs, path and os at start-up (about 2 ms); see README "Performance". So is a require() where a
      // module is used: our own modules and the built-ins the everyday commands must not load
      // (test/integration/startup.test.ts), minimatch (only a glob rule needs it), yaml (only compose), smol-toml and the MCP SDK
      // are loaded on demand that way; anything else stays an import.
      '@typescript-eslint/no-require-imports': [
        'error',
        {
          allowAsImport: true,
          allow: [
            '^\\.{1,2}/',
            '^(child_process|net|crypto|stream|tty|readline|zlib|os|fs|path|module|minimatch|yaml|smol-toml|@modelcontextprotocol/sdk/.*)$',
          ],
        },
      ],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
  {
    // A function in lib/ does one thing a reader can hold at once: past 60 lines, split it by what
    // it does (the code under test/ is tables and scenarios, and is not held to it).
    files: ['lib/**/*.ts'],
    rules: { 'max-lines-per-function': ['error', { max: 60 }] },
  },
  {
    files: ['**/*.js', '**/*.cjs', 'bin/*'],
    languageOptions: {
      sourceType: 'commonjs',
      globals: {
        require: 'readonly',
        module: 'writable',
        process: 'readonly',
        __dirname: 'readonly',
        console: 'readonly',
        Buffer: 'readonly',
        setImmediate: 'readonly',
        setTimeout: 'readonly',
      },
    },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
