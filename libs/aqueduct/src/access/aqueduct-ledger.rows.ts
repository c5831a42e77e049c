import type { ProvisioningOrgDto } from '../events/provisioning.dto';
import type { AnnouncedStatus, EntitlementStatus } from '../events/access-status';
import type { ProvisioningDates } from './access-timeline.interfaces';

/** A customer and a product: what access belongs to. */
export interface Pair {
  customerId: string;
  productId: string;
}

/** Whether two pairs are the same (customer, product). */
export const samePair = (a: Pair, b: Pair) =>
  a.customerId === b.customerId && a.productId === b.productId;

/** A pair as one string, to key maps by. */
export const pairKey = (customerId: string, productId: string) => `${customerId}\u0000${productId}`;

/** A row that names a customer and a product. */
export interface PairRow {
  customer_id: string;
  product_id: string;
}

/** Rows that name a customer and a product, as pairs. */
export const toPairs = (rows: PairRow[]): Pair[] =>
  rows.map((row) => ({ customerId: row.customer_id, productId: row.product_id }));

/** The pairs as the two arrays the statements `unnest`: customers, then products. */
export const columns = (pairs: Pair[]) => [
  pairs.map((p) => p.customerId),
  pairs.map((p) => p.productId),
];

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
  timeline: { from: string; until: string; status: 'active' | 'grace'; seats?: number }[];
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

/** A due access row with its provisionings as one JSON array (the expiry job's read). */
export type DueRow = AccessRow & { provisionings: Record<string, string | null>[] };

/** A provisioning of some pair, with its payment, as the ledger reads it. */
export interface ProvisioningRow {
  key: string;
  customer_id: string;
  product_id: string;
  start_date: Date;
  end_date: Date;
  access_until: Date;
  invoice_id: string | null;
  orgs: ProvisioningOrgDto[] | null;
  paid_at: Date | null;
}

const date = (value: string | null) => (value === null ? null : new Date(value));

/** The provisionings of due rows, by pair, their instants (JSON strings) as Dates. */
export function dueProvisionings(rows: DueRow[]): Map<string, ProvisioningDates[]> {
  return new Map(
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
}

/** Provisioning rows grouped by pair. */
export function provisioningsByPair(found: ProvisioningRow[]): Map<string, ProvisioningDates[]> {
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

/** A row of UPSERT_PROVISIONING_SQL: a provisioning, and whether it is the one the event wrote. */
export type UpsertedRow = ProvisioningRow & { applied: boolean };

/** What UPSERT_PROVISIONING_SQL returns: whether the event applied, and the provisionings by pair. */
export function upsertedProvisionings(rows: UpsertedRow[]): {
  applied: boolean;
  provisionings: Map<string, ProvisioningDates[]>;
} {
  return { applied: rows.some((row) => row.applied), provisionings: provisioningsByPair(rows) };
}

/** The pairs without repeats, in their first order. */
export function uniquePairs(pairs: Pair[]): Pair[] {
  return pairs.filter((pair, index) => pairs.findIndex((p) => samePair(p, pair)) === index);
}
