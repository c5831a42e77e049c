import { DELIVERIES_CHANNEL } from './dispatch-signal';
import { appendToAttemptLog, attemptEntry, restartEntry } from './delivery-attempt-log';

/**
 * No run of the claimed delivery started before, anywhere: its first attempt, nothing in its log
 * (a retry, a replay or redrive, a retaken or handed-back run each leave an entry), and never
 * started (`started_at`, which replays and redrives keep: so this holds too for a delivery
 * restarted before the attempt log existed, and still waiting after the upgrade that added it).
 */
const FIRST_RUN = `d.attempts = 1 AND d.attempt_log = '[]'::jsonb AND c.started_before IS NULL AS first_run`;

/**
 * Claiming is one short statement: SKIP LOCKED lets every instance take different rows without
 * waiting on each other, and the lease (run_at = lease expiry while active) lets any instance
 * retake the work of one that died. Listeners run outside any transaction.
 *
 * Every statement that ends an attempt appends it to `attempt_log` in the same UPDATE (no extra
 * round trip on the hot path). Retaking an active row is how an attempt whose holder died ends:
 * the claim logs it as abandoned, with the old holder's number, start and id, before overwriting
 * them.
 */
const ABANDONED_ERROR = `'lease expired before the attempt finished (its process stopped or lost the database)'`;
export const CLAIM_SQL = `
UPDATE aqueduct_deliveries d
   SET state = 'active', attempts = d.attempts + 1, locked_by = $1,
       locked_until = now() + $2 * interval '1 millisecond', run_at = now() + $2 * interval '1 millisecond',
       started_at = now(),
       attempt_log = CASE WHEN d.state = 'active'
         THEN ${appendToAttemptLog('d.attempt_log', attemptEntry('d.', `'abandoned'`, ABANDONED_ERROR))}
         ELSE d.attempt_log END
  FROM (SELECT event_id, listener, started_at AS started_before FROM aqueduct_deliveries
         WHERE state IN ('pending', 'active') AND run_at <= now() AND listener = ANY($3::text[])
         ORDER BY run_at
         LIMIT $4
           FOR UPDATE SKIP LOCKED) c,
       aqueduct_events e
 WHERE d.event_id = c.event_id AND d.listener = c.listener AND e.id = d.event_id
RETURNING d.event_id, d.listener, d.attempts, e.type, e.created_at, e.received_at, e.payload,
          ${FIRST_RUN}`;

/**
 * Only the current lease holder may finish a delivery: a retaken lease fences the old owner out.
 * (`locked_by` is set only while active. Testing `state` here too would let the planner pick the
 * partial runnable index over the primary key, and scan the whole backlog for every completion.)
 */
const OWNED = `event_id = $1 AND listener = $2 AND locked_by = $3`;

/** The SET list of a delivery's `done`, recorded at `end`. */
const doneAt = (end: string) => `state = 'done', finished_at = ${end}, locked_by = NULL,
       locked_until = NULL, last_error = NULL,
       attempt_log = ${appendToAttemptLog('d.attempt_log', attemptEntry('d.', `'done'`, 'NULL', end))}`;

/**
 * Completions that finish together are recorded together: one statement, one commit. That commit
 * does not wait for its WAL to reach the disk (`synchronous_commit` off for this transaction only;
 * the WAL writer flushes it within 3 × `wal_writer_delay`, 600 ms by default): a `done` lost to a
 * Postgres crash in that window leaves the delivery active, and it runs again once its lease
 * expires, as after a crash of the app itself. Nothing is acknowledged on it, and listeners are
 * idempotent by contract (`idempotencyKey`). The wait it saves was a third of the completion's
 * time, and the flushes of many completions become one.
 */
export const COMPLETE_SQL = `
UPDATE aqueduct_deliveries d
   SET ${doneAt('now()')}
  FROM unnest($1::uuid[], $2::text[]) AS r(event_id, listener),
       (SELECT set_config('synchronous_commit', 'off', true)) AS unflushed
 WHERE d.event_id = r.event_id AND d.listener = r.listener AND d.locked_by = $3`;

/**
 * The `done` of one delivery written by its own listener's last transaction, with the listener's
 * work (`DeliveryFinish`): committed, and flushed, with it, in the round trip of that commit. At
 * the statement's own clock: the transaction started before the work it records.
 */
export const COMPLETE_WITHIN_SQL = `
UPDATE aqueduct_deliveries d SET ${doneAt('clock_timestamp()')} WHERE ${OWNED}`;

export const FAIL_SQL = `
UPDATE aqueduct_deliveries d
   SET state = CASE WHEN $5 THEN 'dead' ELSE 'pending' END,
       run_at = now() + $6 * interval '1 millisecond',
       finished_at = CASE WHEN $5 THEN now() END,
       last_error = $4, locked_by = NULL, locked_until = NULL,
       attempt_log = ${appendToAttemptLog(
         'd.attempt_log',
         attemptEntry('d.', `CASE WHEN $5 THEN 'dead' ELSE 'failed' END`, '$4::text'),
       )}
 WHERE ${OWNED}`;

/**
 * The deliveries `$1`/`$2` that this instance (`$3`) holds, locked, but those another statement
 * holds: those are being finished (their `done` or failure is being written), so need neither a
 * longer lease nor handing back. Waiting for them instead let a lease renewal (or a hand-back at
 * shutdown) and a batch of completions each hold a row the other wanted, and Postgres broke the
 * deadlock by failing one of them: done deliveries then ran again once their lease expired.
 */
const HELD_NOT_FINISHING = `(SELECT h.event_id, h.listener
          FROM aqueduct_deliveries h
          JOIN unnest($1::uuid[], $2::text[]) AS r(event_id, listener)
            ON h.event_id = r.event_id AND h.listener = r.listener
         WHERE h.locked_by = $3
           FOR UPDATE OF h SKIP LOCKED) held`;

/** Lease renewal, of the deliveries held and not being finished. */
export const EXTEND_SQL = `
UPDATE aqueduct_deliveries d
   SET locked_until = now() + $4 * interval '1 millisecond', run_at = now() + $4 * interval '1 millisecond'
  FROM ${HELD_NOT_FINISHING}
 WHERE d.event_id = held.event_id AND d.listener = held.listener`;

/**
 * Shutdown hands back what it did not finish: deliveries waiting in memory (never started) and
 * listeners still running after the shutdown timeout. Neither is the listener's failure, so the
 * attempt is given back to the retry budget (the next run reuses its number). It is still logged,
 * as `released`: a listener cut off mid-run may have done part of its work on this instance, and
 * the operator should see why the same attempt number then appears again on another. A listener
 * that finishes as the shutdown gives up on it is being recorded done: its row is skipped.
 */
export const RELEASE_SQL = `
UPDATE aqueduct_deliveries d
   SET state = 'pending', run_at = now(), locked_by = NULL, locked_until = NULL,
       attempts = greatest(d.attempts - 1, 0),
       attempt_log = ${appendToAttemptLog('d.attempt_log', attemptEntry('d.', `'released'`, 'NULL'))}
  FROM ${HELD_NOT_FINISHING}
 WHERE d.event_id = held.event_id AND d.listener = held.listener`;

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

export const DELIVERY_COLUMNS = `event_id || ':' || listener AS id, event_id AS "eventId", listener, state, attempts, run_at AS "runAt",
  last_error AS "lastError", created_at AS "createdAt", started_at AS "startedAt", finished_at AS "finishedAt",
  attempt_log AS "attemptLog"`;

export const LIST_SQL = `
SELECT ${DELIVERY_COLUMNS} FROM aqueduct_deliveries
 WHERE ($1::text IS NULL OR state = $1) AND ($2::text IS NULL OR listener = $2)
   AND ($3::uuid IS NULL OR event_id = $3) AND ($4::timestamptz IS NULL OR created_at >= $4)
 ORDER BY created_at DESC, event_id, listener LIMIT $5`;

/**
 * A replay: the event's existing deliveries (whoever created them: a replay from the CLI does not
 * know the app's listeners) plus this instance's listeners that have none yet (a backfill), each
 * started over unless it is running right now.
 */
export const REPLAY_SQL = `
INSERT INTO aqueduct_deliveries (event_id, listener)
SELECT $1, unnest($2::text[])
UNION SELECT event_id, listener FROM aqueduct_deliveries WHERE event_id = $1
ON CONFLICT (event_id, listener) DO UPDATE
  SET ${RESTART('replayed')}
  WHERE aqueduct_deliveries.state <> 'active'
RETURNING 1`;

export const REDRIVE_SQL = `
UPDATE aqueduct_deliveries SET ${RESTART('redriven')}
 WHERE event_id = $1::uuid AND listener = $2 AND state IN ('dead', 'done')`;

export const REDRIVE_DEAD_SQL = `
UPDATE aqueduct_deliveries SET ${RESTART('redriven')}
 WHERE state = 'dead' AND ($1::text IS NULL OR listener = $1)`;

/** An event's first deliveries, when it is accepted after the fact (a reprocessed event). */
export const CREATE_FOR_EVENT_SQL = `
INSERT INTO aqueduct_deliveries (event_id, listener) SELECT $1, unnest($2::text[])
ON CONFLICT (event_id, listener) DO NOTHING RETURNING 1`;

/**
 * The deliveries by state, and the oldest due one, of the listeners `$1` (null: of all). Counting
 * the done deliveries reads every row of the table: for an operator's look, never for a probe.
 */
export const COUNTS_SQL = `
SELECT count(*) FILTER (WHERE state = 'pending')::int AS pending,
       count(*) FILTER (WHERE state = 'active')::int AS active,
       count(*) FILTER (WHERE state = 'done')::int AS done,
       count(*) FILTER (WHERE state = 'dead')::int AS dead,
       count(*) FILTER (WHERE state = 'dead' AND ($1::text[] IS NULL OR listener = ANY($1::text[])))::int
         AS "deadOfListeners",
       (SELECT min(run_at) FROM aqueduct_deliveries
         WHERE state = 'pending' AND run_at <= now()
           AND ($1::text[] IS NULL OR listener = ANY($1::text[]))) AS "oldestPendingSince"
  FROM aqueduct_deliveries`;

/**
 * Each count from its partial index: cheap however many done deliveries the table holds, so pages
 * and health probes can read it on every request. `deadOfListeners` and `oldestPendingSince` are
 * those of the listeners `$1` (null: of all).
 */
export const BACKLOG_SQL = `
SELECT (SELECT count(*) FROM aqueduct_deliveries WHERE state IN ('pending', 'active') AND state = 'pending')::int AS pending,
       (SELECT count(*) FROM aqueduct_deliveries WHERE state IN ('pending', 'active') AND state = 'active')::int AS active,
       dead.all::int AS dead,
       dead.listed::int AS "deadOfListeners",
       (SELECT min(run_at) FROM aqueduct_deliveries
         WHERE state = 'pending' AND run_at <= now()
           AND ($1::text[] IS NULL OR listener = ANY($1::text[]))) AS "oldestPendingSince",
       (SELECT count(*) FROM aqueduct_events WHERE status = 'quarantined')::int AS quarantined
  FROM (SELECT count(*) AS all,
               count(*) FILTER (WHERE $1::text[] IS NULL OR listener = ANY($1::text[])) AS listed
          FROM aqueduct_deliveries WHERE state = 'dead') AS dead`;

/** The deliveries of every event, of one event, or of the events naming one customer. */
export const DELIVERIES_IN_SCOPE_SQL = `
SELECT d.event_id || ':' || d.listener AS id, d.state
  FROM aqueduct_deliveries d JOIN aqueduct_events e ON e.id = d.event_id
 WHERE ($1::uuid IS NULL AND $2::text IS NULL OR e.id = $1::uuid OR (e.payload -> 'object' ->> 'customerId') = $2)`;

export const NOTIFY_DELIVERIES_SQL = `SELECT pg_notify('${DELIVERIES_CHANNEL}', '')`;

/**
 * Payload prefix of a notification naming an event accepted after it was stored (a reprocess):
 * every dispatching instance creates the deliveries of its own listeners (`$1`: the event id).
 */
export const ACCEPTED_EVENT_PREFIX = 'accepted:';
export const NOTIFY_ACCEPTED_SQL = `SELECT pg_notify('${DELIVERIES_CHANNEL}', '${ACCEPTED_EVENT_PREFIX}' || $1)`;

/** The type of an accepted event (nothing for any other). */
export const ACCEPTED_TYPE_SQL = `SELECT type FROM aqueduct_events WHERE id = $1 AND status = 'accepted'`;
