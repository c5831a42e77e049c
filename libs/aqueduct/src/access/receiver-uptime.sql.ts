import type { DataSource } from 'typeorm';

/** What a beat or a read of the receiver's record returns. */
export interface UptimeRecord {
  /** The newest beat before this one (by any instance), by the module's clock, in ms; null before the first. */
  seenAt: number | null;
  /** How long ago, by Postgres's clock, that beat was (ms). */
  sinceMs: number | null;
  /** The gaps kept, as `[from, until, …]` in ms, oldest first. */
  gaps: number[];
  /** The gap this beat recorded, if it found one: `[from, until]`. */
  recorded: [number, number] | null;
}

interface RecordRow {
  seen_at: Date | null;
  since_ms: number | null;
  gaps: [string, string][] | null;
  recorded: [string, string] | null;
}

/**
 * The gaps kept (`$1`: the oldest end kept; null: every one), oldest first, as a JSON array of
 * `[from, until]`.
 */
const KEPT_GAPS = `SELECT json_agg(json_build_array(from_at, until_at) ORDER BY from_at)
  FROM (SELECT from_at, until_at FROM aqueduct_receiver_gaps
         WHERE $1::timestamptz IS NULL OR until_at >= $1
        UNION ALL SELECT from_at, until_at FROM gap) kept`;

/** How long ago (ms, by Postgres's clock) a heartbeat row's beat was. */
const SINCE_MS = `(extract(epoch FROM now() - beat_at) * 1000)::float8`;

/**
 * One beat, in one statement: moves the heartbeat to `$2` (the module's clock) and Postgres's
 * `now()`; when the newest beat before it is older than `$4` ms by Postgres's clock (so a test
 * clock moved by days records nothing), and this instance cannot vouch for the time since (`$3`
 * false: it was not up and beating throughout), records the time between, by the module's clock,
 * as a gap. Two instances beating at once are serialised by the row lock: the second sees the
 * first's beat, and records nothing. Gaps whose end is older than `$1` are dropped.
 */
const BEAT_SQL = `WITH previous AS (
    SELECT seen_at, ${SINCE_MS} AS since_ms FROM aqueduct_receiver_heartbeat WHERE id = 1 FOR UPDATE
  ), beat AS (
    INSERT INTO aqueduct_receiver_heartbeat (id, seen_at, beat_at) VALUES (1, $2, now())
    ON CONFLICT (id) DO UPDATE SET seen_at = EXCLUDED.seen_at, beat_at = EXCLUDED.beat_at
  ), gap AS (
    INSERT INTO aqueduct_receiver_gaps (from_at, until_at)
    SELECT seen_at, $2 FROM previous WHERE NOT $3 AND since_ms > $4 AND seen_at < $2
    RETURNING from_at, until_at
  ), pruned AS (
    DELETE FROM aqueduct_receiver_gaps WHERE until_at < $1
  )
  SELECT (SELECT seen_at FROM previous) AS seen_at, (SELECT since_ms FROM previous) AS since_ms,
         (${KEPT_GAPS}) AS gaps, (SELECT json_build_array(from_at, until_at) FROM gap) AS recorded`;

/** The record as an instance that does not receive reads it: nothing written. */
const READ_SQL = `WITH gap AS (SELECT NULL::timestamptz AS from_at, NULL::timestamptz AS until_at WHERE false)
  SELECT h.seen_at, ${SINCE_MS} AS since_ms, (${KEPT_GAPS}) AS gaps, NULL::json AS recorded
    FROM (SELECT 1) one LEFT JOIN aqueduct_receiver_heartbeat h ON h.id = 1`;

/** A beat at `now`; `vouched`: this instance was up and beating since its previous beat. */
export async function beat(
  dataSource: DataSource,
  now: Date,
  vouched: boolean,
  gapAfterMs: number,
  keptSince: Date,
): Promise<UptimeRecord> {
  const [row]: RecordRow[] = await dataSource.query(BEAT_SQL, [
    keptSince,
    now,
    vouched,
    gapAfterMs,
  ]);
  return toRecord(row);
}

/**
 * The record, read without beating: every gap the receivers keep (they drop the old ones), so a
 * check of a past moment (the CLI's `--at`) finds the gaps around it.
 */
export async function readUptime(dataSource: DataSource): Promise<UptimeRecord> {
  const [row]: RecordRow[] = await dataSource.query(READ_SQL, [null]);
  return toRecord(row);
}

function toRecord(row: RecordRow): UptimeRecord {
  return {
    seenAt: row.seen_at ? new Date(row.seen_at).getTime() : null,
    sinceMs: row.since_ms,
    gaps: (row.gaps ?? []).flatMap(([from, until]) => [Date.parse(from), Date.parse(until)]),
    recorded: row.recorded ? [Date.parse(row.recorded[0]), Date.parse(row.recorded[1])] : null,
  };
}
