import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { AqueductDeliveryStore } from './aqueduct-delivery.store';
import type {
  AqueductEventStatus,
  EventFilter,
  EventSummary,
  StoredEvent,
} from './aqueduct-storage.types';
import { DispatchSignal } from './dispatch-signal';
import { asEventId } from './event-id';
import { AqueductEventType, normaliseEventType } from '../events/aqueduct-event-types';

/** Most bytes of a non-JSON body `find` returns. */
const RAW_BODY_PREVIEW_BYTES = 64 * 1024;
/** Where an event names its customer (Aqueduct's objects and the module's own access events alike). */
const CUSTOMER_ID = `(payload -> 'object' ->> 'customerId')`;
/**
 * The customer filter: the prefix written exactly as the expression index of migration
 * 1763800007000 (so that index serves it), then the whole id.
 */
const CUSTOMER_MATCH = (param: string) =>
  `left(${CUSTOMER_ID}, 200) = left(${param}, 200) AND ${CUSTOMER_ID} = ${param}`;
const EVENT_COLUMNS = `id, type, status, created_at AS "createdAt", received_at AS "receivedAt", payload, errors,
  warnings, headers, delivery_id AS "deliveryId", ${CUSTOMER_ID} AS "customerId"`;
const SUMMARY_COLUMNS = `id, type, status, created_at AS "createdAt", received_at AS "receivedAt", ${CUSTOMER_ID} AS "customerId",
  (SELECT coalesce(jsonb_object_agg(state, n), '{}'::jsonb) FROM
     (SELECT state, count(*)::int AS n FROM aqueduct_deliveries d WHERE d.event_id = e.id GROUP BY state) s) AS deliveries`;

/** What accepting a quarantined event after the fact writes. */
export interface Acceptance {
  type: string;
  createdAt: Date | null;
  body: Buffer;
  warnings: string[] | null;
  listeners: string[];
}

/**
 * The one owner of `aqueduct_events` once an event is stored (the inbox stores it): the lists and
 * pages the console and the CLI show, and the status changes operators make (reprocess, dismiss).
 */
@Injectable()
export class AqueductEventStore {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly deliveries: AqueductDeliveryStore,
    private readonly signal: DispatchSignal,
  ) {}

  /** Full events (payload included), newest first. */
  list(filter: EventFilter, rows: number): Promise<StoredEvent[]> {
    return this.select(EVENT_COLUMNS, filter, rows);
  }

  /** Summaries (no payload, deliveries by state), newest first (oldest first walking `after`). */
  summaries(filter: EventFilter, rows: number): Promise<EventSummary[]> {
    return this.select(SUMMARY_COLUMNS, filter, rows);
  }

  /**
   * Keyset pagination over (received_at, id): each page is one index range scan, as fast on the
   * last page as on the first. Only the conditions given, so each query gets its own best index.
   */
  private select<T>(columns: string, filter: EventFilter, rows: number): Promise<T[]> {
    const params: unknown[] = [];
    const param = (value: unknown) => `$${params.push(value)}`;
    const where: string[] = [];
    // Stored types are dotted (`normaliseEventType` at ingest): `provisioning_start`, the API's
    // spelling, finds the same events.
    if (filter.type !== undefined) where.push(`type = ${param(normaliseEventType(filter.type))}`);
    if (filter.status !== undefined) where.push(`status = ${param(filter.status)}`);
    if (filter.customerId !== undefined) where.push(CUSTOMER_MATCH(param(filter.customerId)));
    if (filter.since !== undefined) where.push(`received_at >= ${param(filter.since)}`);
    if (filter.until !== undefined) where.push(`received_at < ${param(filter.until)}`);
    if (filter.withDeadDeliveries) {
      where.push(`id IN (SELECT event_id FROM aqueduct_deliveries WHERE state = 'dead')`);
    }
    const cursor = (id: string) =>
      `(SELECT received_at, id FROM aqueduct_events WHERE id = ${param(id)}::uuid)`;
    if (filter.before !== undefined) where.push(`(received_at, id) < ${cursor(filter.before)}`);
    if (filter.after !== undefined) where.push(`(received_at, id) > ${cursor(filter.after)}`);
    const direction = filter.after !== undefined ? 'ASC' : 'DESC';
    const sql = `SELECT ${columns} FROM aqueduct_events e
      ${where.length > 0 ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY received_at ${direction}, id ${direction} LIMIT ${param(rows)}`;
    return this.dataSource
      .query(sql, params)
      .then((found: T[]) => (direction === 'ASC' ? found.reverse() : found));
  }

  /**
   * One event, or null. `rawBody` is the start of the raw bytes (escaped as by Postgres's
   * `encode(..., 'escape')`), kept only for bodies that could not be stored as JSON.
   */
  async find(id: string): Promise<(StoredEvent & { rawBody: string | null }) | null> {
    const [event] = await this.dataSource.query(
      `SELECT ${EVENT_COLUMNS}, encode(substring(raw_body FROM 1 FOR ${RAW_BODY_PREVIEW_BYTES}), 'escape') AS "rawBody"
         FROM aqueduct_events WHERE id = $1`,
      [asEventId(id)],
    );
    return event ?? null;
  }

  /** An event's type and status, or null. */
  async statusOf(id: string): Promise<{ type: string; status: AqueductEventStatus } | null> {
    const [event] = await this.dataSource.query(
      `SELECT type, status FROM aqueduct_events WHERE id = $1`,
      [asEventId(id)],
    );
    return event ?? null;
  }

  /** The bytes an event arrived with (its payload's text when they were not kept), or null. */
  async bodyOf(id: string): Promise<{ status: AqueductEventStatus; body: Buffer } | null> {
    const [event] = await this.dataSource.query(
      `SELECT status, raw_body, payload::text AS payload FROM aqueduct_events WHERE id = $1`,
      [asEventId(id)],
    );
    return event
      ? { status: event.status, body: event.raw_body ?? Buffer.from(event.payload ?? '') }
      : null;
  }

  /** The customer an event names (an invoice.paid: its invoice's), when there is one. */
  async customerOf(id: string): Promise<string | null> {
    // An invoice.paid names no customer: its invoice's provisionings do.
    const [event] = await this.dataSource.query(
      `SELECT coalesce(${CUSTOMER_ID},
                (SELECT p.customer_id FROM aqueduct_provisionings p
                  WHERE e.type = '${AqueductEventType.InvoicePaid}'
                    AND p.invoice_id = e.payload -> 'object' ->> 'id'
                  LIMIT 1)) AS customer
         FROM aqueduct_events e WHERE e.id = $1`,
      [asEventId(id)],
    );
    return event?.customer ?? null;
  }

  /** Today's errors of a still-quarantined event. */
  async setErrors(id: string, errors: string[]): Promise<void> {
    await this.dataSource.query(
      `UPDATE aqueduct_events SET errors = $2::jsonb WHERE id = $1 AND status = 'quarantined'`,
      [asEventId(id), JSON.stringify(errors)],
    );
  }

  /**
   * A quarantined event becomes `accepted` with its deliveries, in one transaction. Conditional on
   * the status: of two reprocesses at once, one accepts, the other sees it done (null).
   */
  async accept(id: string, acceptance: Acceptance): Promise<number | null> {
    const scheduled = await this.dataSource.transaction(async (manager) => {
      // An UPDATE answers [rows, rowCount] through TypeORM.
      const [updated]: [unknown[], number] = await manager.query(
        `UPDATE aqueduct_events
            SET status = 'accepted', type = $2, created_at = coalesce($3, received_at),
                payload = $4::jsonb, errors = NULL, warnings = $5::jsonb
          WHERE id = $1 AND status = 'quarantined' RETURNING id`,
        [
          asEventId(id),
          acceptance.type,
          acceptance.createdAt,
          acceptance.body.toString('utf8'),
          acceptance.warnings ? JSON.stringify(acceptance.warnings) : null,
        ],
      );
      if (updated.length === 0) {
        return null;
      }
      return this.deliveries.createForEvent(manager, id, acceptance.listeners);
    });
    this.signal.wake();
    return scheduled;
  }

  /** A quarantined event set aside for good; false when there is no such quarantined event. */
  async dismiss(id: string): Promise<boolean> {
    const [, count] = await this.dataSource.query(
      `UPDATE aqueduct_events SET status = 'dismissed' WHERE id = $1::uuid AND status = 'quarantined'`,
      [asEventId(id)],
    );
    return count > 0;
  }

  /** Quarantined events waiting (read from their partial index). */
  async quarantinedCount(): Promise<number> {
    const [row] = await this.dataSource.query(
      `SELECT count(*)::int AS n FROM aqueduct_events WHERE status = 'quarantined'`,
    );
    return row.n;
  }

  /** Ids of the quarantined events, oldest first. */
  async quarantinedIds(): Promise<string[]> {
    const rows: { id: string }[] = await this.dataSource.query(
      `SELECT id FROM aqueduct_events WHERE status = 'quarantined' ORDER BY received_at, id`,
    );
    return rows.map((row) => row.id);
  }
}
