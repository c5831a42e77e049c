/** Takes the lock of one invoice or provisioning (`$2`, in the class `$1`) until the transaction ends. */
export const LOCK_KEY_SQL = `SELECT pg_advisory_xact_lock($1, hashtext($2))`;

/**
 * Takes the lock of the invoice a provisioning (`$2`, its key) has, when it has one, in the class
 * `$1`: as LOCK_KEY_SQL would for that invoice.
 */
export const LOCK_STORED_INVOICE_SQL = `SELECT pg_advisory_xact_lock($1, hashtext(invoice_id))
  FROM aqueduct_provisionings WHERE key = $2 AND invoice_id IS NOT NULL`;

/** Takes an advisory lock (`$1`) until the transaction ends, unless another holds it. */
export const TRY_LOCK_SQL = `SELECT pg_try_advisory_xact_lock($1) AS won`;

/** Locks a provisioning (`$1`, its key), when it exists, and tells whose it is. */
export const LOCK_PROVISIONING_SQL = `SELECT customer_id, product_id FROM aqueduct_provisionings WHERE key = $1 FOR UPDATE`;

/**
 * Whether a payment of `invoice` naming `named` pays the provisionings of `customer`: it names that
 * customer, or none
 * (''), or one with no provisioning of its invoice. Invoice ids are not promised unique across
 * customers, so a payment naming its customer pays no one else's provisioning; but the Invoice
 * object is not documented, and a `customerId` that names no provisioning of the invoice (another
 * kind of id) is not trusted to withhold one: that payment pays them all, as one naming none does.
 */
const paysCustomerOf = (
  invoice: string,
  named: string,
  customer: string,
) => `(${named} IN ('', ${customer})
  OR NOT EXISTS (SELECT 1 FROM aqueduct_provisionings n WHERE n.invoice_id = ${invoice} AND n.customer_id = ${named}))`;

/** The pairs of the provisionings of the invoice `$1` that a payment naming `$2` ('' or a customer) pays. */
export const PAIRS_OF_INVOICE_SQL = `SELECT DISTINCT customer_id, product_id FROM aqueduct_provisionings
  WHERE invoice_id = $1 AND ${paysCustomerOf('$1', '$2::text', 'customer_id')}`;

/** Records an invoice's first payment naming `$2` ('' or a customer); a later one returns no row. */
export const RECORD_PAYMENT_SQL = `INSERT INTO aqueduct_invoice_payments (invoice_id, customer_id, paid_at, event_id)
  VALUES ($1, $2, $3, $4) ON CONFLICT (invoice_id, customer_id) DO NOTHING RETURNING 1`;

/** Joins the first payment that pays the provisioning aliased `p` (`paysCustomerOf`), as `pay.paid_at`. */
export const joinPayment = (p: string) => `LEFT JOIN LATERAL (
    SELECT min(i.paid_at) AS paid_at FROM aqueduct_invoice_payments i
     WHERE i.invoice_id = ${p}.invoice_id
       AND ${paysCustomerOf('i.invoice_id', 'i.customer_id', `${p}.customer_id`)}) pay ON true`;

/** What the ledger reads of an access row (not the adapter's columns: they are the reconciler's). */
const LEDGER_COLUMNS = `id, customer_id, product_id, status, has_access, since, access_until, paid_until,
  orgs, timeline, awaiting_payment, next_check_at, announced_status, announced_until, announced_orgs,
  announce_seq, last_transition, loss_observed_at, evaluated_at`;

/** Locks the access rows of the pairs `pairs` (a query of customer, product) in one order. */
const lockAccessOf = (pairs: string) => `
SELECT ${LEDGER_COLUMNS} FROM aqueduct_access
 WHERE (customer_id, product_id) IN (${pairs})
 ORDER BY customer_id, product_id
   FOR UPDATE`;

export const LOCK_ACCESS_SQL = lockAccessOf('SELECT * FROM unnest($1::text[], $2::text[])');

/**
 * Locks the existing access rows of the pairs `wanted` (a query of customer, product) in one
 * order and creates the missing ones, in one round trip (most writes are about one pair, which
 * either exists or is new). A row this statement inserted is the transaction's own until it
 * commits (a concurrent insert of the same pair waits on the unique index), so it needs no second
 * lock. A pair another transaction inserted first, unseen by this statement's snapshot, returns
 * nothing: the caller then locks them all again.
 */
const lockOrCreateAccess = (wanted: string) => `
WITH wanted AS (${wanted}
), locked AS (${lockAccessOf('SELECT * FROM wanted')}
), created AS (
  INSERT INTO aqueduct_access (customer_id, product_id)
  SELECT * FROM wanted w
   WHERE NOT EXISTS (
     SELECT 1 FROM locked l WHERE l.customer_id = w.customer_id AND l.product_id = w.product_id)
   ORDER BY 1, 2
  ON CONFLICT (customer_id, product_id) DO NOTHING
  RETURNING ${LEDGER_COLUMNS}
)
SELECT * FROM locked UNION ALL SELECT * FROM created`;

/** The pairs given as two arrays (`$1` customers, `$2` products). */
export const LOCK_OR_CREATE_ACCESS_SQL = lockOrCreateAccess(
  'SELECT * FROM unnest($1::text[], $2::text[]) AS w(customer_id, product_id)',
);

/**
 * The pairs a provisioning event (`$3`, its key) is about: its own (`$1`, `$2`) and the one the
 * provisioning was under until now, as the statement's snapshot finds it.
 */
const provisioningPairs = (customer: string, product: string, key: string) =>
  `SELECT ${customer}::text AS customer_id, ${product}::text AS product_id
   UNION SELECT customer_id, product_id FROM aqueduct_provisionings WHERE key = ${key}`;

/**
 * LOCK_OR_CREATE_ACCESS_SQL for the pairs of a provisioning event, which it finds itself: it runs
 * in the transaction's first round trip, once the provisioning's lock is held.
 */
export const LOCK_OR_CREATE_PROVISIONED_SQL = lockOrCreateAccess(
  provisioningPairs('$1', '$2', '$3'),
);

/**
 * The due rows, oldest first, through the partial index (rows being written elsewhere are skipped),
 * each with its provisionings as one JSON array (orgs as `provisioningColumns` reads them, from
 * `$3` on): one round trip for the expiry job's batch.
 */
export const LOCK_DUE_SQL = `
WITH due AS (
  SELECT ${LEDGER_COLUMNS} FROM aqueduct_access
   WHERE next_check_at <= $1
   ORDER BY next_check_at
   LIMIT $2
     FOR UPDATE SKIP LOCKED
)
SELECT due.*, (
  SELECT coalesce(json_agg(json_build_object(
           'key', p.key, 'startDate', p.start_date, 'endDate', p.end_date,
           'accessUntil', p.access_until, 'invoiceId', p.invoice_id,
           'orgs', CASE WHEN $3::timestamptz < p.access_until THEN p.orgs END,
           'paidAt', pay.paid_at)), '[]')
    FROM aqueduct_provisionings p
    ${joinPayment('p')}
   WHERE p.customer_id = due.customer_id AND p.product_id = due.product_id
) AS provisionings
FROM due`;

/**
 * What the ledger reads of a provisioning (alias `p`) and its payment (`pay`). Orgs only for those
 * that may grant access at any moment from `from` on (a window never lasts past `access_until`):
 * a long history costs its dates, not its users. The seats the stored timeline carries from then
 * on come from them (`seatedTimeline`), on every path alike.
 */
const provisioningColumns = (
  p: string,
  from: string,
) => `${p}.key, ${p}.customer_id, ${p}.product_id,
  ${p}.start_date, ${p}.end_date, ${p}.access_until, ${p}.invoice_id,
  CASE WHEN ${from}::timestamptz < ${p}.access_until THEN ${p}.orgs END AS orgs,
  pay.paid_at`;

/** A provisioning's "never named" (see the migration TrackAqueductProvisioningOmissions). */
const NEVER = `'-infinity'::timestamptz`;

/**
 * When a provisioning's grace period or orgs (`what`) were last named, and by an event of which
 * rank (the order of two events with one envelope time): a row stored before this was kept
 * (null) counts its last event.
 */
const namedAt = (what: 'grace' | 'orgs') => `coalesce(p.${what}_named_at, p.last_event_at)`;
const namedRank = (what: 'grace' | 'orgs') => `coalesce(p.${what}_named_rank, p.last_event_rank)`;
/** Whether the event (`$6` time, `$7` rank) is newer than the one that last named `what`. */
const newerThanNamed = (what: 'grace' | 'orgs') =>
  `($6::timestamptz, $7::integer) > (${namedAt(what)}, ${namedRank(what)})`;

/**
 * Fills in, from an event (`$1`, the key) older (envelope time `$6`, rank `$7`) than the last one
 * applied to its provisioning, what the newer ones left out and no event newer than this one (by
 * time, then rank) named: the grace period (`$2`: named; `$3` its end, `$4` the event's end date),
 * as a length from the provisioning's end date as it stands, and the orgs (`$5`, null when not
 * named). Applied in their
 * order, the newer events would have kept them (an event that leaves them out keeps them): so an
 * early end that names no grace, arriving before its start's retry, still gets the start's grace
 * and users. Runs before UPSERT_PROVISIONING_SQL, whose read then sees it; an event that is newer,
 * repeated or that names neither changes nothing here.
 */
export const FILL_PROVISIONING_SQL = `
WITH fill AS (
  SELECT p.key,
         $2 AND ${newerThanNamed('grace')} AS grace,
         $5::jsonb IS NOT NULL AND ${newerThanNamed('orgs')} AS orgs
    FROM aqueduct_provisionings p
   WHERE p.key = $1 AND ($6::timestamptz, $7::integer) < (p.last_event_at, p.last_event_rank)
)
UPDATE aqueduct_provisionings p SET
  grace_period_end_date = CASE WHEN f.grace
    THEN p.end_date + ($3::timestamptz - $4::timestamptz) ELSE p.grace_period_end_date END,
  access_until = CASE WHEN f.grace
    THEN greatest(p.end_date, p.end_date + ($3::timestamptz - $4::timestamptz)) ELSE p.access_until END,
  grace_named_at = CASE WHEN f.grace THEN $6::timestamptz ELSE p.grace_named_at END,
  grace_named_rank = CASE WHEN f.grace THEN $7::integer ELSE p.grace_named_rank END,
  orgs = CASE WHEN f.orgs THEN $5::jsonb ELSE p.orgs END,
  orgs_named_at = CASE WHEN f.orgs THEN $6::timestamptz ELSE p.orgs_named_at END,
  orgs_named_rank = CASE WHEN f.orgs THEN $7::integer ELSE p.orgs_named_rank END,
  updated_at = now()
  FROM fill f
 WHERE p.key = f.key AND (f.grace OR f.orgs)`;

/**
 * Inserts the provisioning or, only when this event is newer (envelope time, then rank) than the
 * last one applied, replaces what it says (an older or repeated event changes nothing); and, in the
 * same statement, reads the provisionings of the pairs it concerns (its own, `$3` and `$4`, and the
 * one it was under until now), with the orgs of those that may grant access from `$19` on. It runs
 * in the transaction's first round trip, after the locks, so the caller's evaluation moment (read
 * once they are held) is not known yet. The statement's snapshot does not see its own write, so the
 * written row comes from RETURNING (`applied`) and stands in for the version the table held. Orgs
 * given as null (`$13`: the event named none) keep the provisioning's. An event that leaves out
 * the grace period (`$20` false) keeps its length, from its own end date (an end that omits it is
 * not taking the grace away); one that leaves out the contract dates, or the invoice (`$21` false),
 * keeps them. When each of the grace period and the orgs was last named is kept (see
 * FILL_PROVISIONING_SQL).
 */
export const UPSERT_PROVISIONING_SQL = `
WITH upserted AS (
INSERT INTO aqueduct_provisionings AS p
  (key, provisioning_id, customer_id, product_id, subscription_id, invoice_id, start_date, end_date,
   grace_period_end_date, contract_start_date, contract_end_date, access_until, orgs, metadata,
   last_event_id, last_event_type, last_event_at, last_event_rank, grace_named_at, orgs_named_at,
   grace_named_rank, orgs_named_rank)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, coalesce($13::jsonb, '[]'), $14::jsonb, $15, $16, $17, $18,
        CASE WHEN $20 THEN $17 ELSE ${NEVER} END, CASE WHEN $13::jsonb IS NULL THEN ${NEVER} ELSE $17 END,
        $18, $18)
ON CONFLICT (key) DO UPDATE SET
  provisioning_id = EXCLUDED.provisioning_id, customer_id = EXCLUDED.customer_id,
  product_id = EXCLUDED.product_id, subscription_id = EXCLUDED.subscription_id,
  invoice_id = CASE WHEN $21 THEN EXCLUDED.invoice_id ELSE p.invoice_id END,
  start_date = EXCLUDED.start_date, end_date = EXCLUDED.end_date,
  grace_period_end_date = CASE WHEN $20 THEN EXCLUDED.grace_period_end_date
    ELSE EXCLUDED.end_date + (p.grace_period_end_date - p.end_date) END,
  contract_start_date = coalesce(EXCLUDED.contract_start_date, p.contract_start_date),
  contract_end_date = coalesce(EXCLUDED.contract_end_date, p.contract_end_date),
  access_until = CASE WHEN $20 THEN EXCLUDED.access_until
    ELSE greatest(EXCLUDED.end_date, EXCLUDED.end_date + (p.grace_period_end_date - p.end_date)) END,
  orgs = coalesce($13::jsonb, p.orgs), metadata = EXCLUDED.metadata,
  grace_named_at = CASE WHEN $20 THEN EXCLUDED.last_event_at ELSE ${namedAt('grace')} END,
  grace_named_rank = CASE WHEN $20 THEN EXCLUDED.last_event_rank ELSE ${namedRank('grace')} END,
  orgs_named_at = CASE WHEN $13::jsonb IS NULL THEN ${namedAt('orgs')} ELSE EXCLUDED.last_event_at END,
  orgs_named_rank = CASE WHEN $13::jsonb IS NULL THEN ${namedRank('orgs')} ELSE EXCLUDED.last_event_rank END,
  last_event_id = EXCLUDED.last_event_id, last_event_type = EXCLUDED.last_event_type,
  last_event_at = EXCLUDED.last_event_at, last_event_rank = EXCLUDED.last_event_rank, updated_at = now()
WHERE (EXCLUDED.last_event_at, EXCLUDED.last_event_rank) > (p.last_event_at, p.last_event_rank)
RETURNING p.key, p.customer_id, p.product_id, p.start_date, p.end_date, p.access_until, p.invoice_id, p.orgs
)
SELECT true AS applied, ${provisioningColumns('u', '$19')}
  FROM upserted u
  ${joinPayment('u')}
UNION ALL
SELECT false AS applied, ${provisioningColumns('p', '$19')}
  FROM aqueduct_provisionings p
  ${joinPayment('p')}
 WHERE (p.customer_id, p.product_id) IN (${provisioningPairs('$3', '$4', '$1')})
   AND NOT EXISTS (SELECT 1 FROM upserted u WHERE u.key = p.key)`;

/**
 * The provisionings of the given pairs, with their payments, and the orgs of any that may grant
 * access from `$3` on: a row is evaluated at its last evaluation when that is later than the
 * caller's clock (an instance whose clock is behind), and a window opening in between must bring
 * its users.
 */
export const PROVISIONINGS_SQL = `
SELECT ${provisioningColumns('p', '$3')}
  FROM aqueduct_provisionings p
  ${joinPayment('p')}
 WHERE (p.customer_id, p.product_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))`;

/**
 * One statement for a batch; a null jsonb column (they are NOT NULL in the table) keeps its value.
 * The rows' ids also come as an array (`$2`): the planner takes a function's output for 100 rows,
 * and joining 100 rows to a table of fewer than ~13,000 reads the whole table; `id = ANY` of a
 * known array goes through the primary key at any size.
 */
export const UPDATE_ACCESS_SQL = `
UPDATE aqueduct_access a SET
  status = v.status, has_access = v.has_access, since = v.since, access_until = v.access_until,
  paid_until = v.paid_until, orgs = coalesce(v.orgs, a.orgs), timeline = coalesce(v.timeline, a.timeline),
  awaiting_payment = v.awaiting_payment, next_check_at = v.next_check_at, evaluated_at = v.evaluated_at,
  announced_status = v.announced_status, announced_until = v.announced_until,
  announced_orgs = coalesce(v.announced_orgs, a.announced_orgs), announce_seq = v.announce_seq,
  last_transition = v.last_transition, loss_observed_at = v.loss_observed_at,
  version = a.version + 1, updated_at = now()
  FROM jsonb_to_recordset($1::jsonb) AS v(
    id uuid, status text, has_access boolean, since timestamptz, access_until timestamptz,
    paid_until timestamptz, orgs jsonb, timeline jsonb, awaiting_payment boolean,
    next_check_at timestamptz, evaluated_at timestamptz, announced_status text,
    announced_until timestamptz, announced_orgs jsonb, announce_seq integer, last_transition text,
    loss_observed_at timestamptz)
 WHERE a.id = ANY($2::uuid[]) AND a.id = v.id`;
