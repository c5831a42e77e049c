import { Client } from 'pg';
import type { SimulationReport } from '../../../libs/aqueduct/src/cli/simulation';
import type { AqueductHealthResult } from '../../../libs/aqueduct/src/health/aqueduct-health.indicator';
import {
  CHILD_EFFECT_TABLES_SQL,
  killHard,
  type RunningChild,
  startChildApp,
} from '../../support/child-process';
import { runCli } from '../../support/cli';
import { createTestDatabase, type TestDatabase } from '../../support/database';
import { waitFor } from '../../support/wait';

/** Standard Webhooks: the sender's `webhook-id` is the dedup key, as with a real Aqueduct retry. */
export const SECRET = 'whsec_ZmF1bHQtc3VpdGUtc2VjcmV0LWZvci10ZXN0cw==';

/** A database with the child app's effect tables, a client on it, and the apps started on it. */
export class FaultBed {
  readonly apps: RunningChild[] = [];
  db!: TestDatabase;
  client!: Client;

  async setUp(): Promise<void> {
    this.db = await createTestDatabase();
    this.client = new Client({ connectionString: this.db.url });
    await this.client.connect();
    await this.client.query(CHILD_EFFECT_TABLES_SQL);
  }

  async tearDown(): Promise<void> {
    await Promise.all(this.apps.map(killHard));
    await this.client?.end();
    await this.db?.drop();
  }

  /** Starts the child host app (see test/support/child-app.ts) on this database. */
  async start(env: Record<string, string> = {}): Promise<RunningChild> {
    const app = await startChildApp(
      {
        DATABASE_URL: this.db.url,
        SECRET,
        VERIFICATION: 'standard-webhooks',
        // A killed process's claims are retaken after this; renewed while a listener runs.
        LEASE_MS: '3000',
        ...env,
      },
      60_000,
    );
    this.apps.push(app);
    return app;
  }

  count(sql: string): Promise<number> {
    return this.client.query(sql).then(({ rows }) => Number(rows[0].n));
  }

  storedEvents(): Promise<number> {
    return this.count(`SELECT count(*)::int AS n FROM aqueduct_events`);
  }

  /** Waits until nothing is left to run: every delivery done or dead (the check tells which). */
  settled(timeoutMs = 120_000): Promise<unknown> {
    return waitFor(
      async () =>
        (await this.count(
          `SELECT count(*)::int AS n FROM aqueduct_deliveries WHERE state IN ('pending', 'active')`,
        )) === 0,
      timeoutMs,
      'every delivery to be done',
    );
  }
}

export const webhookUrl = (port: number) => `http://127.0.0.1:${port}/webhooks/aqueduct`;

/** A port free right now, so a restarted app can listen on the same one. */
export { freePort } from '../../../src/database/embedded-postgres';

export interface SimulateRun {
  /** Resolves with the simulator's JSON report once every delivery got a 2xx or was given up. */
  report: Promise<SimulationReport>;
  finished: () => boolean;
}

/** Starts `nestjs-aqueduct simulate` (the library's CLI, in its own process) against the URLs. */
export function simulate(urls: string[], flags: Record<string, string | number>): SimulateRun {
  let done = false;
  const args = ['simulate', ...urls.flatMap((url) => ['--url', url])];
  for (const [name, value] of Object.entries({
    secret: SECRET,
    scheme: 'standard-webhooks',
    'time-scale': 3600, // Aqueduct's 1 h / 6 h / 12 h / 24 h become 1 s / 6 s / 12 s / 24 s
    ...flags,
  })) {
    args.push(`--${name}`, String(value));
  }
  const report = runCli([...args, '--json'], {}, 300_000).then((result) => {
    done = true;
    try {
      return JSON.parse(result.stdout) as SimulationReport;
    } catch {
      throw new Error(`simulate failed (${result.code}):\n${result.stderr}\n${result.stdout}`);
    }
  });
  return { report, finished: () => done };
}

/** The app's `GET /health` (test/support/child-app.ts): `AqueductHealthIndicator.isHealthy()`. */
export async function health(port: number): Promise<AqueductHealthResult> {
  const response = await fetch(`http://127.0.0.1:${port}/health`, {
    signal: AbortSignal.timeout(10_000),
  });
  if (!response.ok) {
    throw new Error(`GET /health answered ${response.status}: ${await response.text()}`);
  }
  return (await response.json()) as AqueductHealthResult;
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** One line per scenario, so a CI log shows what each fault run measured. */
export function logSummary(name: string, numbers: Record<string, unknown>): void {
  const text = Object.entries(numbers)
    .filter(([key]) => key !== 'rerunDetails') // a failed expectation shows those
    .map(([key, value]) => `${key}=${typeof value === 'object' ? JSON.stringify(value) : value}`)
    .join(' ');
  process.stdout.write(`[faults] ${name}: ${text}\n`);
}
