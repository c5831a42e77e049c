/**
 * Retention's statements. Which events may go is one predicate, written once and used by the
 * count (a dry run), the choice of a batch and the delete, which tests it again.
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

/** Takes retention's advisory lock (`$1`) until the transaction ends, unless another holds it. */
export const TRY_RETENTION_LOCK_SQL = `SELECT pg_try_advisory_xact_lock($1) AS won`;

/**
 * A delivery that keeps its event: not finished (due, running, or failed and waiting for its
 * retry), or also dead (given up on, waiting for a redrive) unless dead ones may go. The `OFFSET 0`
 * keeps Postgres from turning the test into a join: as a join, with statistics taken while the
 * backlog was empty, it read the whole backlog once per candidate event (minutes per batch with a
 * few hundred thousand pending deliveries); as a subplan it reads the event's own deliveries
 * through the primary key (event_id, listener), whatever the statistics say.
 */
const KEEPING_DELIVERY = (includeDead: boolean) => `EXISTS (SELECT 1 FROM aqueduct_deliveries d
  WHERE d.event_id = e.id AND d.state IN ('pending', 'active'${includeDead ? '' : ", 'dead'"})
  OFFSET 0)`;

/**
 * Events received before `$1` that nothing needs any more: every delivery `done` (or `dead`, when
 * included). Dismissed events may go; quarantined ones only when asked. Each test is an index
 * probe per candidate (the ledger's references have their own indexes), so a batch walks the
 * `(received_at, id)` index oldest first and stops at its limit.
 */
export function prunable(scope: RetentionScope): string {
  return `e.received_at < $1
   ${scope.includeQuarantined ? '' : `AND e.status <> 'quarantined'`}
   AND NOT ${KEEPING_DELIVERY(scope.includeDead)}
   AND NOT EXISTS (SELECT 1 FROM aqueduct_provisionings p WHERE p.last_event_id = e.id)
   AND NOT EXISTS (SELECT 1 FROM aqueduct_invoice_payments i WHERE i.event_id = e.id)`;
}

/** What a dry run reports: the events that would go, and their deliveries. */
export function countPrunableSql(scope: RetentionScope): string {
  return `
SELECT count(*) AS events,
       coalesce(sum((SELECT count(*) FROM aqueduct_deliveries d WHERE d.event_id = e.id)), 0) AS deliveries
  FROM aqueduct_events e
 WHERE ${prunable(scope)}`;
}

/**
 * One batch: the oldest `$2` prunable events (the `(received_at, id)` index, in order), locked.
 * SKIP LOCKED passes over an event another transaction holds (one being reprocessed, say). Their
 * ids come back as one array literal, which the next statements take back as it is: the app never
 * parses or serializes thousands of ids (that work, on the serving instance's event loop, delayed
 * its requests).
 */
export function selectPrunableSql(scope: RetentionScope): string {
  return `
SELECT count(*)::int AS selected, coalesce(array_agg(id), '{}')::text AS ids FROM (
  SELECT e.id FROM aqueduct_events e
   WHERE ${prunable(scope)}
   ORDER BY e.received_at, e.id
   LIMIT $2
     FOR UPDATE OF e SKIP LOCKED
) batch`;
}

/**
 * Locks the batch's deliveries (`$1`): waits for a replay or redrive of one of them that is
 * being written, so that the delete, a new statement with a new snapshot, sees it.
 */
export const LOCK_DELIVERIES_SQL = `
SELECT count(*) AS n FROM (
  SELECT 1 FROM aqueduct_deliveries WHERE event_id = ANY($1::uuid[]) FOR UPDATE
) locked`;

/**
 * Deletes the batch's events (`$2`) that are still prunable; their deliveries go with them
 * (ON DELETE CASCADE). Counts events only: the deliveries were counted when they were locked
 * (counting them again here cost a fifth of the statement).
 */
export function deletePrunableSql(scope: RetentionScope): string {
  return `
WITH gone AS (
  DELETE FROM aqueduct_events e
   WHERE e.id = ANY($2::uuid[]) AND ${prunable(scope)}
  RETURNING 1
)
SELECT count(*) AS events FROM gone`;
}

/**
 * The deliveries still there of the batch's events (`$1`), after the delete: those of the events
 * it kept (they became needed again while the batch waited for its locks).
 */
export const COUNT_KEPT_DELIVERIES_SQL = `
SELECT count(*) AS n FROM aqueduct_deliveries WHERE event_id = ANY($1::uuid[])`;
