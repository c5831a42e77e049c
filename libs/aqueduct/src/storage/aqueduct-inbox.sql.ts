import type { InboxRecord, InternalEventRecord } from './aqueduct-inbox.types';
import { DELIVERIES_CHANNEL } from './dispatch-signal';

/**
 * One statement stores a batch of events, creates their deliveries and announces them, and tells
 * new from duplicate per event. Everything commits together, so an acknowledged event always has
 * its deliveries. The unique dedup key makes concurrent copies collapse in Postgres itself,
 * whichever instance receives them. A copy of a quarantined event that now validates (after an
 * upgrade) replaces the quarantined row and gets its deliveries.
 */
export const STORE_SQL = `
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

/** The parameters of `STORE_SQL`: one array per column, in the order of its `unnest`. */
export function storeParams(records: InboxRecord[]): unknown[][] {
  const column = <T>(pick: (record: InboxRecord) => T) => records.map(pick);
  return [
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
  ];
}

/**
 * The module's own events, written in the caller's transaction: no raw bytes or headers to carry,
 * so a sweep's batch of transitions stays one lean statement. With an owner ($6), the deliveries are
 * created leased to it, as the webhook's fast path does, and it runs them after the commit; without
 * one they are pending, and announced. Returns the events stored (a key stored already is not).
 */
export const STORE_INTERNAL_SQL = `
WITH input AS (
  SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[], $5::text[])
    AS t(dedup_key, type, created_at, payload, listeners)
),
stored AS (
  INSERT INTO aqueduct_events (dedup_key, type, created_at, payload, status)
  SELECT dedup_key, type, created_at, payload::jsonb, 'accepted' FROM input
  ON CONFLICT (dedup_key) DO NOTHING
  RETURNING id, dedup_key, received_at
),
deliveries AS (
  INSERT INTO aqueduct_deliveries (event_id, listener, state, attempts, locked_by, locked_until, run_at, started_at)
  SELECT s.id, l.name,
         CASE WHEN $6::text IS NULL THEN 'pending' ELSE 'active' END,
         CASE WHEN $6::text IS NULL THEN 0 ELSE 1 END,
         $6::text,
         now() + $7::int * interval '1 millisecond',
         CASE WHEN $6::text IS NULL THEN now() ELSE now() + $7::int * interval '1 millisecond' END,
         CASE WHEN $6::text IS NULL THEN NULL ELSE now() END
    FROM stored s JOIN input i USING (dedup_key)
   CROSS JOIN LATERAL unnest(string_to_array(NULLIF(i.listeners, ''), ' ')) AS l(name)
  RETURNING state
)
SELECT s.id, s.dedup_key AS "dedupKey", s.received_at AS "receivedAt",
       (SELECT pg_notify('${DELIVERIES_CHANNEL}', '')
          FROM (SELECT 1 FROM deliveries WHERE state = 'pending' LIMIT 1) AS any_pending) AS notified
  FROM stored s`;

/** The parameters of `STORE_INTERNAL_SQL`, in its order; `lease` leases the deliveries. */
export function storeInternalParams(
  records: InternalEventRecord[],
  lease?: { owner: string; leaseMs: number },
): unknown[] {
  return [
    records.map((r) => r.dedupKey),
    records.map((r) => r.type),
    records.map((r) => r.createdAt),
    records.map((r) => JSON.stringify(r.payload)),
    records.map((r) => r.listeners.join(' ')),
    lease?.owner ?? null,
    lease?.leaseMs ?? null,
  ];
}

/**
 * A conflicting row committed by another transaction after the statement took its snapshot is
 * invisible to it; a second look (new snapshot) finds it.
 */
export const FIND_SQL = `
SELECT dedup_key, id, status, errors, true AS duplicate FROM aqueduct_events WHERE dedup_key = ANY($1::text[])`;
