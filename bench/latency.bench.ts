import type { DispatchOptions } from 'nestjs-aqueduct';
import type { Client } from 'pg';
import type { BenchContext, BenchReport, Benchmark, TextTable } from './support/benchmark';
import { serverMemoryLine, startChildServer } from './support/child-server';
import { withClient } from './support/database';
import { runLoad } from './support/load';
import { atMost, percentile } from './support/stats';
import {
  AQUEDUCT_OPTIONS,
  WEBHOOK_PATH,
  signedEvent,
  signedEventPool,
} from './support/webhook-requests';

/** bench-server.ts registers 3 no-op provisioning.start listeners with BENCH_NOOP_LISTENERS=1. */
const NOOP_LISTENERS = 3;
/** Issue 3: from the 2xx to every listener done, p99 under 250 ms. */
const END_TO_END_TARGET_MS = 250;
/** Longest wait for the dispatcher to finish the deliveries of a run once the load stops. */
const DRAIN_TIMEOUT_MS = 120_000;
const DRAIN_POLL_MS = 250;
const DRAIN_LOG_MS = 10_000;

/**
 * End-to-end latency: under the ingest benchmark's load (same connections, durations and events),
 * the time from the client reading an event's 2xx to the last of its listeners being recorded done
 * (`finished_at`, Postgres' clock, which is this machine's, as is Date.now()).
 */
export const latencyBenchmark: Benchmark = {
  name: 'latency',
  async run(context: BenchContext): Promise<BenchReport> {
    // The defaults, which is what users get, unless BENCH_DISPATCH gives others (printed either way).
    const dispatch = JSON.parse(process.env.BENCH_DISPATCH || '{}') as DispatchOptions;
    const server = await startChildServer('bench/bench-server.ts', {
      BENCH_DATABASE_URL: context.databaseUrl,
      // The three no-op listeners of the issue's definition, without the built-in ledger listener
      // (whose database work is the host's provisioning, not dispatch overhead), unless
      // BENCH_LEDGER=1.
      BENCH_AQUEDUCT_OPTIONS: JSON.stringify({
        ...AQUEDUCT_OPTIONS,
        dispatch,
        ledger: process.env.BENCH_LEDGER === '1',
      }),
      BENCH_NOOP_LISTENERS: '1',
    });
    context.cleanup.defer('stop bench server', server.stop);
    try {
      const report = await measure(context, server.baseUrl, dispatch);
      report.summary.push(await serverMemoryLine('latency server', server));
      return report;
    } finally {
      await server.stop();
    }
  },
};

/** One 2xx of the measured run: when the client read it, and its body (`{ received, id }`). */
interface Ack {
  atMs: number;
  body: string;
}

async function measure(
  context: BenchContext,
  baseUrl: string,
  dispatch: DispatchOptions,
): Promise<BenchReport> {
  const { config, databaseUrl } = context;
  const { connections, warmupSeconds, durationSeconds } = config;
  const url = `${baseUrl}${WEBHOOK_PATH}`;
  const notes: string[] = [];
  const warnings: string[] = [];

  // The pool is sized, as ingest's is, from the bare route's rate, which the webhook cannot exceed.
  context.log(`bare: ${warmupSeconds} s to size the pool`);
  const sample = signedEvent(-1);
  const bare = await runLoad(
    { url: `${baseUrl}/bare`, next: () => sample },
    { connections, durationSeconds: warmupSeconds },
  );
  const pool = signedEventPool(context, bare.requestsPerSecond, warmupSeconds + durationSeconds);

  context.log(`latency: warm-up ${warmupSeconds} s`);
  const warmup = await runLoad(
    { url, next: () => pool.next() },
    { connections, durationSeconds: warmupSeconds },
  );
  // Measure from an empty queue: a warm-up backlog would be counted against the measured events.
  const warmupDrain = await waitForDrain(context, 'warm-up');
  if (!warmupDrain.drained) {
    warnings.push(
      `${warmupDrain.open} warm-up deliveries still pending/active after ${DRAIN_TIMEOUT_MS / 1000} s: the measured run starts with a backlog`,
    );
  }

  const acks: Ack[] = [];
  context.log(`latency: measuring ${durationSeconds} s`);
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
    { connections, durationSeconds },
  );
  const loadEndMs = Date.now();
  const drain = await waitForDrain(context, 'measured run');
  if (!drain.drained) {
    warnings.push(
      `${drain.open} deliveries still pending/active ${DRAIN_TIMEOUT_MS / 1000} s after the load stopped: their events count as not done`,
    );
  }
  if (pool.madeOnDemand > 0) {
    notes.push(`pool of ${pool.size} ran out: ${pool.madeOnDemand} requests were signed in-run`);
  }
  const failed =
    bare.non2xx + bare.errors + warmup.non2xx + warmup.errors + measured.non2xx + measured.errors;
  if (failed > 0) {
    warnings.push(`${failed} non-2xx answers or connection errors (warm-up and /bare included)`);
  }

  const ackedAt = new Map(
    acks.map((ack) => [(JSON.parse(ack.body) as { id: string }).id, ack.atMs]),
  );
  const { events, listeners } = await withClient(databaseUrl, (client) =>
    deliveriesByEvent(client, [...ackedAt.keys()]),
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
    if (!event || event.done !== event.deliveries || event.deliveries !== listeners.length) {
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
  if (listeners.length < NOOP_LISTENERS) {
    warnings.push(
      `expected at least the ${NOOP_LISTENERS} no-op listeners, found ${listeners.length}`,
    );
  }
  if (incomplete > 0) {
    warnings.push(`${incomplete} events answered 2xx do not have all listeners done`);
  }
  if (totals.retried > 0) {
    warnings.push(`${totals.retried} deliveries ran more than once (no-op listeners never fail)`);
  }

  const latencies: TextTable = {
    header: ['from the client reading the 2xx to', 'events', 'p50 ms', 'p99 ms', 'max ms'],
    rows: [
      latencyRow(`all ${listeners.length} listeners done`, toDone),
      latencyRow('the last listener started', toStarted),
    ],
  };
  return {
    title: `latency: ${connections} connections, ${durationSeconds} s measured after ${warmupSeconds} s warm-up, ${listeners.length} listeners per event`,
    rows: [{ route: `POST ${WEBHOOK_PATH}`, result: measured }],
    tables: [latencies],
    summary: [
      {
        metric: `end to end: 2xx to all ${listeners.length} listeners done, p50 / p99 ms (at ${measured.requestsPerSecond.toFixed(0)} req/s)`,
        value: `${percentile(toDone, 0.5).toFixed(1)} / ${percentile(toDone, 0.99).toFixed(1)}`,
        target: `p99 < ${END_TO_END_TARGET_MS} ms`,
        met: atMost(percentile(toDone, 0.99), END_TO_END_TARGET_MS),
      },
    ],
    notes,
    warnings,
  };
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

interface EventDeliveries {
  deliveries: number;
  done: number;
  /** Epoch milliseconds. */
  lastStartedMs: number;
  lastFinishedMs: number;
}

/** Per answered event, its deliveries; and the names of every listener they went to. */
async function deliveriesByEvent(
  client: Client,
  eventIds: string[],
): Promise<{ events: Map<string, EventDeliveries>; listeners: string[] }> {
  const result = await client.query<{
    event_id: string;
    deliveries: number;
    done: number;
    last_started_ms: number;
    last_finished_ms: number;
  }>(
    `SELECT event_id,
            count(*)::int AS deliveries,
            count(*) FILTER (WHERE state = 'done')::int AS done,
            (extract(epoch FROM max(started_at)) * 1000)::float8 AS last_started_ms,
            (extract(epoch FROM max(finished_at)) * 1000)::float8 AS last_finished_ms
       FROM aqueduct_deliveries
      WHERE event_id = ANY($1::uuid[])
      GROUP BY event_id`,
    [eventIds],
  );
  const listeners = await client.query<{ listener: string }>(
    `SELECT DISTINCT listener FROM aqueduct_deliveries WHERE event_id = ANY($1::uuid[]) ORDER BY 1`,
    [eventIds],
  );
  const events = new Map(
    result.rows.map((row) => [
      row.event_id,
      {
        deliveries: row.deliveries,
        done: row.done,
        lastStartedMs: row.last_started_ms,
        lastFinishedMs: row.last_finished_ms,
      },
    ]),
  );
  return { events, listeners: listeners.rows.map((row) => row.listener) };
}

interface DeliveryTotals {
  all: number;
  notDone: number;
  retried: number;
  /** Created, and finished, between the two times. */
  createdInRun: number;
  finishedInRun: number;
}

async function deliveryTotals(
  client: Client,
  fromMs: number,
  toMs: number,
): Promise<DeliveryTotals> {
  const result = await client.query<{
    all: number;
    not_done: number;
    retried: number;
    created_in_run: number;
    finished_in_run: number;
  }>(
    `SELECT count(*)::int AS all,
            count(*) FILTER (WHERE state <> 'done')::int AS not_done,
            count(*) FILTER (WHERE attempts > 1)::int AS retried,
            count(*) FILTER (WHERE created_at >= to_timestamp($1 / 1000.0)
                               AND created_at < to_timestamp($2 / 1000.0))::int AS created_in_run,
            count(*) FILTER (WHERE finished_at >= to_timestamp($1 / 1000.0)
                               AND finished_at < to_timestamp($2 / 1000.0))::int AS finished_in_run
       FROM aqueduct_deliveries`,
    [fromMs, toMs],
  );
  const [row] = result.rows;
  return {
    all: row.all,
    notDone: row.not_done,
    retried: row.retried,
    createdInRun: row.created_in_run,
    finishedInRun: row.finished_in_run,
  };
}

/** Autoanalyze (or its absence) decides the plans of the queue's statements during a run. */
async function showAutovacuum(client: Client): Promise<string> {
  const result = await client.query<{ autovacuum: string }>('SHOW autovacuum');
  return result.rows[0].autovacuum;
}

/**
 * Waits until no delivery is pending or active, up to DRAIN_TIMEOUT_MS. Every answered event's
 * deliveries were committed with it, so an empty queue means all of them have run.
 */
async function waitForDrain(
  context: BenchContext,
  label: string,
): Promise<{ drained: boolean; open: number; openAtStart: number }> {
  const startMs = Date.now();
  let loggedMs = startMs;
  let openAtStart: number | undefined;
  return withClient(context.databaseUrl, async (client) => {
    for (;;) {
      const result = await client.query<{ open: number }>(
        `SELECT count(*)::int AS open FROM aqueduct_deliveries WHERE state IN ('pending', 'active')`,
      );
      const { open } = result.rows[0];
      openAtStart ??= open;
      const nowMs = Date.now();
      const seconds = ((nowMs - startMs) / 1000).toFixed(1);
      if (open === 0 || nowMs - startMs >= DRAIN_TIMEOUT_MS) {
        context.log(
          `${label}: ${open} deliveries pending/active ${seconds} s after the load stopped`,
        );
        return { drained: open === 0, open, openAtStart };
      }
      if (nowMs - loggedMs >= DRAIN_LOG_MS) {
        loggedMs = nowMs;
        context.log(`${label}: ${open} deliveries still pending/active after ${seconds} s`);
      }
      await new Promise((resolve) => setTimeout(resolve, DRAIN_POLL_MS));
    }
  });
}
