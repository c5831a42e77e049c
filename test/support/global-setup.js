// Starts one throw-away embedded Postgres for the whole run unless DATABASE_URL points at a server.
// Each e2e file creates its own database on it (see test/support/database.ts).
require('ts-node').register({ transpileOnly: true, compilerOptions: { module: 'commonjs' } });
const { mkdtempSync } = require('node:fs');
const { tmpdir } = require('node:os');
const { join } = require('node:path');
const { startEmbeddedPostgres } = require('../../src/database/embedded-postgres.ts');

module.exports = async function globalSetup() {
  if (process.env.DATABASE_URL) {
    return;
  }
  const dataDir = mkdtempSync(join(tmpdir(), 'aqueduct-test-pg-'));
  const db = await startEmbeddedPostgres({ dataDir, persistent: false });
  process.env.DATABASE_URL = db.url;
  process.env.AQUEDUCT_TEST_EMBEDDED = '1';
  globalThis.__AQUEDUCT_EMBEDDED_DB__ = db;
};
