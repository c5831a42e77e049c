/** How one run of a listener on one delivery ended. */
export type DeliveryAttemptOutcome =
  /** The listener returned. */
  | 'done'
  /** The listener threw; a retry is scheduled. */
  | 'failed'
  /** The listener threw on its last allowed attempt (or its lease expired too often): dead-lettered. */
  | 'dead'
  /** The lease expired without a result (the process running it died or lost the database); retaken. */
  | 'abandoned'
  /** Handed back unfinished when its instance shut down; not counted against the retry budget. */
  | 'released';

/** One attempt in a delivery's `attemptLog`. Times are ISO 8601 (UTC) from Postgres's clock. */
export interface DeliveryAttemptRun {
  /** The attempt's number in its run, as the listener saw it in `context.attempt`. */
  attempt: number;
  outcome: DeliveryAttemptOutcome;
  startedAt: string | null;
  /** When the result was recorded (for `abandoned`: when another instance retook the lease). */
  finishedAt: string;
  durationMs: number | null;
  /** The error, truncated like `lastError`; null unless `failed`, `dead` or `abandoned`. */
  error: string | null;
  /** The instance that held the delivery (its dispatcher's id). */
  instance: string | null;
}

/** Where an operator started the delivery over: attempt numbers restart at 1 after it. */
export interface DeliveryRestart {
  outcome: 'replayed' | 'redriven';
  at: string;
}

/** An entry of a delivery's `attemptLog`: an attempt, or a replay/redrive marker. Oldest first. */
export type DeliveryAttempt = DeliveryAttemptRun | DeliveryRestart;

/** An attempt, as opposed to a replay/redrive marker. */
export const isAttemptRun = (entry: DeliveryAttempt): entry is DeliveryAttemptRun =>
  'attempt' in entry;

/**
 * Entries kept per delivery: the oldest go first, so a delivery retried (or replayed) forever
 * keeps a row of bounded size. With errors capped at 2,000 characters this is at most ~45 kB.
 */
export const ATTEMPT_LOG_LIMIT = 20;

/** `expr` (a timestamptz) as `2025-11-22T10:15:03.123Z`, whatever the session's time zone. */
export const isoTime = (expr: string) =>
  `to_char(${expr} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/**
 * SQL for `log` with `entry` (a jsonb object expression) appended, keeping the last
 * ATTEMPT_LOG_LIMIT entries. The trim only runs once a log is full, so the usual append is one
 * concatenation; it trims to the limit even if the limit was lowered since the log was written.
 */
export function appendToAttemptLog(log: string, entry: string): string {
  return `(CASE WHEN jsonb_array_length(${log}) < ${ATTEMPT_LOG_LIMIT} THEN ${log}
      ELSE jsonb_path_query_array(${log}, '$[last - ${ATTEMPT_LOG_LIMIT - 2} to last]') END)
    || jsonb_build_array(${entry})`;
}

/**
 * The entry of an attempt that started at the row's `started_at` and ends at `end` (the
 * statement's transaction's start by default), held by the row's `locked_by`. Meant for an
 * UPDATE's SET list, where columns read the row as it was before.
 */
export function attemptEntry(row: string, outcome: string, error: string, end = 'now()'): string {
  return `jsonb_build_object('attempt', ${row}attempts, 'outcome', ${outcome},
      'startedAt', ${isoTime(`${row}started_at`)}, 'finishedAt', ${isoTime(end)},
      'durationMs', round(extract(epoch FROM ${end} - ${row}started_at) * 1000)::int,
      'error', ${error}, 'instance', ${row}locked_by)`;
}

/** The entry marking a replay or redrive. */
export function restartEntry(outcome: DeliveryRestart['outcome']): string {
  return `jsonb_build_object('outcome', '${outcome}', 'at', ${isoTime('now()')})`;
}
