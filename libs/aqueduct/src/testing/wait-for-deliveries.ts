import type { INestApplicationContext } from '@nestjs/common';
import { getDataSourceToken } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';

export interface WaitForDeliveriesOptions {
  /** Only this event's deliveries, then those of the events it caused for its customer. */
  eventId?: string;
  /** Only deliveries of events naming this customer (Aqueduct's and the module's `access.*`). */
  customerId?: string;
  /** @default 10000 */
  timeoutMs?: number;
  /** How often to look. @default 20 */
  intervalMs?: number;
}

export interface DeliveriesOutcome {
  /** Deliveries that ran to the end. */
  done: number;
  /** Deliveries dead-lettered (their listener failed every attempt): `<eventId>:<listener>`. */
  dead: string[];
}

const SCOPE = `(
  ($1::uuid IS NULL AND $2::text IS NULL)
  OR e.id = $1::uuid
  OR (e.payload -> 'object' ->> 'customerId') = $2)`;

/**
 * Waits until no delivery in scope is pending or running: every listener has finished with the
 * event (and, for a customer, with what it caused: the ledger's `access.*` events and their
 * adapter calls and mails). No polling in your test, no sleeps. Resolves with what finished;
 * rejects after `timeoutMs` naming what is still waiting.
 */
export async function waitForDeliveries(
  app: INestApplicationContext,
  options: WaitForDeliveriesOptions = {},
): Promise<DeliveriesOutcome> {
  const dataSource = app.get<DataSource>(getDataSourceToken(), { strict: false });
  const { timeoutMs = 10_000, intervalMs = 20 } = options;
  let customerId = options.customerId ?? null;
  if (options.eventId && !customerId) {
    const [event] = await dataSource.query(
      `SELECT payload -> 'object' ->> 'customerId' AS customer FROM aqueduct_events WHERE id = $1`,
      [options.eventId],
    );
    customerId = event?.customer ?? null;
  }
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const rows: { state: string; id: string }[] = await dataSource.query(
      `SELECT d.state, d.event_id || ':' || d.listener AS id
         FROM aqueduct_deliveries d JOIN aqueduct_events e ON e.id = d.event_id
        WHERE ${SCOPE}`,
      [options.eventId ?? null, customerId],
    );
    const waiting = rows.filter((row) => row.state === 'pending' || row.state === 'active');
    if (waiting.length === 0) {
      return {
        done: rows.filter((row) => row.state === 'done').length,
        dead: rows.filter((row) => row.state === 'dead').map((row) => row.id),
      };
    }
    if (Date.now() > deadline) {
      throw new Error(
        `waitForDeliveries: after ${timeoutMs} ms, ${waiting.length} deliveries still waiting: ` +
          waiting
            .slice(0, 5)
            .map((row) => row.id)
            .join(', '),
      );
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
