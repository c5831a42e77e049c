import type { EntityManager } from 'typeorm';
import type { ProvisioningDto, ProvisioningOrgDto } from '../events/provisioning.dto';
import type { AqueductEvent } from '../events/aqueduct-event.interface';
import type { AnnouncedStatus, EntitlementStatus } from '../events/access-status';
import type { ProvisioningDates } from './access-timeline';

/** A customer and a product: what access belongs to. */
export interface Pair {
  customerId: string;
  productId: string;
}

export const samePair = (a: Pair, b: Pair) =>
  a.customerId === b.customerId && a.productId === b.productId;

/** Advisory lock key of the expiry job: one instance sweeps at a time. */
export const SWEEP_LOCK = 7_310_420_002;
/** First key of the two-key advisory locks serialising the writes about one invoice. */
export const INVOICE_LOCK_CLASS = 73_104_201;
/** First key of the two-key advisory locks serialising adapter calls for one (customer, product). */
export const ADAPTER_LOCK_CLASS = 73_104_202;

/** An `aqueduct_access` row as Postgres returns it. */
export interface AccessRow {
  id: string;
  customer_id: string;
  product_id: string;
  status: EntitlementStatus;
  has_access: boolean;
  since: Date | null;
  access_until: Date | null;
  paid_until: Date | null;
  orgs: ProvisioningOrgDto[];
  timeline: { from: string; until: string; status: 'active' | 'grace' }[];
  awaiting_payment: boolean;
  next_check_at: Date | null;
  evaluated_at: Date | null;
  announced_status: AnnouncedStatus;
  announced_until: Date | null;
  announced_orgs: ProvisioningOrgDto[];
  announce_seq: number;
  last_transition: string | null;
  loss_observed_at: Date | null;
  provisioned: boolean;
  provisioned_orgs: ProvisioningOrgDto[] | null;
  adapter_seq: number;
}

/** What the ledger reads of an access row (not the adapter's columns: they are the reconciler's). */
const LEDGER_COLUMNS = `id, customer_id, product_id, status, has_access, since, access_until, paid_until,
  orgs, timeline, awaiting_payment, next_check_at, announced_status, announced_until, announced_orgs,
  announce_seq, last_transition, loss_observed_at, evaluated_at`;

const LOCK_ACCESS_SQL = `
SELECT ${LEDGER_COLUMNS} FROM aqueduct_access
 WHERE (customer_id, product_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))
 ORDER BY customer_id, product_id
   FOR UPDATE`;

const CREATE_ACCESS_SQL = `
INSERT INTO aqueduct_access (customer_id, product_id)
SELECT * FROM unnest($1::text[], $2::text[]) ORDER BY 1, 2
ON CONFLICT (customer_id, product_id) DO NOTHING`;

/**
 * The due rows, oldest first, through the partial index (rows being written elsewhere are skipped),
 * each with its provisionings as one JSON array: one round trip for the expiry job's batch.
 */
const LOCK_DUE_SQL = `
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
           'orgs', CASE WHEN p.start_date <= $1 AND $1 < p.access_until THEN p.orgs END,
           'paidAt', pay.paid_at)), '[]')
    FROM aqueduct_provisionings p
    LEFT JOIN aqueduct_invoice_payments pay ON pay.invoice_id = p.invoice_id
   WHERE p.customer_id = due.customer_id AND p.product_id = due.product_id
) AS provisionings
FROM due`;

/**
 * Inserts the provisioning or, only when this event is newer (envelope time, then rank) than the
 * last one applied, replaces what it says. An older or repeated event changes nothing.
 */
const UPSERT_PROVISIONING_SQL = `
INSERT INTO aqueduct_provisionings AS p
  (key, provisioning_id, customer_id, product_id, subscription_id, invoice_id, start_date, end_date,
   grace_period_end_date, contract_start_date, contract_end_date, access_until, orgs, metadata,
   last_event_id, last_event_type, last_event_at, last_event_rank)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13::jsonb, $14::jsonb, $15, $16, $17, $18)
ON CONFLICT (key) DO UPDATE SET
  provisioning_id = EXCLUDED.provisioning_id, customer_id = EXCLUDED.customer_id,
  product_id = EXCLUDED.product_id, subscription_id = EXCLUDED.subscription_id,
  invoice_id = EXCLUDED.invoice_id, start_date = EXCLUDED.start_date, end_date = EXCLUDED.end_date,
  grace_period_end_date = EXCLUDED.grace_period_end_date,
  contract_start_date = EXCLUDED.contract_start_date, contract_end_date = EXCLUDED.contract_end_date,
  access_until = EXCLUDED.access_until, orgs = EXCLUDED.orgs, metadata = EXCLUDED.metadata,
  last_event_id = EXCLUDED.last_event_id, last_event_type = EXCLUDED.last_event_type,
  last_event_at = EXCLUDED.last_event_at, last_event_rank = EXCLUDED.last_event_rank, updated_at = now()
WHERE (EXCLUDED.last_event_at, EXCLUDED.last_event_rank) > (p.last_event_at, p.last_event_rank)
RETURNING id`;

/**
 * The provisionings of the given pairs, with their payments. Orgs only for those that may grant
 * access at `$3` (a window never opens before its start nor lasts past `access_until`): a long
 * history costs its dates, not its users.
 */
const PROVISIONINGS_SQL = `
SELECT p.key, p.customer_id, p.product_id, p.start_date, p.end_date, p.access_until, p.invoice_id,
       CASE WHEN p.start_date <= $3 AND $3 < p.access_until THEN p.orgs END AS orgs, pay.paid_at
  FROM aqueduct_provisionings p
  LEFT JOIN aqueduct_invoice_payments pay ON pay.invoice_id = p.invoice_id
 WHERE (p.customer_id, p.product_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))`;

/** One statement for a batch; a null jsonb column (they are NOT NULL in the table) keeps its value. */
const UPDATE_ACCESS_SQL = `
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
 WHERE a.id = v.id`;

const columns = (pairs: Pair[]) => [pairs.map((p) => p.customerId), pairs.map((p) => p.productId)];
export const pairKey = (customerId: string, productId: string) => `${customerId}\u0000${productId}`;
const toPairs = (rows: { customer_id: string; product_id: string }[]): Pair[] =>
  rows.map((row) => ({ customerId: row.customer_id, productId: row.product_id }));

/** The statements of the ledger, each run in the caller's transaction. */
export class LedgerSql {
  async lockInvoice(manager: EntityManager, invoiceId: string): Promise<void> {
    await manager.query(`SELECT pg_advisory_xact_lock($1, hashtext($2))`, [
      INVOICE_LOCK_CLASS,
      invoiceId,
    ]);
  }

  async tryLock(manager: EntityManager, key: number): Promise<boolean> {
    const [row] = await manager.query(`SELECT pg_try_advisory_xact_lock($1) AS won`, [key]);
    return row.won;
  }

  /** Locks a provisioning (when it exists) and tells whose it is. */
  async lockProvisioning(manager: EntityManager, key: string): Promise<Pair[]> {
    return toPairs(
      await manager.query(
        `SELECT customer_id, product_id FROM aqueduct_provisionings WHERE key = $1 FOR UPDATE`,
        [key],
      ),
    );
  }

  async pairsOfInvoice(manager: EntityManager, invoiceId: string): Promise<Pair[]> {
    return toPairs(
      await manager.query(
        `SELECT DISTINCT customer_id, product_id FROM aqueduct_provisionings WHERE invoice_id = $1`,
        [invoiceId],
      ),
    );
  }

  /** Locks the pairs' access rows in one order (no deadlocks), creating the missing ones. */
  async lockAccess(manager: EntityManager, pairs: Pair[]): Promise<AccessRow[]> {
    if (pairs.length === 0) {
      return [];
    }
    let rows: AccessRow[] = await manager.query(LOCK_ACCESS_SQL, columns(pairs));
    if (rows.length < pairs.length) {
      await manager.query(CREATE_ACCESS_SQL, columns(pairs));
      rows = await manager.query(LOCK_ACCESS_SQL, columns(pairs));
    }
    return rows;
  }

  /** The due rows, locked, and the provisionings of each, by pair. */
  async lockDue(
    manager: EntityManager,
    now: Date,
    limit: number,
  ): Promise<{ rows: AccessRow[]; provisionings: Map<string, ProvisioningDates[]> }> {
    const rows: (AccessRow & { provisionings: Record<string, string | null>[] })[] =
      await manager.query(LOCK_DUE_SQL, [now, limit]);
    const date = (value: string | null) => (value === null ? null : new Date(value));
    const provisionings = new Map(
      rows.map((row) => [
        pairKey(row.customer_id, row.product_id),
        row.provisionings.map((p) => ({
          key: p.key as string,
          startDate: new Date(p.startDate as string),
          endDate: new Date(p.endDate as string),
          accessUntil: new Date(p.accessUntil as string),
          invoiceId: p.invoiceId,
          orgs: (p.orgs ?? []) as unknown as ProvisioningOrgDto[],
          paidAt: date(p.paidAt),
        })),
      ]),
    );
    return { rows, provisionings };
  }

  async upsertProvisioning(
    manager: EntityManager,
    key: string,
    event: AqueductEvent<ProvisioningDto>,
    rank: number,
  ): Promise<boolean> {
    const { object } = event;
    const endDate = object.endDate;
    const grace = object.gracePeriodEndDate ?? null;
    const id = object.id;
    const rows = await manager.query(UPSERT_PROVISIONING_SQL, [
      key,
      typeof id === 'string' || typeof id === 'number' ? String(id) : null,
      object.customerId,
      object.productId,
      object.subscriptionId ?? null,
      object.invoiceId ?? null,
      object.startDate,
      endDate,
      grace,
      object.contractStartDate ?? null,
      object.contractEndDate ?? null,
      // A grace period never ends access before the paid period does.
      grace && grace.getTime() > endDate.getTime() ? grace : endDate,
      JSON.stringify(object.provisioningOrgs ?? []),
      object.metadata ? JSON.stringify(object.metadata) : null,
      event.id,
      event.type,
      event.createdAt ?? new Date(0),
      rank,
    ]);
    return rows.length > 0;
  }

  async recordPayment(
    manager: EntityManager,
    invoiceId: string,
    paidAt: Date,
    eventId: string,
  ): Promise<boolean> {
    const rows = await manager.query(
      `INSERT INTO aqueduct_invoice_payments (invoice_id, paid_at, event_id) VALUES ($1, $2, $3)
       ON CONFLICT (invoice_id) DO NOTHING RETURNING 1`,
      [invoiceId, paidAt, eventId],
    );
    return rows.length > 0;
  }

  /** The provisionings of each row's (customer, product), by pair. */
  async provisioningsOf(
    manager: EntityManager,
    rows: AccessRow[],
    now: Date,
  ): Promise<Map<string, ProvisioningDates[]>> {
    const found: {
      key: string;
      customer_id: string;
      product_id: string;
      start_date: Date;
      end_date: Date;
      access_until: Date;
      invoice_id: string | null;
      orgs: ProvisioningOrgDto[] | null;
      paid_at: Date | null;
    }[] = await manager.query(PROVISIONINGS_SQL, [...columns(toPairs(rows)), now]);
    const byPair = new Map<string, ProvisioningDates[]>();
    for (const p of found) {
      const key = pairKey(p.customer_id, p.product_id);
      const list = byPair.get(key) ?? [];
      list.push({
        key: p.key,
        startDate: p.start_date,
        endDate: p.end_date,
        accessUntil: p.access_until,
        invoiceId: p.invoice_id,
        orgs: p.orgs ?? [],
        paidAt: p.paid_at,
      });
      byPair.set(key, list);
    }
    return byPair;
  }

  async updateAccess(manager: EntityManager, updates: Record<string, unknown>[]): Promise<void> {
    if (updates.length > 0) {
      await manager.query(UPDATE_ACCESS_SQL, [JSON.stringify(updates)]);
    }
  }
}
