module.exports = async function globalTeardown() {
  const db = globalThis.__AQUEDUCT_EMBEDDED_DB__;
  if (db) {
    await db.stop();
  }
};
