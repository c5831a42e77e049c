import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { startEmbeddedPostgres } from '../../src/database/embedded-postgres';
import { once } from './cleanup';

/** A Postgres server to create the run's database on. */
export interface PostgresServer {
  /** URL of a database that exists on the server (used only to issue CREATE/DROP DATABASE). */
  url: string;
  description: string;
  stop(): Promise<void>;
}

/** The throw-away database one `npm run bench` works in. */
export interface BenchDatabase {
  name: string;
  url: string;
  drop(): Promise<void>;
}

/**
 * DATABASE_URL when set (the machine's Postgres, CI), otherwise an embedded Postgres in a temporary
 * directory, so the benchmark runs on a bare checkout just like the e2e tests.
 */
export async function startPostgresServer(env = process.env): Promise<PostgresServer> {
  if (env.DATABASE_URL) {
    return { url: env.DATABASE_URL, description: 'DATABASE_URL', stop: async () => undefined };
  }
  const dataDir = mkdtempSync(join(tmpdir(), 'aqueduct-bench-pg-'));
  const embedded = await startEmbeddedPostgres({ dataDir, persistent: false });
  return {
    url: embedded.url,
    description: `embedded Postgres in ${dataDir}`,
    stop: once(async () => {
      try {
        await embedded.stop();
      } finally {
        // `persistent: false` removes the directory on a clean stop; this covers a failed one.
        rmSync(dataDir, { recursive: true, force: true });
      }
    }),
  };
}

/** Creates `aqueduct_bench_<random>` so a run never sees (or damages) another run's rows. */
export async function createBenchDatabase(
  server: Pick<PostgresServer, 'url'>,
): Promise<BenchDatabase> {
  const name = `aqueduct_bench_${randomBytes(4).toString('hex')}`;
  await withClient(server.url, (client) => client.query(`CREATE DATABASE "${name}"`));
  const url = new URL(server.url);
  url.pathname = `/${name}`;
  return {
    name,
    url: url.toString(),
    // FORCE (Postgres 13+) ends connections a killed server child may have left open.
    drop: once(async () => {
      await withClient(server.url, (client) =>
        client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`),
      );
    }),
  };
}

/** Runs `fn` on a fresh connection to `url` and always closes it. */
export async function withClient<T>(url: string, fn: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}
