/** Tests run against one embedded PostgreSQL per run (test/support/globalSetup.ts); each file gets its own database. */
module.exports = {
  testEnvironment: 'node',
  // examples/: each example plugin's own tests run with the rest.
  roots: ['<rootDir>/test', '<rootDir>/examples'],
  testMatch: ['**/*.test.ts'],
  // .mjs: plugins are ES modules; inside jest they are loaded through its own require, so they are compiled too.
  transform: { '^.+\\.(ts|mjs)$': ['@swc/jest'] },
  // A plugin imports the SDK by its package name; in this repository that is the SDK's source (the
  // package's exports point at dist/, built only by `npm run build`). tsconfig.json's `paths` say the same.
  moduleNameMapper: {
    '^sluice/connector-sdk$': '<rootDir>/src/connectors/sdk/index.ts',
    '^sluice/connector-sdk/testkit$': '<rootDir>/src/connectors/sdk/testkit.ts',
  },
  globalSetup: '<rootDir>/test/support/globalSetup.ts',
  globalTeardown: '<rootDir>/test/support/globalTeardown.ts',
  testTimeout: 30000,
  maxWorkers: 2,
};
