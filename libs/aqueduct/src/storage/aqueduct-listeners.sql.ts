/**
 * The listener register (`aqueduct_listeners`, see the migration RegisterAqueductListeners): for
 * each listener and event type it takes, when the pair first appeared, how far the events received
 * since were given to it, and when an instance last ran it.
 */

/** The event type of a pair whose listener takes every type. */
export const ANY_TYPE = '*';

/**
 * How long the mark waits for a write still open: the module's writes last milliseconds; a host's
 * transaction open for hours (a report, a migration) must not make every look read hours again.
 */
const OPEN_WRITE_WAIT = '10 minutes';

/**
 * Registers the pairs (`$1` names, `$2` event types, in step) and says of each whether it appeared
 * less than `$3` ms ago: one a rolling deploy may still be adding. A pair no instance ran for `$4`
 * ms appears again now (a listener, or a type, a release took away and a later one gives back).
 * Into an empty register, the pairs count as there since always: a first install, or the first
 * start of the release that brought the register; either way they are not new to the instances
 * already running (without this, every listener would look new for a day, and each look would
 * read every event received meanwhile). Sorted, so that two instances lock the rows in one order.
 * In the same statement, records the instance `$5` as running these pairs now, and forgets
 * instances not seen for `$6` ms (they stopped without a word: a crash).
 */
export const REGISTER_LISTENERS_SQL = `
WITH instance AS (
  INSERT INTO aqueduct_instances (id, names, event_types) VALUES ($5, $1::text[], $2::text[])
  ON CONFLICT (id) DO UPDATE SET names = EXCLUDED.names, event_types = EXCLUDED.event_types,
                                 seen_at = now()
), gone AS (
  DELETE FROM aqueduct_instances WHERE seen_at < now() - $6::int * interval '1 millisecond'
)
INSERT INTO aqueduct_listeners AS l (name, event_type, first_seen_at)
SELECT p.name, p.event_type,
       CASE WHEN EXISTS (SELECT 1 FROM aqueduct_listeners) THEN now() ELSE '-infinity' END
  FROM unnest($1::text[], $2::text[]) AS p(name, event_type)
 ORDER BY p.name, p.event_type
ON CONFLICT (name, event_type) DO UPDATE SET
  first_seen_at = CASE WHEN l.last_seen_at < now() - $4::int * interval '1 millisecond'
                       THEN now() ELSE l.first_seen_at END,
  caught_up_to = CASE WHEN l.last_seen_at < now() - $4::int * interval '1 millisecond'
                      THEN now() ELSE l.caught_up_to END,
  last_seen_at = now()
RETURNING l.name, l.event_type AS "eventType",
          l.first_seen_at > now() - $3::int * interval '1 millisecond' AS young`;

/**
 * Gives the listener `$1` the accepted events of the type `$2` (null: every type) received since
 * its pair was caught up to (less `$3` ms of slack), and not before it first appeared, that have
 * no delivery for it: those instances without it took. Then moves the mark to now, or to the start
 * of the oldest transaction still writing (in this database, up to `OPEN_WRITE_WAIT` back),
 * whichever is earlier: an event's arrival is its transaction's start, and one still open may
 * commit an event that arrived before now. The pair's
 * row is locked first, so two instances catching it up take turns; `ON CONFLICT` covers an
 * instance that received the event with the listener. Returns how many it created.
 */
export const CATCH_UP_SQL = `
WITH mark AS (
  SELECT greatest(first_seen_at, caught_up_to - $3::int * interval '1 millisecond') AS since
    FROM aqueduct_listeners WHERE name = $1 AND event_type = coalesce($2, '${ANY_TYPE}') FOR UPDATE
), created AS (
  INSERT INTO aqueduct_deliveries (event_id, listener)
  SELECT e.id, $1 FROM aqueduct_events e, mark
   WHERE e.received_at >= mark.since AND e.status = 'accepted'
     AND ($2::text IS NULL OR e.type = $2::text)
     AND NOT EXISTS (SELECT 1 FROM aqueduct_deliveries d WHERE d.event_id = e.id AND d.listener = $1)
  ON CONFLICT (event_id, listener) DO NOTHING
  RETURNING 1
), moved AS (
  UPDATE aqueduct_listeners SET caught_up_to = greatest(caught_up_to, least(now(), greatest(
    now() - interval '${OPEN_WRITE_WAIT}',
    coalesce((SELECT min(xact_start) FROM pg_stat_activity
               WHERE datname = current_database() AND backend_xid IS NOT NULL
                 AND pid <> pg_backend_pid()), now()))))
   WHERE name = $1 AND event_type = coalesce($2, '${ANY_TYPE}') AND EXISTS (SELECT 1 FROM mark)
)
SELECT count(*)::int AS created FROM created`;

/** An instance that stops runs nothing any longer. */
export const FORGET_INSTANCE_SQL = `DELETE FROM aqueduct_instances WHERE id = $1`;

/** The pairs the instances other than `$1` seen in the last `$2` ms run. */
export const LIVE_LISTENERS_SQL = `
SELECT DISTINCT p.name, p.event_type AS "eventType"
  FROM aqueduct_instances i, unnest(i.names, i.event_types) AS p(name, event_type)
 WHERE i.seen_at > now() - $2::int * interval '1 millisecond' AND i.id <> $1`;
