import type { DataSource } from 'typeorm';

/** The receiver's record, as read. */
export interface UptimeRecord {
  /** The newest beat (by any instance), by the module's clock, in ms; null before the first. */
  seenAt: number | null;
  /** How long before the read, by Postgres's clock, that beat was (ms). */
  sinceMs: number | null;
  /** The gaps kept, as `[from, until, …]` in ms, oldest first. */
  gaps: number[];
}

/** How long ago (ms, by Postgres's clock) the heartbeat row's beat was. */
const SINCE_MS = `(extract(epoch FROM now() - beat_at) * 1000)::float8`;

/**
 * One beat: moves the heartbeat to `$1` (the module's clock) and Postgres's `now()`; when the
 * beat before it is older than `$2` ms, by Postgres's clock, records the time between as a gap.
 * Measured by Postgres's clock, a gap is real time: a test clock moved by days records nothing, and
 * a beat sent before a partition and run after it heals records the partition. It is placed on the
 * module's clock, where the windows are: from the beat before, for as long as it really lasted. Two
 * instances beating at once are serialised by the row lock: the second finds the first's beat, and
 * records nothing. A gap that would end in the future by Postgres's clock is not recorded: the
 * beat before came from a clock running ahead (a test clock on a shared database), and it would
 * hold windows far from now. Gaps whose end is older than `$3` are dropped (by either clock: a
 * clock running ahead must not drop the gaps of now). Returns the gap recorded, if any.
 */
const BEAT_SQL = `WITH previous AS (
    SELECT seen_at, ${SINCE_MS} AS since_ms FROM aqueduct_receiver_heartbeat WHERE id = 1 FOR UPDATE
  ), beat AS (
    INSERT INTO aqueduct_receiver_heartbeat (id, seen_at, beat_at) VALUES (1, $1, now())
    ON CONFLICT (id) DO UPDATE SET seen_at = EXCLUDED.seen_at, beat_at = EXCLUDED.beat_at
  ), pruned AS (
    DELETE FROM aqueduct_receiver_gaps WHERE until_at < LEAST($3, now() - ($1 - $3))
  )
  INSERT INTO aqueduct_receiver_gaps (from_at, until_at)
  SELECT seen_at, until_at FROM previous, LATERAL (SELECT seen_at + since_ms * interval '1 millisecond' AS until_at) g
   WHERE since_ms > $2 AND until_at <= now() + $2 * interval '1 millisecond'
  RETURNING from_at, until_at`;

/**
 * The record: the newest beat, and every gap kept (the receivers drop the old ones, so a check of
 * a past moment, the CLI's `--at`, finds the gaps around it). Read in a statement of its own after
 * a beat: a beat that waited for another one's row lock reads the gap that one recorded.
 */
const READ_SQL = `SELECT h.seen_at, ${SINCE_MS} AS since_ms,
    (SELECT json_agg(json_build_array(from_at, until_at) ORDER BY from_at)
       FROM aqueduct_receiver_gaps) AS gaps
  FROM (SELECT 1) one LEFT JOIN aqueduct_receiver_heartbeat h ON h.id = 1`;

/**
 * Postgres gives up on a beat that waits this long (a lock held on the heartbeat, a migration):
 * a stuck beat must not keep a pooled connection, one more every 30 s.
 */
const BEAT_STATEMENT_TIMEOUT = '5s';

/** A beat at `now`; the gap it recorded (`[from, until]` in ms), if it found one. */
export function beat(
  dataSource: DataSource,
  now: Date,
  gapAfterMs: number,
  keptSince: Date,
): Promise<[number, number] | null> {
  return dataSource.transaction(async (manager) => {
    await manager.query(`SET LOCAL statement_timeout = '${BEAT_STATEMENT_TIMEOUT}'`);
    const [gap]: { from_at: Date; until_at: Date }[] = await manager.query(BEAT_SQL, [
      now,
      gapAfterMs,
      keptSince,
    ]);
    return gap ? [new Date(gap.from_at).getTime(), new Date(gap.until_at).getTime()] : null;
  });
}

/** The record, read without beating. */
export async function readUptime(dataSource: DataSource): Promise<UptimeRecord> {
  const [row]: {
    seen_at: Date | null;
    since_ms: number | null;
    gaps: [string, string][] | null;
  }[] = await dataSource.query(READ_SQL);
  return {
    seenAt: row.seen_at ? new Date(row.seen_at).getTime() : null,
    sinceMs: row.since_ms,
    gaps: (row.gaps ?? []).flatMap(([from, until]) => [Date.parse(from), Date.parse(until)]),
  };
}
