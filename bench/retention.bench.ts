import type { BenchContext, BenchReport, Benchmark } from './support/benchmark';
import {
  type ChildServer,
  type ServerPrunedMessage,
  startChildServer,
} from './support/child-server';
import { type LoadResult, runLoad } from './support/load';
import { seedDoneEvents } from './support/seed-events';
import { percentile } from './support/stats';
import { AQUEDUCT_OPTIONS, WEBHOOK_PATH, signedEventPool } from './support/webhook-requests';

/** Old events to prune unless BENCH_PRUNE_ROWS says otherwise (issue 16: one million). */
const DEFAULT_PRUNE_ROWS = 1_000_000;
/** They were received this long ago; the prune takes what is older than PRUNE_OLDER_THAN_DAYS. */
const SEED_DAYS_AGO = 60;
const PRUNE_OLDER_THAN_DAYS = 30;
const DAY_MS = 86_400_000;
/** Issue 16: ingest p99 during the prune within 1.5 times its baseline, and 20,000 rows/s. */
const P99_RATIO_TARGET = 1.5;
const ROWS_PER_SECOND_TARGET = 20_000;
/** Load runs while the prune goes on, at most (a prune that never ends must not hang the bench). */
const MAX_LOAD_RUNS = 30;
/** A rate above what the route can take, to size the pool of signed events. */
const POOL_RATE = 5_000;

/**
 * Retention under load: a million done events from two months ago, then the webhook route's p99
 * alone (the baseline), then the same load while `AqueductEventCommands.prune()` deletes them in
 * batches (what the retention job and `events prune` run), in the server that takes the load, as a
 * host's retention job does.
 */
export const retentionBenchmark: Benchmark = {
  name: 'retention',
  async run(context: BenchContext): Promise<BenchReport> {
    const rows = Number(process.env.BENCH_PRUNE_ROWS || DEFAULT_PRUNE_ROWS);
    // The server runs the migrations; the seed needs the tables.
    const server = await startChildServer('bench/bench-server.ts', {
      BENCH_DATABASE_URL: context.databaseUrl,
      BENCH_AQUEDUCT_OPTIONS: JSON.stringify({ ...AQUEDUCT_OPTIONS, dispatch: { enabled: false } }),
    });
    context.cleanup.defer('stop bench server', server.stop);
    try {
      const seedStart = Date.now();
      await seedDoneEvents(context.databaseUrl, rows, SEED_DAYS_AGO, context.log);
      const seedSeconds = (Date.now() - seedStart) / 1000;
      return await measure(context, server, rows, seedSeconds);
    } finally {
      await server.stop();
    }
  },
};

async function measure(
  context: BenchContext,
  server: ChildServer,
  rows: number,
  seedSeconds: number,
): Promise<BenchReport> {
  const { connections, warmupSeconds, durationSeconds } = context.config;
  const pool = signedEventPool(context, POOL_RATE, warmupSeconds + durationSeconds * 4);
  const target = { url: `${server.baseUrl}${WEBHOOK_PATH}`, next: () => pool.next() };
  const load = (seconds: number) => runLoad(target, { connections, durationSeconds: seconds });

  context.log(`retention: warm-up ${warmupSeconds} s, then the baseline ${durationSeconds} s`);
  await load(warmupSeconds);
  const baseline = await load(durationSeconds);

  context.log(`retention: pruning ${rows} events while the load runs`);
  let pruned: ServerPrunedMessage | undefined;
  const pruning = server
    .prune({
      type: 'prune',
      olderThanMs: PRUNE_OLDER_THAN_DAYS * DAY_MS,
      // The option's default (5000) unless BENCH_PRUNE_BATCH says otherwise.
      batchSize: optionalNumber('BENCH_PRUNE_BATCH'),
      // The option's default (0.3) unless BENCH_PRUNE_PAUSE says otherwise (0: flat out).
      pauseRatio: optionalNumber('BENCH_PRUNE_PAUSE'),
    })
    .then((answer) => (pruned = answer));
  const during: LoadResult[] = [];
  while (!pruned && during.length < MAX_LOAD_RUNS) {
    during.push(await load(durationSeconds));
  }
  const answer = await pruning;
  if (!answer.result) {
    throw new Error(`the prune failed in the server: ${answer.error}`);
  }
  const result = { ...answer.result, seconds: answer.seconds };
  return report(context, { rows, seedSeconds, baseline, during, pruned: result });
}

interface RetentionRun {
  rows: number;
  seedSeconds: number;
  baseline: LoadResult;
  during: LoadResult[];
  pruned: { events: number; deliveries: number; batches: number; seconds: number };
}

function optionalNumber(name: string): number | undefined {
  return process.env[name] ? Number(process.env[name]) : undefined;
}

function report(context: BenchContext, run: RetentionRun): BenchReport {
  const { rows, baseline, during, pruned } = run;
  // Read against the target as events: the stricter reading (each takes its delivery rows along).
  const rowsPerSecond = pruned.events / pruned.seconds;
  const withDeliveries = (pruned.events + pruned.deliveries) / pruned.seconds;
  // The runs that overlapped the prune; the last may have ended after it.
  const p99s = during.map((result) => result.p99Ms);
  const worstP99 = Math.max(...p99s);
  const ratio = worstP99 / baseline.p99Ms;
  const notes = [
    `seeded ${rows} done events (and their deliveries) received ${SEED_DAYS_AGO} days ago in ${run.seedSeconds.toFixed(0)} s`,
    `prune (older than ${PRUNE_OLDER_THAN_DAYS} days, batches of ${pruned.batches ? Math.round(pruned.events / pruned.batches) : 0}): ${pruned.events} events and ${pruned.deliveries} deliveries in ${pruned.batches} batches, ${pruned.seconds.toFixed(1)} s`,
    `webhook p99 of each ${context.config.durationSeconds} s run during the prune: ${p99s.join(', ')} ms (median ${percentile(p99s, 0.5)}); baseline ${baseline.p99Ms} ms`,
  ];
  const warnings: string[] = [];
  if (pruned.events !== rows) {
    warnings.push(`the prune deleted ${pruned.events} events, ${rows} were old enough`);
  }
  for (const result of [baseline, ...during]) {
    if (result.non2xx + result.errors > 0) {
      warnings.push(`${result.non2xx + result.errors} non-2xx answers or connection errors`);
    }
  }
  return {
    title: `retention: prune ${rows} old events while ${context.config.connections} connections post events`,
    rows: [
      { route: `POST ${WEBHOOK_PATH} (baseline)`, result: baseline },
      ...during.map((result, index) => ({
        route: `POST ${WEBHOOK_PATH} (pruning, run ${index + 1})`,
        result,
        percentOfBaseline: (100 * result.requestsPerSecond) / baseline.requestsPerSecond,
      })),
    ],
    notes,
    warnings,
    summary: [
      {
        metric: `retention: events pruned per second, ingest running (${rows} events; rows/s with their deliveries)`,
        value: `${rowsPerSecond.toFixed(0)} (${withDeliveries.toFixed(0)})`,
        target: `>= ${ROWS_PER_SECOND_TARGET}`,
        met: rowsPerSecond >= ROWS_PER_SECOND_TARGET,
      },
      {
        metric: 'retention: ingest p99 while pruning, worst run / baseline (ms)',
        value: `${worstP99} / ${baseline.p99Ms} (${ratio.toFixed(2)}x)`,
        target: `<= ${P99_RATIO_TARGET}x`,
        met: ratio <= P99_RATIO_TARGET,
      },
    ],
  };
}
