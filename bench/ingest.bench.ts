import type { BenchContext, BenchReport, Benchmark } from './support/benchmark';
import {
  type ChildServer,
  serverMemoryLine,
  startChildServer,
  withPeakRss,
} from './support/child-server';
import { withClient } from './support/database';
import { mebibytes } from './support/stats';
import { postgresCpuSpent, readPostgresCpu } from './support/postgres-cpu';
import { type LoadResult, type LoadTarget, runLoad } from './support/load';
import { NAIVE_PATH, NAIVE_TABLE } from './support/naive-receiver';
import {
  AQUEDUCT_OPTIONS,
  BENCH_SECRET,
  WEBHOOK_PATH,
  signedEvent,
  signedEventPool,
} from './support/webhook-requests';

/** Issue 16: the webhook route at 60 % or more of the bare route's requests per second... */
const BARE_TARGET_PERCENT = 60;
/** ...at 1.15 times the naive receiver's or more... */
const NAIVE_TARGET_RATIO = 1.15;
/** ...adding at most 70 µs of server CPU per request to the bare route's. */
const ADDED_CPU_TARGET_MICROS = 70;
/** ...and the built server's RSS under the load under 200 MB. */
const RSS_TARGET_BYTES = 200e6;
/**
 * The node flags the example app starts with (package.json's `start` and `start:prod`). With a heap
 * limit of 2 GiB or more (node's default here is ~4 GiB) V8 lets the old space grow to four times
 * what is live between major GCs; below it, to 1.3–2 times (README, "Memory").
 */
const EXAMPLE_APP_NODE_ARGS = ['--max-old-space-size=1024'];
/** The moonshot: 75 % of the bare route. */
const BARE_MOONSHOT_PERCENT = 75;

/**
 * Ingest throughput, three routes of one app in one run, with the same signed bodies and the same
 * database: a bare Nest route (no work: the ceiling), a naive durable receiver (signature check,
 * JSON.parse, one INSERT per request: support/naive-receiver.ts) and the module's endpoint (raw-body
 * read, Standard Webhooks check, validation, the batched insert of events and deliveries).
 */
export const ingestBenchmark: Benchmark = {
  name: 'ingest',
  async run(context: BenchContext): Promise<BenchReport> {
    const env = {
      BENCH_DATABASE_URL: context.databaseUrl,
      // Receiving alone: listeners (the module's own provisioning one included) get their delivery
      // rows with each event, as in any app, but none runs during the measurement.
      // BENCH_INGEST_OPTIONS (JSON) adds module options, to compare settings in one sitting.
      BENCH_AQUEDUCT_OPTIONS: JSON.stringify({
        ...AQUEDUCT_OPTIONS,
        dispatch: { enabled: false },
        ...JSON.parse(process.env.BENCH_INGEST_OPTIONS || '{}'),
      }),
      BENCH_NAIVE_SECRET: BENCH_SECRET,
    };
    const report = await withServer(context, env, [], async (server) => {
      const measured = await measure(context, server);
      measured.summary.push(await serverMemoryLine("ingest server (node's defaults)", server));
      return measured;
    });
    // The same app started as the example app starts: node's defaults above, its heap limit here.
    const capped = await withServer(context, env, EXAMPLE_APP_NODE_ARGS, (server) =>
      measureCappedHeap(context, server),
    );
    report.summary.push(...capped.summary);
    report.notes.push(...capped.notes);
    report.warnings.push(...capped.warnings);
    return report;
  },
};

async function withServer<T>(
  context: BenchContext,
  env: Record<string, string>,
  nodeArgs: readonly string[],
  work: (server: ChildServer) => Promise<T>,
): Promise<T> {
  const server = await startChildServer('bench/bench-server.ts', env, nodeArgs);
  context.cleanup.defer('stop bench server', server.stop);
  try {
    return await work(server);
  } finally {
    await server.stop();
  }
}

/**
 * Peak RSS, rate and CPU of the bare and webhook routes in a server started with the example app's
 * heap limit: what a host that starts node the way the example app does gets.
 */
async function measureCappedHeap(
  context: BenchContext,
  server: ChildServer,
): Promise<Pick<BenchReport, 'summary' | 'notes' | 'warnings'>> {
  const flags = EXAMPLE_APP_NODE_ARGS.join(' ');
  const sample = signedEvent(-1);
  const bare = await warmUpAndMeasure(context, server, `bare (${flags})`, {
    url: `${server.baseUrl}/bare`,
    next: () => sample,
  });
  const webhook = await measureStoring(context, server, bare, {
    label: `webhook (${flags})`,
    route: WEBHOOK_PATH,
    table: 'aqueduct_events',
    idColumn: 'delivery_id',
  });
  const notes: string[] = [];
  const warnings: string[] = [];
  await checkStoredRows(context, webhook, notes, warnings);
  const rate = (run: WarmedRun) => run.measured.requestsPerSecond;
  const ofBare = (100 * rate(webhook.run)) / rate(bare);
  return {
    notes,
    warnings,
    summary: [
      {
        metric: `ingest server with \`${flags}\` (example app): webhook req/s (% of bare), CPU µs/req bare / webhook`,
        value: `${rate(webhook.run).toFixed(0)} (${ofBare.toFixed(1)} %), ${bare.cpuMicrosPerRequest.toFixed(0)} / ${webhook.run.cpuMicrosPerRequest.toFixed(0)}`,
      },
      {
        metric: `ingest server with \`${flags}\`: RSS peak while each route took load, bare / webhook`,
        value: `${mebibytes(bare.peakRssBytes)} / ${mebibytes(webhook.run.peakRssBytes)}`,
        target: `< ${mebibytes(RSS_TARGET_BYTES)}`,
        met: webhook.run.peakRssBytes < RSS_TARGET_BYTES,
      },
    ],
  };
}

/** A stored route's run and how to count the rows it wrote. */
interface StoringRoute {
  route: string;
  table: string;
  idColumn: string;
  run: WarmedRun;
  answeredIds: string[];
  rowsBefore: number;
}

async function measure(context: BenchContext, server: ChildServer): Promise<BenchReport> {
  const { baseUrl } = server;
  const notes: string[] = [];
  const warnings: string[] = [];

  // The baseline sends one realistic event over and over: /bare stores nothing, so repeats are fine.
  const sample = signedEvent(-1);
  const bare = await warmUpAndMeasure(context, server, 'bare', {
    url: `${baseUrl}/bare`,
    next: () => sample,
  });
  notes.push(`body: ${Buffer.byteLength(sample.body)} bytes of JSON for all three routes`);
  notes.push('dispatch disabled: deliveries are stored with each event, no listener runs');

  const naive = await measureStoring(context, server, bare, {
    label: 'naive',
    route: NAIVE_PATH,
    table: NAIVE_TABLE,
    idColumn: 'id',
  });
  const webhook = await measureStoring(context, server, bare, {
    label: 'webhook',
    route: WEBHOOK_PATH,
    table: 'aqueduct_events',
    idColumn: 'delivery_id',
  });

  for (const [route, run] of [
    ['/bare', bare] as const,
    ...[naive, webhook].map((r) => [r.route, r.run] as const),
  ]) {
    const failed =
      run.warmup.non2xx + run.warmup.errors + run.measured.non2xx + run.measured.errors;
    if (failed > 0) {
      warnings.push(`${route}: ${failed} non-2xx answers or connection errors (warm-up included)`);
    }
  }
  for (const stored of [naive, webhook]) {
    await checkStoredRows(context, stored, notes, warnings);
  }
  return report(context, { bare: bare, naive: naive.run, webhook: webhook.run }, notes, warnings);
}

interface IngestRuns {
  bare: WarmedRun;
  naive: WarmedRun;
  webhook: WarmedRun;
}

function report(
  context: BenchContext,
  runs: IngestRuns,
  notes: string[],
  warnings: string[],
): BenchReport {
  const { config } = context;
  const { bare, naive, webhook } = runs;
  const rate = (run: WarmedRun) => run.measured.requestsPerSecond;
  const ofBare = (run: WarmedRun) => (100 * rate(run)) / rate(bare);
  const overNaive = rate(webhook) / rate(naive);
  const cpu = (run: WarmedRun) => run.cpuMicrosPerRequest;
  const addedCpu = cpu(webhook) - cpu(bare);
  notes.push(
    `server CPU per answered request: /bare ${cpu(bare).toFixed(0)} µs, naive ${cpu(naive).toFixed(0)} µs, webhook ${cpu(webhook).toFixed(0)} µs (the module adds ${addedCpu.toFixed(0)} µs, the naive receiver ${(cpu(naive) - cpu(bare)).toFixed(0)} µs); steadier than req/s on a shared machine, since it does not count the time the server waits for a core`,
  );
  notes.push(
    `statements (round trips) to Postgres per answered request: naive ${naive.roundTripsPerRequest.toFixed(2)}, webhook ${webhook.roundTripsPerRequest.toFixed(2)} (its inbox batches concurrent requests)`,
  );
  return {
    title: `ingest: ${config.connections} connections, ${config.durationSeconds} s measured after ${config.warmupSeconds} s warm-up`,
    rows: [
      { route: 'POST /bare', result: bare.measured },
      {
        route: `POST ${NAIVE_PATH} (naive)`,
        result: naive.measured,
        percentOfBaseline: ofBare(naive),
      },
      {
        route: `POST ${WEBHOOK_PATH}`,
        result: webhook.measured,
        percentOfBaseline: ofBare(webhook),
      },
    ],
    summary: [
      { metric: 'ingest: POST /bare req/s (p50/p99 ms)', value: loadFigures(bare.measured) },
      {
        metric: `ingest: POST ${NAIVE_PATH}, the naive receiver, req/s (p50/p99 ms)`,
        value: loadFigures(naive.measured),
      },
      {
        metric: `ingest: POST ${WEBHOOK_PATH} req/s (p50/p99 ms)`,
        value: loadFigures(webhook.measured),
      },
      {
        metric: 'ingest: webhook route over the naive receiver',
        value: `${overNaive.toFixed(2)}x`,
        target: `>= ${NAIVE_TARGET_RATIO.toFixed(2)}x`,
        met: overNaive >= NAIVE_TARGET_RATIO,
      },
      {
        metric: 'ingest: webhook route as a share of the bare route',
        value: `${ofBare(webhook).toFixed(1)} % (naive ${ofBare(naive).toFixed(1)} %)`,
        target: `>= ${BARE_TARGET_PERCENT} % (moonshot ${BARE_MOONSHOT_PERCENT} %)`,
        met: ofBare(webhook) >= BARE_TARGET_PERCENT,
      },
      {
        metric: 'ingest: server CPU per request, bare / naive / webhook (µs)',
        value: `${cpu(bare).toFixed(0)} / ${cpu(naive).toFixed(0)} / ${cpu(webhook).toFixed(0)}`,
      },
      {
        metric: 'ingest: Postgres CPU per request, bare / naive / webhook (µs)',
        value: [bare, naive, webhook]
          .map((run) => run.postgresMicrosPerRequest?.toFixed(0) ?? 'n/a')
          .join(' / '),
      },
      {
        // All three routes run in one server: each route's own peak tells the HTTP stack's
        // (/bare does no module work) from what the module adds. The target is read on the run
        // with the example app's heap limit (measureCappedHeap).
        metric:
          "ingest server (node's defaults): RSS peak while each route took load, bare / naive / webhook",
        value: [bare, naive, webhook].map((run) => mebibytes(run.peakRssBytes)).join(' / '),
      },
      {
        metric: 'ingest: server CPU the module adds per request',
        value: `${addedCpu.toFixed(0)} µs`,
        target: `<= ${ADDED_CPU_TARGET_MICROS} µs`,
        met: addedCpu <= ADDED_CPU_TARGET_MICROS,
      },
    ],
    notes,
    warnings,
  };
}

/** Warms up and measures a route that stores each event, with a pool of distinct signed events. */
async function measureStoring(
  context: BenchContext,
  server: ChildServer,
  bare: WarmedRun,
  route: { label: string; route: string; table: string; idColumn: string },
): Promise<StoringRoute> {
  const { config } = context;
  // Sized from the bare route's rate, which a storing route cannot exceed (same HTTP work and more).
  const pool = signedEventPool(
    context,
    bare.measured.requestsPerSecond,
    config.warmupSeconds + config.durationSeconds,
  );
  const answeredIds: string[] = [];
  const rowsBefore = await countRows(context.databaseUrl, route.table);
  const run = await warmUpAndMeasure(context, server, route.label, {
    url: `${server.baseUrl}${route.route}`,
    next: () => pool.next(),
    onAnswer: (status, request) => {
      if (status >= 200 && status < 300) {
        answeredIds.push(request.headers['webhook-id']);
      }
    },
  });
  if (pool.madeOnDemand > 0) {
    context.log(`${route.label}: pool of ${pool.size} ran out, ${pool.madeOnDemand} signed in-run`);
  }
  return { ...route, run, answeredIds, rowsBefore };
}

function loadFigures(result: LoadResult): string {
  return `${result.requestsPerSecond.toFixed(0)} (${result.p50Ms.toFixed(0)}/${result.p99Ms.toFixed(0)})`;
}

interface WarmedRun {
  warmup: LoadResult;
  measured: LoadResult;
  /** The server's CPU time (user + system) during the measured run, per answered request. */
  cpuMicrosPerRequest: number;
  /** Postgres' CPU time (all its processes) during the measured run, per answered request. */
  postgresMicrosPerRequest?: number;
  /** The server's highest RSS sampled during the warm-up and the measured run. */
  peakRssBytes: number;
  /** Statements the server sent to Postgres during the measured run, per answered request. */
  roundTripsPerRequest: number;
}

/** A short unmeasured run first, so JIT, connection pools and Postgres caches are warm. */
async function warmUpAndMeasure(
  context: BenchContext,
  server: ChildServer,
  label: string,
  target: LoadTarget,
): Promise<WarmedRun> {
  const { connections, warmupSeconds, durationSeconds } = context.config;
  context.log(`${label}: warm-up ${warmupSeconds} s`);
  const { result: runs, peakRssBytes } = await withPeakRss(server, async () => {
    const warmup = await runLoad(target, { connections, durationSeconds: warmupSeconds });
    context.log(`${label}: measuring ${durationSeconds} s`);
    const before = await server.stats();
    const postgresBefore = readPostgresCpu();
    const measured = await runLoad(target, { connections, durationSeconds });
    const postgresAfter = readPostgresCpu();
    const after = await server.stats();
    return { warmup, measured, before, after, postgresBefore, postgresAfter };
  });
  const { warmup, measured, before, after, postgresBefore, postgresAfter } = runs;
  const answered = Math.max(1, measured.answered);
  const cpuMicrosPerRequest = (after.cpuMicros - before.cpuMicros) / answered;
  const roundTripsPerRequest = (after.roundTrips - before.roundTrips) / answered;
  const postgresMicros = postgresCpuSpent(postgresBefore, postgresAfter);
  const postgresMicrosPerRequest =
    postgresMicros === undefined ? undefined : postgresMicros / answered;
  return {
    warmup,
    measured,
    cpuMicrosPerRequest,
    postgresMicrosPerRequest,
    peakRssBytes,
    roundTripsPerRequest,
  };
}

/**
 * Every 2xx must mean a committed row: count the rows whose delivery id got a 2xx. autocannon stops
 * by closing its sockets, so up to one request per connection was in flight: the server may have
 * stored it without the answer being read. Those rows are expected, and are reported apart.
 */
async function checkStoredRows(
  context: BenchContext,
  stored: StoringRoute,
  notes: string[],
  warnings: string[],
): Promise<void> {
  const { answeredIds, run, route, table, idColumn } = stored;
  const rows = (await settledRowCount(context.databaseUrl, table)) - stored.rowsBefore;
  const answeredRows = await withClient(context.databaseUrl, async (client) => {
    const result = await client.query<{ count: string }>(
      `SELECT count(*) FROM ${table} WHERE ${idColumn} = ANY($1::text[])`,
      [answeredIds],
    );
    return Number(result.rows[0].count);
  });
  const inFlight = [run.warmup, run.measured].reduce(
    (sum, result) => sum + result.sent - result.answered,
    0,
  );
  const unanswered = rows - answeredRows;
  notes.push(
    `${route}: ${rows} rows in ${table} for ${answeredIds.length} 2xx answers (warm-up + measured); rows for requests cut off when a run stopped: ${unanswered} (of ${inFlight} in flight)`,
  );
  if (answeredRows !== answeredIds.length) {
    warnings.push(
      `${route}: ${answeredIds.length - answeredRows} events were answered 2xx but have no row in ${table}`,
    );
  }
  if (unanswered < 0 || unanswered > inFlight) {
    warnings.push(
      `${route}: ${table} has ${rows} rows for ${answeredIds.length} 2xx answers; only ${inFlight} requests were cut off`,
    );
  }
}

function countRows(databaseUrl: string, table: string): Promise<number> {
  return withClient(databaseUrl, async (client) => {
    const result = await client.query<{ count: string }>(`SELECT count(*) FROM ${table}`);
    return Number(result.rows[0].count);
  });
}

/** Requests cut off at the end may still be committing: wait until the count stops moving. */
async function settledRowCount(databaseUrl: string, table: string): Promise<number> {
  let previous = await countRows(databaseUrl, table);
  for (let attempt = 0; attempt < 20; attempt++) {
    await new Promise((resolve) => setTimeout(resolve, 250));
    const current = await countRows(databaseUrl, table);
    if (current === previous) {
      return current;
    }
    previous = current;
  }
  return previous;
}
