import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { DataSource, type DataSourceOptions } from 'typeorm';

/** A database of its own for one test file, on the server the run uses. */
export interface TestDatabase {
  url: string;
  drop(): Promise<void>;
}

function serverUrl(): string {
  const url = process.env.DATABASE_URL;
  if (!url) {
    throw new Error('DATABASE_URL is not set: the Jest global setup should have started Postgres');
  }
  return url;
}

/** Creates an empty database so that test files never see each other's rows. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `aqueduct_test_${randomBytes(6).toString('hex')}`;
  // Read once: a test may point DATABASE_URL at this very database (the example app reads it
  // from there) and put it back only after the drop.
  const server = serverUrl();
  await withClient(server, (client) => client.query(`CREATE DATABASE ${name}`));
  const url = new URL(server);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      await withClient(server, (client) =>
        client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
      );
    },
  };
}

/** Runs `work` on a client connected to `server`, and closes it. */
export async function withClient<T>(
  server: string,
  work: (client: Client) => Promise<T>,
): Promise<T> {
  const client = new Client({ connectionString: server });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/**
 * A DataSource on `url` with only `migrations` run: a database as an older release left it. The
 * caller seeds it, then destroys it.
 */
export async function migratedTo(
  url: string,
  migrations: NonNullable<DataSourceOptions['migrations']>,
): Promise<DataSource> {
  const old = new DataSource({ type: 'postgres', url, migrations });
  await old.initialize();
  await old.runMigrations();
  return old;
}
