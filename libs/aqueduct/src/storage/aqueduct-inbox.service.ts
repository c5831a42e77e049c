import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource, type EntityManager } from 'typeorm';
import { DELIVERIES_CHANNEL, DispatchSignal } from './dispatch-signal';
import type { AqueductEventStatus } from './aqueduct-storage.types';

/** One verified request, ready to be stored. */
export interface InboxRecord {
  dedupKey: string;
  type: string;
  createdAt: Date | null;
  /** The body as JSON text, exactly as received; null when it is not JSON. */
  payloadJson: string | null;
  /** The raw bytes, stored when the event is quarantined or its body is not storable JSON. */
  rawBody: Buffer | null;
  headers: Record<string, string>;
  deliveryId: string | null;
  signedAt: Date | null;
  status: AqueductEventStatus;
  errors: string[] | null;
  /** What was assumed to accept it (a missing `createdAt`, …). */
  warnings?: string[] | null;
  /** Listeners that get a delivery when the event is accepted. */
  listeners: string[];
  /**
   * When set, the deliveries are created already leased to this dispatcher (which has reserved
   * room to run them at once), instead of pending for any instance to claim.
   */
  lease?: { owner: string; leaseMs: number };
}

/** An event the module writes itself (an `access.*` transition): always valid JSON, accepted. */
export interface InternalEventRecord {
  dedupKey: string;
  type: string;
  createdAt: Date;
  payload: unknown;
  listeners: string[];
}

export interface InboxResult {
  id: string;
  status: AqueductEventStatus;
  /** Already stored before (by this or any instance). */
  duplicate: boolean;
  /** Validation errors of the stored row when it is quarantined. */
  errors: string[] | null;
}

/** Most events written by one statement. */
const MAX_BATCH = 200;

/**
 * One statement stores a batch of events, creates their deliveries and announces them, and tells
 * new from duplicate per event. Everything commits together, so an acknowledged event always has
 * its deliveries. The unique dedup key makes concurrent copies collapse in Postgres itself,
 * whichever instance receives them. A copy of a quarantined event that now validates (after an
 * upgrade) replaces the quarantined row and gets its deliveries.
 */
const STORE_SQL = `
WITH input AS (
  SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[], $5::bytea[], $6::text[],
                       $7::text[], $8::timestamptz[], $9::text[], $10::text[], $11::text[], $12::text[],
                       $13::int[], $14::text[])
    AS t(dedup_key, type, created_at, payload, raw_body, headers, delivery_id, signed_at, status, errors,
         listeners, owner, lease_ms, warnings)
),
stored AS (
  INSERT INTO aqueduct_events
    (dedup_key, type, created_at, payload, raw_body, headers, delivery_id, signed_at, status, errors,
     warnings)
  SELECT dedup_key, type, created_at, payload::jsonb, raw_body, headers::jsonb, delivery_id, signed_at,
         status, errors::jsonb, warnings::jsonb
    FROM input
  ON CONFLICT (dedup_key) DO UPDATE
    SET type = EXCLUDED.type, created_at = EXCLUDED.created_at, payload = EXCLUDED.payload,
        raw_body = EXCLUDED.raw_body, status = EXCLUDED.status, errors = NULL,
        warnings = EXCLUDED.warnings
    WHERE aqueduct_events.status = 'quarantined' AND EXCLUDED.status = 'accepted'
  RETURNING id, dedup_key, status, errors
),
deliveries AS (
  INSERT INTO aqueduct_deliveries (event_id, listener, state, attempts, locked_by, locked_until, run_at, started_at)
  SELECT s.id, l.name,
         CASE WHEN i.owner IS NULL THEN 'pending' ELSE 'active' END,
         CASE WHEN i.owner IS NULL THEN 0 ELSE 1 END,
         i.owner,
         now() + i.lease_ms * interval '1 millisecond',
         CASE WHEN i.owner IS NULL THEN now() ELSE now() + i.lease_ms * interval '1 millisecond' END,
         CASE WHEN i.owner IS NULL THEN NULL ELSE now() END
    FROM stored s
    JOIN input i USING (dedup_key)
    CROSS JOIN LATERAL unnest(string_to_array(NULLIF(i.listeners, ''), ' ')) AS l(name)
   WHERE s.status = 'accepted'
  ON CONFLICT DO NOTHING
  RETURNING state
)
SELECT i.dedup_key,
       coalesce(s.id, e.id) AS id,
       coalesce(s.status, e.status) AS status,
       CASE WHEN s.id IS NULL THEN e.errors ELSE s.errors END AS errors,
       s.id IS NULL AS duplicate,
       (SELECT pg_notify('${DELIVERIES_CHANNEL}', '')
          FROM (SELECT 1 FROM deliveries WHERE state = 'pending' LIMIT 1) AS any_pending) AS notified
  FROM input i
  LEFT JOIN stored s USING (dedup_key)
  LEFT JOIN aqueduct_events e ON s.id IS NULL AND e.dedup_key = i.dedup_key`;

/**
 * The module's own events, written in the caller's transaction: no raw bytes, headers or leases to
 * carry, so a sweep's batch of transitions stays one lean statement.
 */
const STORE_INTERNAL_SQL = `
WITH input AS (
  SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[], $5::text[])
    AS t(dedup_key, type, created_at, payload, listeners)
),
stored AS (
  INSERT INTO aqueduct_events (dedup_key, type, created_at, payload, status)
  SELECT dedup_key, type, created_at, payload::jsonb, 'accepted' FROM input
  ON CONFLICT (dedup_key) DO NOTHING
  RETURNING id, dedup_key
),
deliveries AS (
  INSERT INTO aqueduct_deliveries (event_id, listener)
  SELECT s.id, l.name FROM stored s JOIN input i USING (dedup_key)
   CROSS JOIN LATERAL unnest(string_to_array(NULLIF(i.listeners, ''), ' ')) AS l(name)
  RETURNING 1
)
SELECT (SELECT pg_notify('${DELIVERIES_CHANNEL}', '') FROM (SELECT 1 FROM deliveries LIMIT 1) AS any_delivery)
  AS notified`;

/**
 * A conflicting row committed by another transaction after the statement took its snapshot is
 * invisible to it; a second look (new snapshot) finds it.
 */
const FIND_SQL = `
SELECT dedup_key, id, status, errors, true AS duplicate FROM aqueduct_events WHERE dedup_key = ANY($1::text[])`;

/**
 * Errors that are the payload's fault, not the database's: class 22 (data exception: `\u0000` or
 * a lone surrogate in jsonb, a number out of numeric's range, a date out of timestamptz's) and
 * class 54 (program limit exceeded: a value too big for an index entry, 54000; nesting deeper
 * than jsonb's parser allows, 54001). A retry would fail the same way, so such a body is kept as
 * raw bytes and quarantined, never lost, never answered 5xx, and never fails the others of its
 * batch. Every other error is the database's (unreachable, read-only, out of disk…): 503.
 */
export const isPayloadFault = (error: unknown) => {
  const code = (error as { code?: string })?.code ?? '';
  return code.startsWith('22') || code.startsWith('54');
};

/** Text Postgres will take: no NUL, bounded. */
const storable = (text: string, max = 500) => text.split('\u0000').join('').slice(0, max);

interface Pending {
  record: InboxRecord;
  resolve: (result: InboxResult) => void;
  reject: (error: unknown) => void;
}

/**
 * The durable inbox. Requests that arrive together are written together: one statement and one
 * commit for the lot, which is what lets ingest keep up under bursts. A request is answered only
 * when the statement holding its event has committed.
 */
@Injectable()
export class AqueductInbox {
  private queue: Pending[] = [];
  private flushScheduled = false;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly signal: DispatchSignal,
  ) {}

  store(record: InboxRecord): Promise<InboxResult> {
    return new Promise((resolve, reject) => {
      this.queue.push({ record, resolve, reject });
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.flushScheduled = false;
    while (this.queue.length > 0) {
      void this.writeBatch(this.queue.splice(0, MAX_BATCH));
    }
  }

  private async writeBatch(batch: Pending[]): Promise<void> {
    // A key may occur once per statement (ON CONFLICT DO UPDATE): later copies ride on the first.
    const firsts = new Map<string, Pending[]>();
    for (const pending of batch) {
      const copies = firsts.get(pending.record.dedupKey) ?? [];
      copies.push(pending);
      firsts.set(pending.record.dedupKey, copies);
    }
    const groups = [...firsts.values()];
    try {
      const results = await this.write(groups.map((copies) => copies[0].record));
      groups.forEach((copies, index) => {
        const result = results[index];
        copies.forEach((pending, copy) =>
          pending.resolve(copy === 0 ? result : { ...result, duplicate: true }),
        );
      });
      if (results.some((result) => !result.duplicate && result.status === 'accepted')) {
        this.signal.wake();
      }
    } catch (error) {
      if (groups.length > 1 && isPayloadFault(error)) {
        // One bad body must not fail the others: write them one by one.
        for (const copies of groups) {
          await this.writeBatch(copies);
        }
        return;
      }
      const record = groups[0][0].record;
      const alreadyRaw =
        record.payloadJson === null && record.status === 'quarantined' && record.createdAt === null;
      if (isPayloadFault(error) && !alreadyRaw) {
        const reason = storable((error as Error).message, 200);
        const asRaw: InboxRecord = {
          ...record,
          type: storable(record.type, 200) || 'unknown',
          createdAt: null,
          payloadJson: null,
          status: 'quarantined',
          errors: [`body could not be stored as JSON (${reason}); kept as raw bytes`],
          warnings: null,
          lease: undefined,
        };
        return this.writeBatch(groups[0].map((pending) => ({ ...pending, record: asRaw })));
      }
      batch.forEach((pending) => pending.reject(error));
    }
  }

  /**
   * Stores events the module writes itself, with their deliveries, inside the caller's transaction:
   * they commit (and their NOTIFY goes out) with the change that caused them, or not at all. A
   * key already stored is left alone (the same change written twice is one event).
   */
  async storeWithin(manager: EntityManager, records: InternalEventRecord[]): Promise<void> {
    if (records.length > 0) {
      await manager.query(STORE_INTERNAL_SQL, [
        records.map((r) => r.dedupKey),
        records.map((r) => r.type),
        records.map((r) => r.createdAt),
        records.map((r) => JSON.stringify(r.payload)),
        records.map((r) => r.listeners.join(' ')),
      ]);
    }
  }

  /** Results in the order of `records` (whose dedup keys are distinct). */
  private async write(records: InboxRecord[]): Promise<InboxResult[]> {
    const column = <T>(pick: (record: InboxRecord) => T) => records.map(pick);
    const rows: (InboxResult & { dedup_key: string })[] = await this.dataSource.query(STORE_SQL, [
      column((r) => r.dedupKey),
      column((r) => r.type),
      column((r) => r.createdAt),
      column((r) => r.payloadJson),
      column((r) => (r.payloadJson === null || r.status !== 'accepted' ? r.rawBody : null)),
      column((r) => JSON.stringify(r.headers)),
      column((r) => r.deliveryId),
      column((r) => r.signedAt),
      column((r) => r.status),
      column((r) => (r.errors ? JSON.stringify(r.errors) : null)),
      column((r) => r.listeners.join(' ')),
      column((r) => r.lease?.owner ?? null),
      column((r) => r.lease?.leaseMs ?? null),
      column((r) => (r.warnings?.length ? JSON.stringify(r.warnings) : null)),
    ]);
    const byKey = new Map(rows.filter((row) => row.id).map((row) => [row.dedup_key, row]));
    const unseen = records.filter((r) => !byKey.has(r.dedupKey)).map((r) => r.dedupKey);
    if (unseen.length > 0) {
      const found: (InboxResult & { dedup_key: string })[] = await this.dataSource.query(FIND_SQL, [
        unseen,
      ]);
      found.forEach((row) => byKey.set(row.dedup_key, row));
    }
    return records.map((record) => {
      const row = byKey.get(record.dedupKey);
      if (!row) {
        throw new Error(`event ${record.dedupKey} was neither stored nor found`);
      }
      return { id: row.id, status: row.status, duplicate: row.duplicate, errors: row.errors };
    });
  }
}
