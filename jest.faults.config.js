/**
 * The fault suite (`npm run test:faults`): real processes killed, a database cut off, a mail server
 * down, each scenario ending with an exact ledger check. Not part of `npm test` (it takes minutes
 * and loads the machine); `.ci/run` runs it once. Same global setup as jest.config.js: an embedded
 * Postgres unless DATABASE_URL is set.
 */
const { moduleNameMapper, transform } = require('./jest.config.js').projects[1];

module.exports = {
  displayName: 'faults',
  rootDir: __dirname,
  globalSetup: '<rootDir>/test/support/global-setup.js',
  globalTeardown: '<rootDir>/test/support/global-teardown.js',
  testEnvironment: 'node',
  testMatch: ['<rootDir>/test/faults/**/*.fault-spec.ts'],
  moduleNameMapper,
  transform,
  // One scenario at a time: each one loads both cores with its own app processes and sender.
  maxWorkers: 1,
  testTimeout: 240_000,
};
