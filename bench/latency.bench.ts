import type { DispatchOptions } from 'nestjs-aqueduct';
import type { BenchContext, BenchReport, Benchmark, TextTable } from './support/benchmark';
import {
  type ServerStatsMessage,
  serverMemoryLine,
  startChildServer,
} from './support/child-server';
import { withClient } from './support/database';
import {
  DRAIN_TIMEOUT_MS,
  deliveriesByEvent,
  deliveryTotals,
  showAutovacuum,
  waitForDrain,
} from './support/deliveries';
import { postgresCpuSpent, readPostgresCpu } from './support/postgres-cpu';
import { existingCustomers, seedCustomers } from './support/seed-customers';
import { startSmtpServer } from './support/smtp';
import { runLoad } from './support/load';
import { atMost, percentile } from './support/stats';
import {
  AQUEDUCT_OPTIONS,
  WEBHOOK_PATH,
  newCustomerEvents,
  renewalEvents,
  signedEvent,
  signedEventPool,
} from './support/webhook-requests';
import type { HttpRequest, LoadResult } from './support/load';

/** bench-server.ts registers 3 no-op provisioning.start listeners with BENCH_NOOP_LISTENERS=1. */
const NOOP_LISTENERS = 3;
/** Issue 16: from the 2xx to every listener done, p99 at most 50 ms (issue 3 asked for 250). */
const END_TO_END_TARGET_MS = 50;
/**
 * Events per second offered to the real listeners, climbed in turn until the listeners fall behind,
 * unless BENCH_LATENCY_RATES (a comma-separated list) or BENCH_LATENCY_RATE (one rate) says
 * otherwise.
 */
const DEFAULT_REAL_RATES = [60, 100, 150, 200, 300];
/** Customer numbers each rate's events start from, so that no rate reuses another's customers. */
const CUSTOMERS_PER_RATE = 10_000_000;
/** Sender of the real variant's mails. */
const MAIL_FROM = 'Bench <billing@bench.test>';

/** Events per second offered to the real listeners, lowest first. */
const realRates = (): number[] => {
  const listed = process.env.BENCH_LATENCY_RATES || process.env.BENCH_LATENCY_RATE;
  return listed ? listed.split(',').map(Number) : DEFAULT_REAL_RATES;
};

/** A set of listeners to measure, and the server that runs them. */
export interface LatencyVariant {
  name: string;
  /** What runs per event, for titles and the summary. */
  label: string;
  /** Count the deliveries of the `access.*` events each event causes (the ledger's). */
  withAccessEvents: boolean;
  /** Fewest distinct listeners expected per event's chain. */
  minListeners: number;
  /** Deliveries each event's chain makes (its own and its access events'). */
  deliveriesPerEvent: number;
  /**
   * Requests per second offered, evenly spaced (an open load), each measured in turn until the
   * listeners fall behind; as fast as the route answers when absent.
   */
  rates?(): number[];
  /** Starts what the server needs (an SMTP server) and gives its environment. */
  prepare(context: BenchContext): Promise<PreparedListeners>;
  /**
   * Writes what the database holds before the load starts (the schema exists by then); notes on it
   * for the report.
   */
  seed?(context: BenchContext): Promise<string[]>;
  /**
   * The `n`th request sent at `rate` (warm-up included), its customers numbered from
   * `firstCustomer`; a new customer's start by default.
   */
  request?(
    context: BenchContext,
    rate: number | undefined,
    firstCustomer: number,
  ): (sequence: number) => HttpRequest;
}

/** The server's environment for a variant, and notes on what ran beside it, read after the run. */
interface PreparedListeners {
  env: Record<string, string>;
  after(): Promise<string[]>;
}

/** The dispatcher's own cost: three listeners that do nothing (the ledger off). */
export const NOOP_VARIANT: LatencyVariant = {
  name: 'latency',
  label: '3 no-op listeners',
  withAccessEvents: false,
  minListeners: NOOP_LISTENERS,
  deliveriesPerEvent: NOOP_LISTENERS,
  prepare: async () => ({
    env: {
      // Without the built-in ledger listener (whose database work is the host's provisioning, not
      // dispatch overhead), unless BENCH_LEDGER=1.
      BENCH_AQUEDUCT_OPTIONS: JSON.stringify({
        ...AQUEDUCT_OPTIONS,
        dispatch: benchDispatch(),
        ledger: process.env.BENCH_LEDGER === '1',
      }),
      BENCH_NOOP_LISTENERS: '1',
    },
    after: async () => [],
  }),
};

/**
 * What a host runs: the built-in ledger listener, an adapter doing one upsert per call
 * (support/bench-adapter.ts) and the email listener sending each user its mail through a real SMTP
 * server in a process of its own (bench/smtp-server.ts).
 */
const REAL_VARIANT: LatencyVariant = {
  name: 'latency-real',
  label: 'ledger + adapter + email (SMTP)',
  withAccessEvents: true,
  // The ledger's listener (which calls the adapter) on the event, the email listener on the
  // access.started it causes.
  minListeners: 2,
  // provisioning.start's ledger delivery; access.started's ledger and email deliveries.
  deliveriesPerEvent: 3,
  // The route takes events far faster than a host's listeners finish them (each event here is a
  // new customer: a ledger transaction, an adapter call and two mails): at the route's own rate
  // the queue only grows, and latency with the run's length. So this variant offers set rates,
  // evenly spaced, climbing until the listeners fall behind: the summary gives the highest rate
  // that met the p99 target, the chain's capacity on this machine.
  rates: realRates,
  prepare: (context) => prepareRealListeners(context, {}),
  // A host with customers already (BENCH_CUSTOMERS): a ledger statement that reads a whole table
  // per event costs nothing on an empty one.
  seed: async (context) => {
    const customers = existingCustomers();
    await seedCustomers(context.databaseUrl, customers, context.log);
    return [`customers in the ledger before the load: ${customers.toLocaleString('en-US')}`];
  },
};

/**
 * Renewal day: the same listeners, every event renewing an active customer (the next paid period,
 * starting when the current one ends), renewal mails on so that each renewal mails its users as a
 * new customer's start does. The warm-up's first half of the requests creates the customers.
 */
const RENEWAL_VARIANT: LatencyVariant = {
  ...REAL_VARIANT,
  name: 'latency-renewals',
  label: 'renewals: ledger + adapter + email (SMTP), every event renews an active customer',
  // provisioning.start's ledger delivery; access.renewed's ledger and email deliveries.
  deliveriesPerEvent: 3,
  prepare: (context) => prepareRealListeners(context, { 'access-renewed': true }),
  request: (context, rate = 1, firstCustomer) =>
    renewalEvents(
      Math.max(1, Math.floor((rate * context.config.warmupSeconds) / 2)),
      firstCustomer,
    ),
};

/** The real listeners' server: an SMTP server here, the adapter, these mails. */
async function prepareRealListeners(
  context: BenchContext,
  mails: Record<string, boolean>,
): Promise<PreparedListeners> {
  const smtp = await startSmtpServer();
  context.cleanup.defer('stop SMTP server', smtp.stop);
  return {
    env: {
      BENCH_AQUEDUCT_OPTIONS: JSON.stringify({
        ...AQUEDUCT_OPTIONS,
        dispatch: benchDispatch(),
        // Pooled, with connections kept past nodemailer's 100 mails, as the README advises for
        // mail in volume (each new connection waits ~100 ms for the server's greeting).
        email: {
          transport: { ...smtp.transport, pool: true, maxMessages: 10_000 },
          from: MAIL_FROM,
          mails,
        },
      }),
      BENCH_ADAPTER: '1',
    },
    after: async () => [`mails received by the SMTP server: ${await smtp.received()}`],
  };
}

function benchDispatch(): DispatchOptions {
  // The defaults, which is what users get, unless BENCH_DISPATCH gives others (printed either way).
  return JSON.parse(process.env.BENCH_DISPATCH || '{}') as DispatchOptions;
}

/**
 * End-to-end latency: under the ingest benchmark's load (same connections, durations and events),
 * the time from the client reading an event's 2xx to the last of its listeners being recorded done
 * (`finished_at`, Postgres' clock, which is this machine's, as is Date.now()); with the real
 * listeners, the listeners of the `access.*` event it caused included.
 */
function latencyBenchmark(variant: LatencyVariant): Benchmark {
  return {
    name: variant.name,
    async run(context: BenchContext): Promise<BenchReport> {
      const prepared = await variant.prepare(context);
      const server = await startChildServer('bench/bench-server.ts', {
        BENCH_DATABASE_URL: context.databaseUrl,
        ...prepared.env,
      });
      context.cleanup.defer('stop bench server', server.stop);
      try {
        const seeded = (await variant.seed?.(context)) ?? [];
        const runs: LatencyRun[] = [];
        for (const [index, rate] of (variant.rates?.() ?? [undefined]).entries()) {
          const firstCustomer = index * CUSTOMERS_PER_RATE;
          const run = await measureLatency(context, server.baseUrl, variant, server.stats, {
            rate,
            firstCustomer,
          });
          runs.push(run);
          if (!run.keptPace) {
            break; // Higher rates would only measure a queue growing.
          }
        }
        const report = runs.length === 1 ? runs[0].report : climbReport(variant, runs);
        report.notes.push(...seeded, ...(await prepared.after()));
        report.summary.push(await serverMemoryLine(`${variant.name} server`, server));
        return report;
      } finally {
        await server.stop();
      }
    },
  };
}

export const latencyNoopBenchmark = latencyBenchmark(NOOP_VARIANT);
export const latencyRealBenchmark = latencyBenchmark(REAL_VARIANT);
export const latencyRenewalsBenchmark = latencyBenchmark(RENEWAL_VARIANT);

/**
 * The rates climbed, in one report: a row per rate, the details of the highest rate that met the
 * target (else of the lowest), and in the summary that rate, the chain's capacity here, and the
 * next one measured.
 */
function climbReport(variant: LatencyVariant, runs: LatencyRun[]): BenchReport {
  const best = runs.filter((run) => run.metTarget).pop();
  const missed = runs.find((run) => !run.metTarget && (!best || run.offered! > best.offered!));
  const shown = best ?? runs[0];
  const figure = (value: number | undefined, digits = 0) =>
    value === undefined ? '' : value.toFixed(digits);
  const climb: TextTable = {
    header: [
      'offered events/s',
      'answered req/s',
      'p50 ms',
      'p99 ms',
      'kept pace',
      'server CPU µs/event',
      'Postgres CPU µs/event',
      'statements/event',
    ],
    rows: runs.map((run) => [
      String(run.offered),
      run.answeredPerSecond.toFixed(0),
      run.p50Ms.toFixed(1),
      run.p99Ms.toFixed(1),
      run.keptPace ? 'yes' : 'no',
      figure(run.serverCpuMicros),
      figure(run.postgresCpuMicros),
      figure(run.roundTrips, 1),
    ]),
  };
  const at = (run: LatencyRun) =>
    `${run.offered}/s (p50 ${run.p50Ms.toFixed(1)} / p99 ${run.p99Ms.toFixed(1)} ms)`;
  return {
    ...shown.report,
    title: `${shown.report.title}; rates offered in turn: ${runs.map((run) => run.offered).join(', ')}/s, details at ${shown.offered}/s`,
    tables: [...(shown.report.tables ?? []), climb],
    summary: [
      {
        metric: `end to end, ${variant.label}: the highest rate offered with p99 <= ${END_TO_END_TARGET_MS} ms, 2xx to all done`,
        value: `${best ? at(best) : 'none'}${missed ? `; ${at(missed)}${missed.keptPace ? '' : ', fell behind'}` : ''}`,
        target: `the route's own rate (ingest)`,
        // Every rate climbed is far below what the route alone takes (ingest): a miss is a miss.
        met: missed ? false : undefined,
      },
    ],
  };
}

/** One rate's measurement: its report and the figures the climb compares. */
export interface LatencyRun {
  report: BenchReport;
  /** Events per second offered; undefined when the load ran as fast as the route answered. */
  offered?: number;
  answeredPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** The listeners finished about as many deliveries as were created while the load ran. */
  keptPace: boolean;
  /** p99 within the target, every event done. */
  metTarget: boolean;
  serverCpuMicros?: number;
  postgresCpuMicros?: number;
  roundTrips?: number;
}

/** One 2xx of the measured run: when the client read it, and its body (`{ received, id }`). */
interface Ack {
  atMs: number;
  body: string;
}

export async function measureLatency(
  context: BenchContext,
  baseUrl: string,
  variant: LatencyVariant,
  /** The server's resources, when it runs in its own process: CPU per event is then reported. */
  serverStats?: () => Promise<ServerStatsMessage>,
  /** The rate offered (as fast as the route answers when absent) and the first customer's number. */
  { rate, firstCustomer }: { rate?: number; firstCustomer: number } = { firstCustomer: 0 },
): Promise<LatencyRun> {
  const dispatch = benchDispatch();
  const { config, databaseUrl } = context;
  const { connections, warmupSeconds, durationSeconds } = config;
  const url = `${baseUrl}${WEBHOOK_PATH}`;
  const notes: string[] = [];
  const warnings: string[] = [];

  // At full speed the pool is sized, as ingest's is, from the bare route's rate, which the webhook
  // cannot exceed.
  const bare = rate === undefined ? await bareRate(context, baseUrl) : undefined;
  const pool = signedEventPool(
    context,
    rate ?? bare?.requestsPerSecond ?? 0,
    warmupSeconds + durationSeconds,
    variant.request?.(context, rate, firstCustomer) ?? newCustomerEvents(firstCustomer),
  );

  context.log(`${variant.name}: warm-up ${warmupSeconds} s${rate ? ` at ${rate}/s` : ''}`);
  const warmup = await runLoad(
    { url, next: () => pool.next() },
    { connections, durationSeconds: warmupSeconds, rate },
  );
  // Measure from an empty queue: a warm-up backlog would be counted against the measured events.
  const warmupDrain = await waitForDrain(context, 'warm-up');
  if (!warmupDrain.drained) {
    warnings.push(
      `${warmupDrain.open} warm-up deliveries still pending/active after ${DRAIN_TIMEOUT_MS / 1000} s: the measured run starts with a backlog`,
    );
  }

  const acks: Ack[] = [];
  context.log(`${variant.name}: measuring ${durationSeconds} s`);
  const statsBefore = await serverStats?.();
  const postgresBefore = readPostgresCpu();
  const loadStartMs = Date.now();
  const measured = await runLoad(
    {
      url,
      next: () => pool.next(),
      onAnswer: (status, _request, body) => {
        if (status >= 200 && status < 300) {
          acks.push({ atMs: Date.now(), body });
        }
      },
    },
    { connections, durationSeconds, rate },
  );
  const loadEndMs = Date.now();
  const drain = await waitForDrain(context, 'measured run');
  const drainSeconds = (Date.now() - loadEndMs) / 1000;
  const statsAfter = await serverStats?.();
  const postgresSpent = postgresCpuSpent(postgresBefore, readPostgresCpu());
  if (drain.openAtStart > 0 && drain.drained) {
    notes.push(
      `after the load: ${drain.openAtStart} deliveries drained in ${drainSeconds.toFixed(1)} s (${(drain.openAtStart / drainSeconds).toFixed(0)}/s, the listeners' pace with the route idle)`,
    );
  }
  if (!drain.drained) {
    warnings.push(
      `${drain.open} deliveries still pending/active ${DRAIN_TIMEOUT_MS / 1000} s after the load stopped: their events count as not done`,
    );
  }
  if (pool.madeOnDemand > 0) {
    notes.push(`pool of ${pool.size} ran out: ${pool.madeOnDemand} requests were signed in-run`);
  }
  const failed =
    (bare ? bare.non2xx + bare.errors : 0) +
    warmup.non2xx +
    warmup.errors +
    measured.non2xx +
    measured.errors;
  if (failed > 0) {
    warnings.push(`${failed} non-2xx answers or connection errors (warm-up and /bare included)`);
  }

  const ackedAt = new Map(
    acks.map((ack) => [(JSON.parse(ack.body) as { id: string }).id, ack.atMs]),
  );
  const { events, listeners } = await withClient(databaseUrl, (client) =>
    deliveriesByEvent(client, [...ackedAt.keys()], variant.withAccessEvents),
  );
  const totals = await withClient(databaseUrl, (client) =>
    deliveryTotals(client, loadStartMs, loadEndMs),
  );

  const toDone: number[] = [];
  const toStarted: number[] = [];
  let incomplete = 0;
  let lastFinishedMs = loadEndMs;
  for (const [id, atMs] of ackedAt) {
    const event = events.get(id);
    if (
      !event ||
      event.done !== event.deliveries ||
      event.deliveries !== variant.deliveriesPerEvent
    ) {
      incomplete++;
      continue;
    }
    toDone.push(event.lastFinishedMs - atMs);
    toStarted.push(event.lastStartedMs - atMs);
    lastFinishedMs = Math.max(lastFinishedMs, event.lastFinishedMs);
  }
  const beforeAck = toDone.filter((ms) => ms < 0).length;

  notes.push(
    `listeners of these events: ${listeners.join(', ') || 'none'}; dispatch options: ${describe(dispatch)}`,
  );
  const perEvent = (spent: number | undefined) =>
    spent === undefined || ackedAt.size === 0 ? undefined : spent / ackedAt.size;
  const spent = (key: 'cpuMicros' | 'roundTrips') =>
    statsBefore && statsAfter ? statsAfter[key] - statsBefore[key] : undefined;
  const serverCpuMicros = perEvent(spent('cpuMicros'));
  const roundTrips = perEvent(spent('roundTrips'));
  const postgresCpuMicros = perEvent(postgresSpent);
  if (serverCpuMicros !== undefined && roundTrips !== undefined) {
    // Steadier than latency on a shared machine: it does not count the time spent waiting for a core.
    notes.push(
      `server CPU per event, its listeners included (the measured run and its drain): ${serverCpuMicros.toFixed(0)} µs`,
    );
    // Exact, whatever the machine: what the CPU figures vary around.
    notes.push(
      `statements (round trips) to Postgres per event, same span: ${roundTrips.toFixed(1)}`,
    );
  }
  if (postgresCpuMicros !== undefined) {
    notes.push(
      `Postgres CPU per event, over the same span (local Postgres only): ${postgresCpuMicros.toFixed(0)} µs`,
    );
  }
  notes.push(
    `Postgres autovacuum: ${await withClient(databaseUrl, showAutovacuum)} (plans follow table statistics)`,
  );
  notes.push(
    `latency counts the ${ackedAt.size} events answered 2xx in the measured run; the last of their listeners finished ${((lastFinishedMs - loadEndMs) / 1000).toFixed(1)} s after the load stopped`,
  );
  notes.push(
    `${beforeAck} events had all listeners done before the client read the 2xx (negative latency, counted as is)`,
  );
  notes.push(
    `events answered 2xx without a done delivery for each of the ${listeners.length} listeners: ${incomplete}`,
  );
  const perSecond = (count: number) => (count / ((loadEndMs - loadStartMs) / 1000)).toFixed(0);
  // A few percent are the deliveries created in the last instants of the run: not a trend.
  const fellBehind = totals.finishedInRun < 0.9 * totals.createdInRun;
  notes.push(
    `while the load ran: ${totals.createdInRun} deliveries created (${perSecond(totals.createdInRun)}/s), ${totals.finishedInRun} finished (${perSecond(totals.finishedInRun)}/s); ${drain.openAtStart} pending/active when it stopped${fellBehind ? ': the dispatcher fell behind, so latency grows with BENCH_DURATION' : ''}`,
  );
  notes.push(
    `deliveries of this benchmark (warm-up and cut-off requests included): ${totals.all}, not done: ${totals.notDone}, with attempts > 1: ${totals.retried}`,
  );
  if (listeners.length < variant.minListeners) {
    warnings.push(
      `expected at least ${variant.minListeners} listeners (${variant.label}), found ${listeners.length}`,
    );
  }
  if (incomplete > 0) {
    warnings.push(`${incomplete} events answered 2xx do not have all listeners done`);
  }
  if (totals.retried > 0) {
    warnings.push(`${totals.retried} deliveries ran more than once (these listeners never fail)`);
  }

  const latencies: TextTable = {
    header: ['from the client reading the 2xx to', 'events', 'p50 ms', 'p99 ms', 'max ms'],
    rows: [
      latencyRow(`all ${listeners.length} listeners done`, toDone),
      latencyRow('the last listener started', toStarted),
    ],
  };
  const p50Ms = percentile(toDone, 0.5);
  const p99Ms = percentile(toDone, 0.99);
  const report: BenchReport = {
    title: `${variant.name}: ${variant.label}, ${connections} connections, ${durationSeconds} s measured after ${warmupSeconds} s warm-up, ${listeners.length} listeners per event`,
    rows: [{ route: `POST ${WEBHOOK_PATH}`, result: measured }],
    tables: [latencies],
    summary: [
      {
        metric: `end to end, ${variant.label}: 2xx to all done, p50 / p99 ms (at ${measured.requestsPerSecond.toFixed(0)} req/s${rate ? ', offered' : ''})`,
        value: `${p50Ms.toFixed(1)} / ${p99Ms.toFixed(1)}`,
        target: `p99 <= ${END_TO_END_TARGET_MS} ms`,
        met: atMost(p99Ms, END_TO_END_TARGET_MS),
      },
    ],
    notes,
    warnings,
  };
  return {
    report,
    offered: rate,
    answeredPerSecond: measured.requestsPerSecond,
    p50Ms,
    p99Ms,
    keptPace: !fellBehind && drain.drained,
    metTarget: incomplete === 0 && atMost(p99Ms, END_TO_END_TARGET_MS),
    serverCpuMicros,
    postgresCpuMicros,
    roundTrips,
  };
}

/** The bare route's rate, for 'as fast as the route answers': what sizes the pool of events. */
function bareRate(context: BenchContext, baseUrl: string): Promise<LoadResult> {
  const { connections, warmupSeconds } = context.config;
  context.log(`bare: ${warmupSeconds} s to size the pool`);
  const sample = signedEvent(-1);
  return runLoad(
    { url: `${baseUrl}/bare`, next: () => sample },
    { connections, durationSeconds: warmupSeconds },
  );
}

function describe(dispatch: DispatchOptions): string {
  const changed = Object.entries(dispatch);
  return changed.length === 0
    ? 'the defaults'
    : `defaults except ${changed.map(([key, value]) => `${key}: ${value}`).join(', ')}`;
}

function latencyRow(label: string, values: number[]): string[] {
  const at = (fraction: number) =>
    values.length === 0 ? '' : percentile(values, fraction).toFixed(1);
  return [label, String(values.length), at(0.5), at(0.99), at(1)];
}
