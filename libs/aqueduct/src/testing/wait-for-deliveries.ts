import type { INestApplicationContext } from '@nestjs/common';
import { AqueductDeliveryStore } from '../storage/aqueduct-delivery.store';
import { AqueductEventStore } from '../storage/aqueduct-event.store';

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
  const events = app.get(AqueductEventStore, { strict: false });
  const deliveries = app.get(AqueductDeliveryStore, { strict: false });
  const { timeoutMs = 10_000, intervalMs = 20 } = options;
  const eventId = options.eventId ?? null;
  const customerId = options.customerId ?? (eventId ? await events.customerOf(eventId) : null);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const rows = await deliveries.inScope({ eventId, customerId });
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
