/**
 * The listener register (`aqueduct_listeners`, see the migration RegisterAqueductListeners): when
 * each listener first appeared, and how far the events received since were given to it.
 */

/**
 * Registers the listeners `$1` (a name already there keeps when it first appeared), and says of
 * each whether it appeared less than `$2` ms ago: one a rolling deploy may still be adding. Into
 * an empty register, they are registered as there since always: that is a first install, or the
 * first start of the release that brought the register, and either way the listeners are not new
 * to the instances already running (without this, every listener would look new for a day, and
 * its look every minute would read every event received meanwhile).
 */
export const REGISTER_LISTENERS_SQL = `
INSERT INTO aqueduct_listeners AS l (name, first_seen_at)
SELECT name, CASE WHEN EXISTS (SELECT 1 FROM aqueduct_listeners) THEN now() ELSE '-infinity' END
  FROM unnest($1::text[]) AS name
ON CONFLICT (name) DO UPDATE SET name = l.name
RETURNING l.name, l.first_seen_at > now() - $2::int * interval '1 millisecond' AS young`;

/**
 * Gives the listener `$1` the accepted events of its types (`$2`, null: every type) received since
 * it was caught up to (less `$3` ms: an intake still committing then), and not before it first
 * appeared, that have no delivery for it: those instances without it took. Then moves its mark to that moment. The register's row is
 * locked first, so two instances catching up one listener take turns; `ON CONFLICT` covers an
 * instance that received the event with the listener. Returns how many it created.
 */
export const CATCH_UP_SQL = `
WITH mark AS (
  SELECT greatest(first_seen_at, caught_up_to - $3::int * interval '1 millisecond') AS since
    FROM aqueduct_listeners WHERE name = $1 FOR UPDATE
), created AS (
  INSERT INTO aqueduct_deliveries (event_id, listener)
  SELECT e.id, $1 FROM aqueduct_events e, mark
   WHERE e.received_at >= mark.since AND e.status = 'accepted'
     AND ($2::text[] IS NULL OR e.type = ANY($2::text[]))
     AND NOT EXISTS (SELECT 1 FROM aqueduct_deliveries d WHERE d.event_id = e.id AND d.listener = $1)
  ON CONFLICT (event_id, listener) DO NOTHING
  RETURNING 1
), moved AS (
  UPDATE aqueduct_listeners SET caught_up_to = greatest(caught_up_to, now())
   WHERE name = $1 AND EXISTS (SELECT 1 FROM mark)
)
SELECT count(*)::int AS created FROM created`;
