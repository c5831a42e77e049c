import { Injectable, NotFoundException, UnprocessableEntityException } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import {
  appendToAttemptLog,
  type DeliveryAttempt,
  restartEntry,
} from '../dispatch/delivery-attempt-log';
import { DELIVERIES_CHANNEL, DispatchSignal } from '../dispatch/dispatch-signal';
import { AqueductListenerRegistry } from '../listeners/aqueduct-listener.registry';
import type { AqueductDeliveryState } from '../storage/entities/aqueduct-delivery.entity';
import type { AqueductEventStatus } from '../storage/entities/aqueduct-event.entity';
import { AqueductAlerts } from '../alerts/aqueduct-alerts.service';
import { isPayloadFault } from '../storage/aqueduct-inbox.service';
import { CREATED_AT_MISSING, parseAqueductEvent } from './aqueduct-event.parser';

export interface StoredEvent {
  id: string;
  type: string;
  status: AqueductEventStatus;
  createdAt: Date | null;
  receivedAt: Date;
  payload: unknown;
  errors: string[] | null;
  /** What was assumed to accept it (e.g. the arrival time for a missing `createdAt`). */
  warnings: string[] | null;
  headers: Record<string, string>;
  deliveryId: string | null;
  /** The `customerId` of the event's object, when it has one. */
  customerId: string | null;
}

/** An event without its payload, for lists: who, what, when, and how its deliveries stand. */
export interface EventSummary {
  id: string;
  type: string;
  status: AqueductEventStatus;
  createdAt: Date | null;
  receivedAt: Date;
  customerId: string | null;
  /** Deliveries per state, e.g. `{ done: 2, dead: 1 }`. */
  deliveries: Partial<Record<AqueductDeliveryState, number>>;
}

/** One page of a keyset-paginated list, newest first, with the cursors of its neighbours. */
export interface EventPage<T> {
  items: T[];
  /** Pass as `before` for the next (older) page; null on the last page. */
  older: string | null;
  /** Pass as `after` for the previous (newer) page; null on the first page. */
  newer: string | null;
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
  /**
   * The last attempts, oldest first, with replay and redrive markers between runs (at most
   * ATTEMPT_LOG_LIMIT entries). `startedAt`/`finishedAt` above are those of the latest attempt only.
   */
  attemptLog: DeliveryAttempt[];
}

export interface EventFilter {
  type?: string;
  status?: AqueductEventStatus;
  /** Only events with at least one dead delivery. */
  withDeadDeliveries?: boolean;
  /** The `customerId` of the event's object. */
  customerId?: string;
  /** Received at or after. */
  since?: Date;
  /** Received strictly before. */
  until?: Date;
  /** Keyset pagination: events received strictly before this one (its id). */
  before?: string;
  /** Keyset pagination: events received strictly after this one (its id); still newest first. */
  after?: string;
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

export type BacklogCounts = Omit<DeliveryCounts, 'done'> & {
  /** Events waiting to be reprocessed or dismissed. */
  quarantined: number;
};

/** What reprocessing a quarantined event did. */
export interface ReprocessResult {
  id: string;
  /** `accepted` when it now passes (its deliveries were created), else still `quarantined`. */
  status: AqueductEventStatus;
  /** The errors of the current DTOs, when it still fails them. */
  errors: string[] | null;
  /** Deliveries created by accepting it (0 when another call accepted it first). */
  scheduled?: number;
}

const MAX_LIMIT = 500;

/**
 * Starting a delivery over (replay, redrive) keeps its attempt log and marks the restart in it.
 * `attempts` goes back to 0 because it is the retry budget (maxAttempts, backoff, the listener's
 * `context.attempt`): a replayed delivery gets a full set of attempts. Log entries carry that same
 * number, so after a marker they count from 1 again; the console draws the marker as a divider
 * between runs. (A monotonic count would need a second column for the budget; numbering by
 * position in the log would shift as the capped log drops its oldest entries.)
 */
const RESTART = (marker: 'replayed' | 'redriven') =>
  `state = 'pending', attempts = 0, run_at = now(), last_error = NULL, finished_at = NULL,
   attempt_log = ${appendToAttemptLog('aqueduct_deliveries.attempt_log', restartEntry(marker))}`;
/** Most bytes of a non-JSON body `getEvent` returns. */
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
const DELIVERY_COLUMNS = `event_id || ':' || listener AS id, event_id AS "eventId", listener, state, attempts, run_at AS "runAt",
  last_error AS "lastError", created_at AS "createdAt", started_at AS "startedAt", finished_at AS "finishedAt",
  attempt_log AS "attemptLog"`;

/** Inspect stored events and their deliveries; replay events and redrive dead deliveries. */
@Injectable()
export class AqueductEventsService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly registry: AqueductListenerRegistry,
    private readonly signal: DispatchSignal,
    private readonly alerts: AqueductAlerts,
  ) {}

  /** Newest first. */
  listEvents(filter: EventFilter = {}): Promise<StoredEvent[]> {
    return this.selectEvents(EVENT_COLUMNS, filter, limit(filter.limit));
  }

  /**
   * A page of event summaries (no payloads), newest first. Keyset pagination over
   * (received_at, id): each page is one index range scan, as fast on the last page as the first.
   */
  async pageEvents(filter: EventFilter = {}): Promise<EventPage<EventSummary>> {
    const size = limit(filter.limit);
    const rows: EventSummary[] = await this.selectEvents(SUMMARY_COLUMNS, filter, size + 1);
    // One row more than asked tells whether there is a page beyond, in the direction walked.
    const more = rows.length > size;
    // Walking newer (after), the extra row is the newest one, first once reversed.
    const items = filter.after ? rows.slice(more ? 1 : 0) : rows.slice(0, size);
    const last = items[items.length - 1]?.id ?? null;
    const first = items[0]?.id ?? null;
    if (filter.after) {
      return { items, older: last ?? filter.after, newer: more ? first : null };
    }
    return {
      items,
      older: more ? last : null,
      newer: filter.before ? (first ?? filter.before) : null,
    };
  }

  private selectEvents<T>(columns: string, filter: EventFilter, rows: number): Promise<T[]> {
    const params: unknown[] = [];
    const param = (value: unknown) => `$${params.push(value)}`;
    const where: string[] = [];
    // Only the conditions given, so that each query is planned for its own best index.
    if (filter.type !== undefined) where.push(`type = ${param(filter.type)}`);
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
   * One event with its deliveries. `rawBody` is the start of the raw bytes (escaped as by
   * Postgres's `encode(..., 'escape')`), kept only for bodies that could not be stored as JSON.
   */
  async getEvent(
    id: string,
  ): Promise<StoredEvent & { deliveries: StoredDelivery[]; rawBody: string | null }> {
    const [event] = await this.dataSource.query(
      `SELECT ${EVENT_COLUMNS}, encode(substring(raw_body FROM 1 FOR ${RAW_BODY_PREVIEW_BYTES}), 'escape') AS "rawBody"
         FROM aqueduct_events WHERE id = $1`,
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
   * quarantined event is reprocessed first, and replayed only if it now passes. Deliveries running
   * right now are left alone. Returns how many deliveries were scheduled.
   */
  async replay(eventId: string): Promise<number> {
    const [event] = await this.dataSource.query(
      `SELECT type, status FROM aqueduct_events WHERE id = $1`,
      [eventId],
    );
    if (!event) {
      throw new NotFoundException(`Aqueduct event ${eventId} not found`);
    }
    if (event.status !== 'accepted') {
      // Accepting it creates its deliveries: that is the replay.
      const result = await this.reprocess(eventId);
      if (result.status !== 'accepted') {
        throw new UnprocessableEntityException(
          `Event ${eventId} is still invalid: ${(result.errors ?? []).join('; ')}`,
        );
      }
      return result.scheduled ?? 0;
    }
    const type: string = event.type;
    const rows = await this.dataSource.query(
      // The event's existing deliveries (whoever created them: a replay from the CLI does not know
      // the app's listeners) plus this instance's listeners that have none yet (a backfill).
      `INSERT INTO aqueduct_deliveries (event_id, listener)
       SELECT $1, unnest($2::text[])
       UNION SELECT event_id, listener FROM aqueduct_deliveries WHERE event_id = $1
       ON CONFLICT (event_id, listener) DO UPDATE
         SET ${RESTART('replayed')}
         WHERE aqueduct_deliveries.state <> 'active'
       RETURNING 1`,
      [eventId, this.registry.namesFor(type)],
    );
    await this.announce();
    return rows.length;
  }

  /**
   * Parses a quarantined event's stored bytes again with today's DTOs (after an upgrade or a fix).
   * If it now passes it becomes `accepted` and gets its deliveries, exactly once however many
   * calls race; if not, it stays quarantined with the new errors. Any other event is left as is.
   */
  async reprocess(eventId: string): Promise<ReprocessResult> {
    const [event] = await this.dataSource.query(
      `SELECT status, raw_body, payload::text AS payload FROM aqueduct_events WHERE id = $1`,
      [eventId],
    );
    if (!event) {
      throw new NotFoundException(`Aqueduct event ${eventId} not found`);
    }
    if (event.status !== 'quarantined') {
      return { id: eventId, status: event.status, errors: null };
    }
    const body: Buffer = event.raw_body ?? Buffer.from(event.payload ?? '');
    const parsed = parseAqueductEvent(body);
    let errors = parsed.valid ? null : parsed.errors;
    let scheduled = 0;
    if (parsed.valid) {
      try {
        scheduled = await this.accept(
          eventId,
          parsed.type,
          parsed.createdAt,
          body,
          parsed.warnings,
        );
      } catch (error) {
        if (!isPayloadFault(error)) {
          throw error;
        }
        errors = [`body could not be stored as JSON (${(error as Error).message.slice(0, 200)})`];
      }
    }
    if (errors) {
      await this.dataSource.query(
        `UPDATE aqueduct_events SET errors = $2::jsonb WHERE id = $1 AND status = 'quarantined'`,
        [eventId, JSON.stringify(errors)],
      );
      return { id: eventId, status: 'quarantined', errors };
    }
    await this.resolveQuarantineIfClear();
    return { id: eventId, status: 'accepted', errors: null, scheduled };
  }

  /** Reprocesses every quarantined event, oldest first. */
  async reprocessQuarantined(): Promise<ReprocessResult[]> {
    const rows: { id: string }[] = await this.dataSource.query(
      `SELECT id FROM aqueduct_events WHERE status = 'quarantined' ORDER BY received_at, id`,
    );
    const results: ReprocessResult[] = [];
    for (const { id } of rows) {
      results.push(await this.reprocess(id));
    }
    return results;
  }

  /** Marks a quarantined event reviewed: it will not be delivered, and no longer alerts. */
  async dismiss(eventId: string): Promise<void> {
    const [, count] = await this.dataSource.query(
      `UPDATE aqueduct_events SET status = 'dismissed' WHERE id = $1::uuid AND status = 'quarantined'`,
      [/^[0-9a-f-]{36}$/i.test(eventId) ? eventId : '00000000-0000-0000-0000-000000000000'],
    );
    if (count === 0) {
      throw new NotFoundException(`No quarantined event ${eventId}`);
    }
    await this.resolveQuarantineIfClear();
  }

  /** Quarantined events waiting (read from their partial index). */
  async quarantinedCount(): Promise<number> {
    const [row] = await this.dataSource.query(
      `SELECT count(*)::int AS n FROM aqueduct_events WHERE status = 'quarantined'`,
    );
    return row.n;
  }

  private async accept(
    eventId: string,
    type: string,
    createdAt: Date | null,
    body: Buffer,
    warnings: string[],
  ): Promise<number> {
    const scheduled = await this.dataSource.transaction(async (manager) => {
      // Conditional on the status: of two reprocesses at once, one accepts, the other sees it done.
      const updated = await manager.query(
        `UPDATE aqueduct_events
            SET status = 'accepted', type = $2, created_at = coalesce($3, received_at),
                payload = $4::jsonb, errors = NULL, warnings = $5::jsonb
          WHERE id = $1 AND status = 'quarantined' RETURNING id`,
        [
          eventId,
          type,
          createdAt,
          body.toString('utf8'),
          warnings.length > 0
            ? JSON.stringify(
                warnings.map((w) => (w === CREATED_AT_MISSING ? `${w} (reprocessed)` : w)),
              )
            : null,
        ],
      );
      if (updated.length === 0) {
        return 0;
      }
      const created = await manager.query(
        `INSERT INTO aqueduct_deliveries (event_id, listener) SELECT $1, unnest($2::text[])
         ON CONFLICT (event_id, listener) DO NOTHING RETURNING 1`,
        [eventId, this.registry.namesFor(type)],
      );
      await manager.query(`SELECT pg_notify('${DELIVERIES_CHANNEL}', '')`);
      return created.length as number;
    });
    this.signal.wake();
    return scheduled;
  }

  private async resolveQuarantineIfClear(): Promise<void> {
    if ((await this.quarantinedCount()) === 0) {
      await this.alerts.resolve('quarantine');
    }
  }

  /** A dead (or any finished) delivery back to pending, with a fresh set of attempts. */
  async redrive(deliveryId: string): Promise<void> {
    const separator = deliveryId.indexOf(':');
    const [eventId, listener] = [deliveryId.slice(0, separator), deliveryId.slice(separator + 1)];
    const [, count] = await this.dataSource.query(
      `UPDATE aqueduct_deliveries SET ${RESTART('redriven')}
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
      `UPDATE aqueduct_deliveries SET ${RESTART('redriven')}
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

  /**
   * Pending, active and dead counts only: each is read from its partial index, so this stays
   * cheap however many done deliveries the table holds (for pages shown on every request).
   */
  async backlog(): Promise<BacklogCounts> {
    const [row] = await this.dataSource.query(
      `SELECT (SELECT count(*) FROM aqueduct_deliveries WHERE state IN ('pending', 'active') AND state = 'pending')::int AS pending,
              (SELECT count(*) FROM aqueduct_deliveries WHERE state IN ('pending', 'active') AND state = 'active')::int AS active,
              (SELECT count(*) FROM aqueduct_deliveries WHERE state = 'dead')::int AS dead,
              (SELECT min(run_at) FROM aqueduct_deliveries WHERE state = 'pending' AND run_at <= now()) AS "oldestPendingSince",
              (SELECT count(*) FROM aqueduct_events WHERE status = 'quarantined')::int AS quarantined`,
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
