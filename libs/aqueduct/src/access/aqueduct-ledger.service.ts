import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { AqueductEventType } from '../events/aqueduct-event-types';
import type { ProvisioningDto } from '../events/provisioning.dto';
import { nextTransitionAt, statusAt } from './entitlement-status';

/** Ties between events created at the same instant: an end outranks an update outranks a start. */
const EVENT_RANK: Record<string, number> = {
  [AqueductEventType.ProvisioningStart]: 0,
  [AqueductEventType.ProvisioningUpdate]: 1,
  [AqueductEventType.ProvisioningEnd]: 2,
};

/**
 * One statement inserts the entitlement or, only when this event is newer (envelope time, then
 * rank) than the last one applied, replaces its dates, orgs and status. An older or repeated event
 * changes nothing, whatever order retries bring them in.
 */
const APPLY_SQL = `
INSERT INTO aqueduct_entitlements AS e
  (key, customer_id, product_id, subscription_id, invoice_id, start_date, end_date, grace_period_end_date,
   contract_start_date, contract_end_date, access_until, orgs, metadata, status, next_transition_at,
   expired_at, last_event_id, last_event_type, last_event_at, last_event_rank)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::jsonb, $13::jsonb, $14, $15,
        CASE WHEN $14 = 'expired' THEN $19::timestamptz END, $16, $17, $18, $20)
ON CONFLICT (key) DO UPDATE SET
  customer_id = EXCLUDED.customer_id, product_id = EXCLUDED.product_id,
  subscription_id = EXCLUDED.subscription_id, invoice_id = EXCLUDED.invoice_id,
  start_date = EXCLUDED.start_date, end_date = EXCLUDED.end_date,
  grace_period_end_date = EXCLUDED.grace_period_end_date,
  contract_start_date = EXCLUDED.contract_start_date, contract_end_date = EXCLUDED.contract_end_date,
  access_until = EXCLUDED.access_until, orgs = EXCLUDED.orgs, metadata = EXCLUDED.metadata,
  status = EXCLUDED.status, next_transition_at = EXCLUDED.next_transition_at,
  expired_at = CASE WHEN EXCLUDED.status = 'expired' THEN coalesce(e.expired_at, EXCLUDED.expired_at) END,
  last_event_id = EXCLUDED.last_event_id, last_event_type = EXCLUDED.last_event_type,
  last_event_at = EXCLUDED.last_event_at, last_event_rank = EXCLUDED.last_event_rank, updated_at = now()
WHERE (EXCLUDED.last_event_at, EXCLUDED.last_event_rank) > (e.last_event_at, e.last_event_rank)
RETURNING id`;

/** The key of a provisioning: its own id when it has one, else what identifies it. */
export function entitlementKey(object: ProvisioningDto): string {
  if (typeof object.id === 'string' && object.id !== '') {
    return `id:${object.id}`;
  }
  const source = object.subscriptionId
    ? `sub:${object.subscriptionId}`
    : object.invoiceId
      ? `inv:${object.invoiceId}`
      : '-';
  return `${object.customerId}:${object.productId}:${source}`;
}

/** The access ledger's writes. */
@Injectable()
export class AqueductLedger {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** Applies a provisioning event; returns the entitlement's key (applied or not). */
  async apply(
    event: { id: string; type: string; createdAt: Date | null; object: ProvisioningDto },
    now: Date,
  ): Promise<{ key: string; applied: boolean }> {
    const { object } = event;
    const accessUntil = object.gracePeriodEndDate ?? object.endDate;
    const dates = { startDate: object.startDate, endDate: object.endDate, accessUntil };
    const status = statusAt(dates, now);
    const key = entitlementKey(object);
    const rows = await this.dataSource.query(APPLY_SQL, [
      key,
      object.customerId,
      object.productId,
      object.subscriptionId ?? null,
      object.invoiceId ?? null,
      object.startDate,
      object.endDate,
      object.gracePeriodEndDate ?? null,
      object.contractStartDate ?? null,
      object.contractEndDate ?? null,
      accessUntil,
      JSON.stringify(object.provisioningOrgs),
      object.metadata ? JSON.stringify(object.metadata) : null,
      status,
      nextTransitionAt(dates, status),
      event.id,
      event.type,
      event.createdAt ?? new Date(0),
      now,
      EVENT_RANK[event.type] ?? 0,
    ]);
    return { key, applied: rows.length > 0 };
  }
}
