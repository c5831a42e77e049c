import { Logger } from '@nestjs/common';
import { join } from 'node:path';
import { startEmbeddedPostgres } from './embedded-postgres';

/** Git-ignored folder holding the example app's embedded database between runs. */
const DATA_DIR = join(process.cwd(), '.data', 'postgres');
const EMBEDDED_PORT = 54329;

/** The database the example app uses: DATABASE_URL when set, else a persistent embedded Postgres. */
export async function resolveDatabaseUrl(): Promise<{
  url: string;
  description: string;
  stop?: () => Promise<void>;
}> {
  if (process.env.DATABASE_URL) {
    return { url: process.env.DATABASE_URL, description: redact(process.env.DATABASE_URL) };
  }
  new Logger('Example').log(`DATABASE_URL not set: starting an embedded Postgres in ${DATA_DIR}`);
  const db = await startEmbeddedPostgres({
    dataDir: DATA_DIR,
    persistent: true,
    port: Number(process.env.EMBEDDED_PG_PORT ?? EMBEDDED_PORT),
  });
  return {
    url: db.url,
    description: `embedded Postgres (${DATA_DIR}) at ${redact(db.url)}`,
    stop: db.stop,
  };
}

function redact(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
}
