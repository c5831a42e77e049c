import type { BenchContext, BenchReport, Benchmark } from './support/benchmark';
import { type ChildServer, serverMemoryLine, startChildServer } from './support/child-server';
import { withClient } from './support/database';
import { type LoadResult, runLoad } from './support/load';
import { AQUEDUCT_OPTIONS, WEBHOOK_PATH, signedEventPool } from './support/webhook-requests';

/** Instances of the app on the one database (issue 16: two, on one Postgres). */
const INSTANCES = 2;
/** Above what the route can take, to size the pool of signed events. */
const POOL_RATE = 5_000;

/**
 * The scale path's first step: the same app twice on one Postgres, the load's connections split
 * between them (as a load balancer would), against one instance with them all. Every 2xx must
 * have its row whichever instance answered; duplicates collapse in Postgres either way.
 */
export const instancesBenchmark: Benchmark = {
  name: 'instances',
  async run(context: BenchContext): Promise<BenchReport> {
    const env = {
      BENCH_DATABASE_URL: context.databaseUrl,
      BENCH_AQUEDUCT_OPTIONS: JSON.stringify({ ...AQUEDUCT_OPTIONS, dispatch: { enabled: false } }),
    };
    const servers: ChildServer[] = [];
    try {
      for (let index = 0; index < INSTANCES; index++) {
        const server = await startChildServer('bench/bench-server.ts', env);
        context.cleanup.defer(`stop bench server ${index + 1}`, server.stop);
        servers.push(server);
      }
      const one = await measure(context, servers.slice(0, 1), 'one instance');
      const two = await measure(context, servers, `${INSTANCES} instances`);
      const report = await summarise(context, one, two);
      for (const [index, server] of servers.entries()) {
        report.summary.push(await serverMemoryLine(`instances server ${index + 1}`, server));
      }
      return report;
    } finally {
      await Promise.all(servers.map((server) => server.stop()));
    }
  },
};

interface SplitRun {
  /** Summed over the instances. */
  requestsPerSecond: number;
  /** The worst instance's. */
  p99Ms: number;
  answered: number;
  failed: number;
  results: LoadResult[];
}

/** Warm-up then a measured run, the connections split evenly between `servers`. */
async function measure(
  context: BenchContext,
  servers: ChildServer[],
  label: string,
): Promise<SplitRun> {
  const { connections, warmupSeconds, durationSeconds } = context.config;
  const pool = signedEventPool(context, POOL_RATE, warmupSeconds + durationSeconds);
  const share = Math.ceil(connections / servers.length);
  const run = (seconds: number) =>
    Promise.all(
      servers.map((server) =>
        runLoad(
          { url: `${server.baseUrl}${WEBHOOK_PATH}`, next: () => pool.next() },
          { connections: share, durationSeconds: seconds },
        ),
      ),
    );
  context.log(`${label}: warm-up ${warmupSeconds} s, measuring ${durationSeconds} s`);
  await run(warmupSeconds);
  const results = await run(durationSeconds);
  return {
    requestsPerSecond: results.reduce((sum, result) => sum + result.requestsPerSecond, 0),
    p99Ms: Math.max(...results.map((result) => result.p99Ms)),
    answered: results.reduce((sum, result) => sum + result.ok2xx, 0),
    failed: results.reduce((sum, result) => sum + result.non2xx + result.errors, 0),
    results,
  };
}

async function summarise(
  context: BenchContext,
  one: SplitRun,
  two: SplitRun,
): Promise<BenchReport> {
  const rows = await withClient(context.databaseUrl, async (client) => {
    const result = await client.query<{ count: string }>('SELECT count(*) FROM aqueduct_events');
    return Number(result.rows[0].count);
  });
  const answered = one.answered + two.answered;
  const warnings: string[] = [];
  if (rows < answered) {
    warnings.push(`${answered - rows} more 2xx answers than rows in aqueduct_events`);
  }
  if (one.failed + two.failed > 0) {
    warnings.push(`${one.failed + two.failed} non-2xx answers or connection errors`);
  }
  return {
    title: `instances: ${context.config.connections} connections on one instance, then split over ${INSTANCES}`,
    rows: [
      { route: `POST ${WEBHOOK_PATH} (one instance)`, result: one.results[0] },
      ...two.results.map((result, index) => ({
        route: `POST ${WEBHOOK_PATH} (instance ${index + 1} of ${INSTANCES})`,
        result,
      })),
    ],
    notes: [
      `rows in aqueduct_events: ${rows}; 2xx answers in the measured runs: ${answered} (warm-ups and requests cut off at the end make up the rest)`,
      `both instances share this machine's two cores with Postgres and the load generator: a second instance adds no CPU here, it shows that the route scales out without losing or doubling events`,
    ],
    warnings,
    summary: [
      {
        metric: `ingest: one instance / ${INSTANCES} instances on one Postgres, req/s (worst p99 ms)`,
        value: `${one.requestsPerSecond.toFixed(0)} (${one.p99Ms}) / ${two.requestsPerSecond.toFixed(0)} (${two.p99Ms})`,
      },
    ],
  };
}
