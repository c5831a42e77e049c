import type { InboxRecord, InternalEventRecord } from './aqueduct-inbox.types';
import { DELIVERIES_CHANNEL } from './dispatch-signal';
import { epochMs, fromEpochMs } from './epoch-instant';
import type { InlineValue } from './opening-transaction';

/**
 * One statement stores a batch of events, creates their deliveries and announces them, and returns
 * the events it stored (a duplicate's row is read by `FIND_SQL`). Everything commits together, so
 * an acknowledged event always has its deliveries. The unique dedup key makes concurrent copies
 * collapse in Postgres itself, whichever instance receives them. A copy of a quarantined event
 * that now validates (after an upgrade) replaces the quarantined row and gets its deliveries.
 *
 * The batch is one JSON parameter (`storeParams`). Its row estimate does not depend on the batch's
 * size, so Postgres settles on one generic plan for the prepared statement; with one array per
 * column it planned every execution anew (the arrays' lengths made each custom plan look
 * cheaper), which cost more than writing a batch of a few events. A generic plan is made once
 * per connection and kept however the tables grow, so the statement reads no table by a plan that
 * could go stale: inserts and their arbiter index only.
 */
export const STORE_SQL = `
WITH input AS (
  SELECT * FROM json_to_recordset($1::json)
    AS t(dedup_key text, type text, created_at bigint, payload jsonb, raw_body text, headers jsonb,
         delivery_id text, signed_at bigint, status text, errors jsonb, listeners text, owner text,
         lease_ms int, warnings jsonb)
),
stored AS (
  INSERT INTO aqueduct_events
    (dedup_key, type, created_at, payload, raw_body, headers, delivery_id, signed_at, status, errors,
     warnings)
  SELECT dedup_key, type, ${fromEpochMs('created_at')}, payload, decode(raw_body, 'base64'), headers,
         delivery_id, ${fromEpochMs('signed_at')}, status, errors, warnings
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
SELECT s.dedup_key, s.id, s.status, s.errors, false AS duplicate,
       (SELECT pg_notify('${DELIVERIES_CHANNEL}', '')
          FROM (SELECT 1 FROM deliveries WHERE state = 'pending' LIMIT 1) AS any_pending) AS notified
  FROM stored s`;

/**
 * The parameter of `STORE_SQL`: the batch as a JSON array, one object per event. The body is
 * spliced in as received (it parsed as JSON already), neither escaped nor serialized again.
 */
export function storeParams(records: InboxRecord[]): [string] {
  return [`[${records.map(inputRow).join(',')}]`];
}

function inputRow(r: InboxRecord): string {
  const row = JSON.stringify({
    dedup_key: r.dedupKey,
    type: r.type,
    created_at: epochMs(r.createdAt),
    raw_body:
      r.rawBody && (r.keepRawBody || r.payloadJson === null || r.status !== 'accepted')
        ? r.rawBody.toString('base64')
        : null,
    headers: r.headers,
    delivery_id: r.deliveryId,
    signed_at: epochMs(r.signedAt),
    status: r.status,
    errors: r.errors,
    listeners: r.listeners.join(' '),
    owner: r.lease?.owner ?? null,
    lease_ms: r.lease?.leaseMs ?? null,
    warnings: r.warnings?.length ? r.warnings : null,
  });
  return r.payloadJson === null ? row : `{"payload":${r.payloadJson},${row.slice(1)}`;
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
): InlineValue[] {
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
 * The stored rows of the events `STORE_SQL` did not store: duplicates (including a row committed
 * by another transaction after that statement took its snapshot, which it could not see).
 */
export const FIND_SQL = `
SELECT dedup_key, id, status, errors, true AS duplicate FROM aqueduct_events WHERE dedup_key = ANY($1::text[])`;
