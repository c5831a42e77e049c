/**
 * Two projects: `unit` (one class at a time, under libs/) and `e2e` (the real module over real HTTP
 * against a real Postgres, under test/). The global setup starts an embedded Postgres unless
 * DATABASE_URL is set; each e2e file then creates its own database on that server.
 */
const moduleNameMapper = {
  '^nestjs-aqueduct$': '<rootDir>/libs/aqueduct/src',
  '^nestjs-aqueduct/testing$': '<rootDir>/libs/aqueduct/src/testing',
};
const transform = { '^.+\\.ts$': 'ts-jest' };

module.exports = {
  globalSetup: '<rootDir>/test/support/global-setup.js',
  globalTeardown: '<rootDir>/test/support/global-teardown.js',
  maxWorkers: 2,
  testTimeout: 60000,
  projects: [
    {
      displayName: 'unit',
      rootDir: __dirname,
      testEnvironment: 'node',
      testMatch: ['<rootDir>/libs/**/*.spec.ts'],
      moduleNameMapper,
      transform,
    },
    {
      displayName: 'e2e',
      rootDir: __dirname,
      testEnvironment: 'node',
      testMatch: ['<rootDir>/test/**/*.e2e-spec.ts'],
      moduleNameMapper,
      transform,
    },
  ],
};
