import { Injectable, NotFoundException } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { DELIVERIES_CHANNEL, DispatchSignal } from '../dispatch/dispatch-signal';
import { AqueductListenerRegistry } from '../listeners/aqueduct-listener.registry';
import type { AqueductDeliveryState } from '../storage/entities/aqueduct-delivery.entity';
import type { AqueductEventStatus } from '../storage/entities/aqueduct-event.entity';
import { parseAqueductEvent } from './aqueduct-event.parser';

export interface StoredEvent {
  id: string;
  type: string;
  status: AqueductEventStatus;
  createdAt: Date | null;
  receivedAt: Date;
  payload: unknown;
  errors: string[] | null;
  headers: Record<string, string>;
  deliveryId: string | null;
}

export interface StoredDelivery {
  /** `<eventId>:<listener>` */
  id: string;
  eventId: string;
  listener: string;
  state: AqueductDeliveryState;
  attempts: number;
  runAt: Date;
  lastError: string | null;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
}

export interface EventFilter {
  type?: string;
  status?: AqueductEventStatus;
  /** Received at or after. */
  since?: Date;
  /** Keyset pagination: events received strictly before this one (its id). */
  before?: string;
  /** @default 50, at most 500 */
  limit?: number;
}

export interface DeliveryFilter {
  state?: AqueductDeliveryState;
  listener?: string;
  eventId?: string;
  since?: Date;
  limit?: number;
}

export interface DeliveryCounts {
  pending: number;
  active: number;
  done: number;
  dead: number;
  /** When the oldest runnable delivery became due; null when none is waiting. */
  oldestPendingSince: Date | null;
}

const MAX_LIMIT = 500;
const EVENT_COLUMNS = `id, type, status, created_at AS "createdAt", received_at AS "receivedAt", payload, errors, headers, delivery_id AS "deliveryId"`;
const DELIVERY_COLUMNS = `event_id || ':' || listener AS id, event_id AS "eventId", listener, state, attempts, run_at AS "runAt",
  last_error AS "lastError", created_at AS "createdAt", started_at AS "startedAt", finished_at AS "finishedAt"`;

/** Inspect stored events and their deliveries; replay events and redrive dead deliveries. */
@Injectable()
export class AqueductEventsService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly registry: AqueductListenerRegistry,
    private readonly signal: DispatchSignal,
  ) {}

  /** Newest first. */
  listEvents(filter: EventFilter = {}): Promise<StoredEvent[]> {
    return this.dataSource.query(
      `SELECT ${EVENT_COLUMNS} FROM aqueduct_events
        WHERE ($1::text IS NULL OR type = $1) AND ($2::text IS NULL OR status = $2)
          AND ($3::timestamptz IS NULL OR received_at >= $3)
          AND ($4::uuid IS NULL OR (received_at, id) < (SELECT received_at, id FROM aqueduct_events WHERE id = $4))
        ORDER BY received_at DESC, id DESC LIMIT $5`,
      [
        filter.type ?? null,
        filter.status ?? null,
        filter.since ?? null,
        filter.before ?? null,
        limit(filter.limit),
      ],
    );
  }

  async getEvent(id: string): Promise<StoredEvent & { deliveries: StoredDelivery[] }> {
    const [event] = await this.dataSource.query(
      `SELECT ${EVENT_COLUMNS} FROM aqueduct_events WHERE id = $1`,
      [id],
    );
    if (!event) {
      throw new NotFoundException(`Aqueduct event ${id} not found`);
    }
    return { ...event, deliveries: await this.listDeliveries({ eventId: id, limit: MAX_LIMIT }) };
  }

  listDeliveries(filter: DeliveryFilter = {}): Promise<StoredDelivery[]> {
    return this.dataSource.query(
      `SELECT ${DELIVERY_COLUMNS} FROM aqueduct_deliveries
        WHERE ($1::text IS NULL OR state = $1) AND ($2::text IS NULL OR listener = $2)
          AND ($3::uuid IS NULL OR event_id = $3) AND ($4::timestamptz IS NULL OR created_at >= $4)
        ORDER BY created_at DESC, event_id, listener LIMIT $5`,
      [
        filter.state ?? null,
        filter.listener ?? null,
        filter.eventId ?? null,
        filter.since ?? null,
        limit(filter.limit),
      ],
    );
  }

  /**
   * Runs the event's listeners again, with the same idempotency keys. Includes listeners added
   * since the event arrived (this is how older events are backfilled to a new listener). A
   * rejected event is validated again first, and accepted if it now passes. Deliveries running
   * right now are left alone. Returns how many deliveries were scheduled.
   */
  async replay(eventId: string): Promise<number> {
    const [event] = await this.dataSource.query(
      `SELECT type, status, payload::text AS payload, raw_body FROM aqueduct_events WHERE id = $1`,
      [eventId],
    );
    if (!event) {
      throw new NotFoundException(`Aqueduct event ${eventId} not found`);
    }
    let type: string = event.type;
    if (event.status === 'rejected') {
      const body: Buffer = event.raw_body ?? Buffer.from(event.payload ?? '');
      const parsed = parseAqueductEvent(body);
      if (!parsed.valid) {
        throw new Error(`Event ${eventId} is still invalid: ${parsed.errors.join('; ')}`);
      }
      type = parsed.type;
      await this.dataSource.query(
        `UPDATE aqueduct_events SET status = 'accepted', errors = NULL, type = $2 WHERE id = $1`,
        [eventId, type],
      );
    }
    const rows = await this.dataSource.query(
      // The event's existing deliveries (whoever created them: a replay from the CLI does not know
      // the app's listeners) plus this instance's listeners that have none yet (a backfill).
      `INSERT INTO aqueduct_deliveries (event_id, listener)
       SELECT $1, unnest($2::text[])
       UNION SELECT event_id, listener FROM aqueduct_deliveries WHERE event_id = $1
       ON CONFLICT (event_id, listener) DO UPDATE
         SET state = 'pending', attempts = 0, run_at = now(), last_error = NULL, finished_at = NULL
         WHERE aqueduct_deliveries.state <> 'active'
       RETURNING 1`,
      [eventId, this.registry.namesFor(type)],
    );
    await this.announce();
    return rows.length;
  }

  /** A dead (or any finished) delivery back to pending, with a fresh set of attempts. */
  async redrive(deliveryId: string): Promise<void> {
    const separator = deliveryId.indexOf(':');
    const [eventId, listener] = [deliveryId.slice(0, separator), deliveryId.slice(separator + 1)];
    const [, count] = await this.dataSource.query(
      `UPDATE aqueduct_deliveries SET state = 'pending', attempts = 0, run_at = now(), last_error = NULL, finished_at = NULL
        WHERE event_id = $1::uuid AND listener = $2 AND state IN ('dead', 'done')`,
      [
        /^[0-9a-f-]{36}$/i.test(eventId) ? eventId : '00000000-0000-0000-0000-000000000000',
        listener,
      ],
    );
    if (count === 0) {
      throw new NotFoundException(`No dead or done delivery ${deliveryId}`);
    }
    await this.announce();
  }

  /** Every dead delivery (optionally of one listener) back to pending. Returns how many. */
  async redriveDead(listener?: string): Promise<number> {
    const [, count] = await this.dataSource.query(
      `UPDATE aqueduct_deliveries SET state = 'pending', attempts = 0, run_at = now(), last_error = NULL, finished_at = NULL
        WHERE state = 'dead' AND ($1::text IS NULL OR listener = $1)`,
      [listener ?? null],
    );
    await this.announce();
    return count;
  }

  async counts(): Promise<DeliveryCounts> {
    const [row] = await this.dataSource.query(
      `SELECT count(*) FILTER (WHERE state = 'pending')::int AS pending,
              count(*) FILTER (WHERE state = 'active')::int AS active,
              count(*) FILTER (WHERE state = 'done')::int AS done,
              count(*) FILTER (WHERE state = 'dead')::int AS dead,
              (SELECT min(run_at) FROM aqueduct_deliveries WHERE state = 'pending' AND run_at <= now()) AS "oldestPendingSince"
         FROM aqueduct_deliveries`,
    );
    return row;
  }

  private async announce(): Promise<void> {
    this.signal.wake();
    await this.dataSource.query(`SELECT pg_notify('${DELIVERIES_CHANNEL}', '')`);
  }
}

function limit(value: number | undefined): number {
  return Math.min(Math.max(1, Math.floor(value ?? 50)), MAX_LIMIT);
}
