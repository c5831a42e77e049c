/**
 * Retention's statements. Which events may go is one predicate, written once and used by the
 * count (a dry run) and the choice of a batch; once a batch's deliveries are locked, the delete
 * tests again what can have changed meanwhile (a delivery restarted, a ledger reference).
 *
 * It reads two columns of the ledger's tables (owned by `access`): an event the ledger refers to
 * must not go, and that test must sit in the statement that deletes, under its locks, to hold.
 */

/** What an operator chose to delete besides the default (events whose work is all done). */
export interface RetentionScope {
  /** Quarantined events too (never delivered; waiting for a reprocess or a dismissal). */
  includeQuarantined: boolean;
  /** Events with a dead delivery too (waiting for a redrive). */
  includeDead: boolean;
}

/**
 * Takes retention's advisory lock (`$1`) until the transaction ends, unless another holds it, and
 * turns JIT off for the batch: its statements probe indexes for thousands of rows, which Postgres
 * costs above `jit_above_cost` from batches of about 10,000 on, and compiling (20 ms there, 400 ms
 * once inlining starts) costs more than it saves.
 */
export const TRY_RETENTION_LOCK_SQL = `SELECT pg_try_advisory_xact_lock($1) AS won, set_config('jit', 'off', true)`;

/** Delivery states that keep their event: not finished, and dead unless dead ones may go. */
const KEEPING_STATES = (includeDead: boolean) =>
  `'pending', 'active'${includeDead ? '' : ", 'dead'"}`;

/**
 * A delivery that keeps its event: not finished (due, running, or failed and waiting for its
 * retry), or also dead (given up on, waiting for a redrive) unless dead ones may go. The `OFFSET 0`
 * keeps Postgres from turning the test into a join: as a join, with statistics taken while the
 * backlog was empty, it read the whole backlog once per candidate event (minutes per batch with a
 * few hundred thousand pending deliveries); as a subplan it reads the event's own deliveries
 * through the primary key (event_id, listener), whatever the statistics say.
 */
const KEEPING_DELIVERY = (includeDead: boolean) => `EXISTS (SELECT 1 FROM aqueduct_deliveries d
  WHERE d.event_id = e.id AND d.state IN (${KEEPING_STATES(includeDead)})
  OFFSET 0)`;

/**
 * The ledger (owned by `access`) no longer needs the event (`cutoff`: the retention's, as a
 * parameter). It keeps what it decides with in its own rows; an event it refers to is kept while
 * that reference can still matter: a provisioning's last applied event while the provisioning may
 * still give access (`access_until` after the cutoff), and a payment's event while its invoice has
 * no provisioning yet (the payment waits for it) or one that may still give access. Kept forever,
 * they would pile up at the old end of the events, one or two per period of every customer ever
 * billed, and every run would read them all. Two NOT EXISTS, which Postgres plans as anti joins;
 * `NOT (… OR …)` became hashed subplans with a cost estimate high enough for JIT.
 */
const unreferencedByLedger = (cutoff: string) => `NOT EXISTS (
     SELECT 1 FROM aqueduct_provisionings p WHERE p.last_event_id = e.id AND p.access_until >= ${cutoff})
   AND NOT EXISTS (
     SELECT 1 FROM aqueduct_invoice_payments i
      WHERE i.event_id = e.id
        AND (NOT EXISTS (SELECT 1 FROM aqueduct_provisionings p WHERE p.invoice_id = i.invoice_id)
             OR EXISTS (SELECT 1 FROM aqueduct_provisionings p
                         WHERE p.invoice_id = i.invoice_id AND p.access_until >= ${cutoff})))`;

/**
 * Of the events received before `$1`, those nothing needs any more: every delivery `done` (or
 * `dead`, when included). Dismissed events may go; quarantined ones only when asked. Each test is
 * an index probe per candidate (the ledger's references have their own indexes).
 */
function prunable(scope: RetentionScope): string {
  return `e.received_at < $1
   ${scope.includeQuarantined ? '' : `AND e.status <> 'quarantined'`}
   AND NOT ${KEEPING_DELIVERY(scope.includeDead)}
   AND ${unreferencedByLedger('$1')}`;
}

/** What a dry run reports: the events that would go, and their deliveries. */
export function countPrunableSql(scope: RetentionScope): string {
  return `
SELECT count(*) AS events,
       coalesce(sum((SELECT count(*) FROM aqueduct_deliveries d WHERE d.event_id = e.id)), 0) AS deliveries
  FROM aqueduct_events e
 WHERE ${prunable(scope)}`;
}

/** Where a run starts: before every event (no event is received at `-infinity`). */
export const PRUNE_FROM_START = { at: '-infinity', id: '00000000-0000-0000-0000-000000000000' };

/**
 * One batch: the next `$2` events received before `$1` after the cursor (`$3`, `$4`: the last
 * event of the previous batch's window, oldest first by the `(received_at, id)` index), and of
 * them the prunable ones, locked. A run walks the old events once, batch after batch, however
 * many are kept: starting every batch from the oldest re-read every kept event each time. The
 * window is materialized, so the planner cannot turn its tests into joins over the ledger's
 * tables. SKIP LOCKED passes over an event another transaction holds (one being reprocessed,
 * say). The cursor comes back as text (microseconds, which a JavaScript Date would cut), and the
 * ids as one array literal, which the next statements take back as it is: the app never parses or
 * serializes thousands of ids (that work, on the serving instance's event loop, delayed its requests).
 */
export function selectPrunableSql(scope: RetentionScope): string {
  return `
WITH win AS MATERIALIZED (
  SELECT e.id, e.received_at FROM aqueduct_events e
   WHERE e.received_at < $1 AND (e.received_at, e.id) > ($3::timestamptz, $4::uuid)
   ORDER BY e.received_at, e.id
   LIMIT $2
), batch AS (
  SELECT e.id FROM aqueduct_events e
   WHERE e.id IN (SELECT id FROM win) AND ${prunable(scope)}
     FOR UPDATE OF e SKIP LOCKED
), last AS (
  SELECT received_at, id FROM win ORDER BY received_at DESC, id DESC LIMIT 1
)
SELECT (SELECT count(*) FROM win)::int AS scanned,
       (SELECT received_at::text FROM last) AS "lastAt", (SELECT id::text FROM last) AS "lastId",
       (SELECT count(*) FROM batch)::int AS selected,
       (SELECT coalesce(array_agg(id), '{}')::text FROM batch) AS ids`;
}

/**
 * Locks the batch's deliveries (`$1`), waiting for a replay or redrive of one of them that is being
 * written, and reads each as it is once locked (in READ COMMITTED, a row that was waited for is
 * read again at its committed version): `kept` lists the events a delivery keeps after all. No
 * delivery can be added to a locked event until the batch commits (its insert waits on the event's
 * lock), so these are all of the batch's deliveries.
 */
export function lockDeliveriesSql(scope: RetentionScope): string {
  return `
SELECT count(*)::int AS locked,
       coalesce(array_agg(DISTINCT event_id) FILTER (WHERE keeps), '{}')::text AS kept
  FROM (SELECT event_id, state IN (${KEEPING_STATES(scope.includeDead)}) AS keeps
          FROM aqueduct_deliveries WHERE event_id = ANY($1::uuid[]) FOR UPDATE) locked`;
}

/**
 * Deletes the batch's events (`$1`) but those a delivery keeps (`$2`, from the lock above) and those
 * the ledger still needs (`$3`: the cutoff); their deliveries go with them (ON DELETE CASCADE). The rest of what made
 * them prunable cannot have changed: the events are locked since they were chosen. The ids to
 * delete are one array computed in the statement: given the batch's array and a `<> ALL` filter,
 * Postgres estimated a sequential scan of the table cheaper than 5,000 primary-key probes (80 ms
 * against 22 ms on 200,000 rows). Counts events only: the deliveries were counted when locked.
 */
export const DELETE_BATCH_SQL = `
WITH gone AS (
  DELETE FROM aqueduct_events e
   WHERE e.id = ANY(ARRAY(SELECT unnest($1::uuid[]) EXCEPT ALL SELECT unnest($2::uuid[])))
     AND ${unreferencedByLedger('$3::timestamptz')}
  RETURNING 1
)
SELECT count(*)::int AS events FROM gone`;

/**
 * The deliveries still there of the batch's events (`$1`), after the delete: those of the events
 * it kept.
 */
export const COUNT_KEPT_DELIVERIES_SQL = `
SELECT count(*)::int AS n FROM aqueduct_deliveries WHERE event_id = ANY($1::uuid[])`;
