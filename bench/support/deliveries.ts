import type { Client } from 'pg';
import type { BenchContext } from './benchmark';
import { withClient } from './database';

/** Longest wait for the dispatcher to finish the deliveries of a run once the load stops. */
export const DRAIN_TIMEOUT_MS = 120_000;
const DRAIN_POLL_MS = 250;
const DRAIN_LOG_MS = 10_000;

/** What the latency benchmarks read back from the deliveries table. */

export interface EventDeliveries {
  deliveries: number;
  done: number;
  /** Epoch milliseconds. */
  lastStartedMs: number;
  lastFinishedMs: number;
}

/**
 * Per answered event, its deliveries, with those of the `access.*` events it caused (the same
 * customer: each benchmark event has its own) when `withAccessEvents`; and the names of every
 * listener they went to.
 */
export async function deliveriesByEvent(
  client: Client,
  eventIds: string[],
  withAccessEvents: boolean,
): Promise<{ events: Map<string, EventDeliveries>; listeners: string[] }> {
  // The access events are found by customer through the console's customer index: those received
  // from the event on and before the customer's next event (a renewal benchmark sends several).
  const chain = withAccessEvents
    ? `e.id = a.id OR (e.type LIKE 'access.%'
         AND left(e.payload -> 'object' ->> 'customerId', 200) = left(a.customer, 200)
         AND e.payload -> 'object' ->> 'customerId' = a.customer
         AND e.received_at >= a.received_at AND (a.next_at IS NULL OR e.received_at < a.next_at))`
    : 'e.id = a.id';
  const result = await client.query<{
    event_id: string;
    deliveries: number;
    done: number;
    last_started_ms: number;
    last_finished_ms: number;
    listeners: string[];
  }>(
    `WITH customers AS (
       SELECT DISTINCT left(payload -> 'object' ->> 'customerId', 200) AS customer
         FROM aqueduct_events WHERE id = ANY($1::uuid[])
     ), acked AS (
       SELECT * FROM (
         SELECT e.id, e.payload -> 'object' ->> 'customerId' AS customer, e.received_at,
                lead(e.received_at) OVER (
                  PARTITION BY e.payload -> 'object' ->> 'customerId' ORDER BY e.received_at, e.id
                ) AS next_at
           FROM aqueduct_events e
          WHERE e.type NOT LIKE 'access.%'
            AND left(e.payload -> 'object' ->> 'customerId', 200) IN (SELECT customer FROM customers)
       ) events WHERE id = ANY($1::uuid[])
     )
     SELECT a.id AS event_id,
            count(*)::int AS deliveries,
            count(*) FILTER (WHERE d.state = 'done')::int AS done,
            (extract(epoch FROM max(d.started_at)) * 1000)::float8 AS last_started_ms,
            (extract(epoch FROM max(d.finished_at)) * 1000)::float8 AS last_finished_ms,
            array_agg(DISTINCT d.listener) AS listeners
       FROM acked a
       JOIN aqueduct_events e ON ${chain}
       JOIN aqueduct_deliveries d ON d.event_id = e.id
      GROUP BY a.id`,
    [eventIds],
  );
  const listeners = new Set<string>();
  const events = new Map(
    result.rows.map((row) => {
      row.listeners.forEach((listener) => listeners.add(listener));
      return [
        row.event_id,
        {
          deliveries: row.deliveries,
          done: row.done,
          lastStartedMs: row.last_started_ms,
          lastFinishedMs: row.last_finished_ms,
        },
      ];
    }),
  );
  return { events, listeners: [...listeners].sort() };
}

export interface DeliveryTotals {
  all: number;
  notDone: number;
  retried: number;
  /** Created, and finished, between the two times. */
  createdInRun: number;
  finishedInRun: number;
}

export async function deliveryTotals(
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
export async function showAutovacuum(client: Client): Promise<string> {
  const result = await client.query<{ autovacuum: string }>('SHOW autovacuum');
  return result.rows[0].autovacuum;
}

/**
 * Waits until no delivery is pending or active, up to DRAIN_TIMEOUT_MS. Every answered event's
 * deliveries were committed with it, so an empty queue means all of them have run.
 */
export async function waitForDrain(
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
