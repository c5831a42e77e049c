import { AqueductEventReader } from 'nestjs-aqueduct';
import { NOOP_VARIANT, measureLatency } from './latency.bench';
import { startInProcessApp } from './support/aqueduct-app';
import type { BenchContext, BenchReport, Benchmark, SummaryLine } from './support/benchmark';
import { startChildServer } from './support/child-server';
import { withClient } from './support/database';
import { seedDoneEvents } from './support/seed-events';
import { percentile } from './support/stats';

/** Rows in aqueduct_events for the full-table run unless BENCH_SCALE_ROWS says otherwise. */
const DEFAULT_SCALE_ROWS = 10_000_000;
/** The seeded events are old and done, as a table that has been receiving for a while holds. */
const SEED_DAYS_AGO = 90;
/** Issue 16: req/s and end-to-end p99 within 10 % of the empty table's; the console under 50 ms. */
const WITHIN_PERCENT = 10;
const CONSOLE_TARGET_MS = 50;
/** The console's default page size (console.pageSize). */
const CONSOLE_PAGE_SIZE = 50;
const CONSOLE_SAMPLES = 30;

/** One measurement of a table state: the latency run's figures and the console's first page. */
interface TableState {
  requestsPerSecond: number;
  p99Ms: number;
  consoleP50Ms: number;
  consoleP99Ms: number;
  report: BenchReport;
}

/**
 * Cost as data grows: the latency benchmark (three no-op listeners, the route at full speed) and
 * the console's first page, on an empty table and again once BENCH_SCALE_ROWS old, done events
 * (and their deliveries) fill it.
 */
export const scaleBenchmark: Benchmark = {
  name: 'scale',
  async run(context: BenchContext): Promise<BenchReport> {
    const rows = Number(process.env.BENCH_SCALE_ROWS || DEFAULT_SCALE_ROWS);
    const prepared = await NOOP_VARIANT.prepare(context);
    const server = await startChildServer('bench/bench-server.ts', {
      BENCH_DATABASE_URL: context.databaseUrl,
      ...prepared.env,
    });
    context.cleanup.defer('stop bench server', server.stop);
    try {
      context.log('scale: the empty table');
      const empty = await measureState(context, server.baseUrl);
      const seedStart = Date.now();
      await seedDoneEvents(context.databaseUrl, rows, SEED_DAYS_AGO, context.log);
      const seedSeconds = (Date.now() - seedStart) / 1000;
      // A table that grew over months has its pages on disk; one loaded in minutes has gigabytes
      // of them dirty, which the checkpointer would write during the measured run.
      await withClient(context.databaseUrl, (client) => client.query('CHECKPOINT')).catch(
        (error: Error) => context.log(`scale: no CHECKPOINT after seeding (${error.message})`),
      );
      context.log(`scale: ${rows} rows`);
      const full = await measureState(context, server.baseUrl);
      return report(rows, seedSeconds, empty, full);
    } finally {
      await server.stop();
    }
  },
};

async function measureState(context: BenchContext, baseUrl: string): Promise<TableState> {
  const { report, answeredPerSecond, p99Ms } = await measureLatency(context, baseUrl, NOOP_VARIANT);
  const console = await consoleFirstPage(context);
  return {
    requestsPerSecond: answeredPerSecond,
    p99Ms,
    consoleP50Ms: percentile(console, 0.5),
    consoleP99Ms: percentile(console, 0.99),
    report,
  };
}

/** What the console's events page reads: the newest page of events and the backlog counts. */
async function consoleFirstPage(context: BenchContext): Promise<number[]> {
  const { app, close } = await startInProcessApp(context, 'close the console reader app');
  try {
    const reader = app.get(AqueductEventReader);
    const times: number[] = [];
    for (let sample = 0; sample < CONSOLE_SAMPLES; sample++) {
      const start = process.hrtime.bigint();
      await Promise.all([reader.pageEvents({ limit: CONSOLE_PAGE_SIZE }), reader.backlog()]);
      times.push(Number(process.hrtime.bigint() - start) / 1e6);
    }
    return times;
  } finally {
    await close();
  }
}

function report(
  rows: number,
  seedSeconds: number,
  empty: TableState,
  full: TableState,
): BenchReport {
  const change = (before: number, after: number) => (100 * (after - before)) / before;
  const rateChange = change(empty.requestsPerSecond, full.requestsPerSecond);
  const p99Change = change(empty.p99Ms, full.p99Ms);
  const summary: SummaryLine[] = [
    {
      metric: `scale: webhook req/s, empty / ${rows} rows (latency run, no-op listeners)`,
      value: `${empty.requestsPerSecond.toFixed(0)} / ${full.requestsPerSecond.toFixed(0)} (${rateChange.toFixed(1)} %)`,
      target: `within ${WITHIN_PERCENT} %`,
      met: rateChange >= -WITHIN_PERCENT,
    },
    {
      metric: `scale: end-to-end p99 ms, empty / ${rows} rows`,
      value: `${empty.p99Ms.toFixed(1)} / ${full.p99Ms.toFixed(1)} (${p99Change.toFixed(1)} %)`,
      target: `within ${WITHIN_PERCENT} %`,
      met: p99Change <= WITHIN_PERCENT,
    },
    {
      metric: `scale: console first page p50 / p99 ms at ${rows} rows (empty: ${empty.consoleP50Ms.toFixed(1)} / ${empty.consoleP99Ms.toFixed(1)})`,
      value: `${full.consoleP50Ms.toFixed(1)} / ${full.consoleP99Ms.toFixed(1)}`,
      target: `< ${CONSOLE_TARGET_MS} ms`,
      met: full.consoleP99Ms < CONSOLE_TARGET_MS,
    },
  ];
  return {
    title: `scale: the webhook route and the console, empty and with ${rows} rows in aqueduct_events`,
    rows: [
      { route: 'POST /webhooks/aqueduct (empty table)', result: empty.report.rows[0].result },
      {
        route: `POST /webhooks/aqueduct (${rows} rows)`,
        result: full.report.rows[0].result,
        percentOfBaseline: (100 * full.requestsPerSecond) / empty.requestsPerSecond,
      },
    ],
    notes: [
      `seeded ${rows} done events and their deliveries in ${seedSeconds.toFixed(0)} s, then a checkpoint`,
      ...full.report.notes.map((note) => `full table: ${note}`),
    ],
    warnings: [...empty.report.warnings, ...full.report.warnings],
    summary,
  };
}
