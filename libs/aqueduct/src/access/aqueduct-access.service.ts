import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { ProvisioningOrgDto } from '../events/provisioning.dto';
import type { EntitlementStatus } from '../storage/entities/aqueduct-access.entity';
import { AQUEDUCT_CLOCK, type AqueductClock } from './aqueduct-clock';
import { type AccessSegment, accessAt, coversMoment, withPayment } from './access-timeline';

/**
 * A customer's access to one product, at the moment asked about: the union of the windows of all
 * its provisionings (each from its start until its grace period's end), so a renewal keeps it
 * whole. Right at any moment, before and after the expiry job runs: it is read off the timeline.
 */
export interface Entitlement {
  /** The module's id of this customer's access to this product (stable across renewals). */
  id: string;
  customerId: string;
  productId: string;
  status: EntitlementStatus;
  hasAccess: boolean;
  /** Start of the covered span holding the moment. */
  since: Date | null;
  /** End of that span: access lasts until then unless a renewal arrives. */
  accessUntil: Date | null;
  /** End of the span's last paid period. */
  paidUntil: Date | null;
  /** The next moment `status` changes, from what is known now. */
  changesAt: Date | null;
  /** A paid period starts after the moment: a renewal or a new subscription is already known. */
  renewalAhead: boolean;
  /** Some provisioning waits for its invoice to be paid (with `access.requirePayment`). */
  awaitingPayment: boolean;
  /** The orgs and users of the provisionings granting access (as last evaluated). */
  orgs: ProvisioningOrgDto[];
  /** The union of the windows: paid (`active`) and grace stretches, oldest first. */
  timeline: AccessSegment[];
  /** Whether the host's adapter was last told to provision (true) or deprovision (false). */
  provisioned: boolean;
  updatedAt: Date;
}

/** One provisioning as Aqueduct last described it. */
export interface Provisioning {
  /** The module's key: Aqueduct's id, else the invoice, else the period (see the README). */
  key: string;
  /** Aqueduct's id of the provisioning, when its object carries one. */
  provisioningId: string | null;
  customerId: string;
  productId: string;
  subscriptionId: string | null;
  invoiceId: string | null;
  startDate: Date;
  endDate: Date;
  gracePeriodEndDate: Date | null;
  /** The grace period's end, or the end date without one: its window closes here. */
  accessUntil: Date;
  contractStartDate: Date | null;
  contractEndDate: Date | null;
  orgs: ProvisioningOrgDto[];
  metadata: Record<string, unknown> | null;
  /** When an `invoice.paid` for its invoice reached the module, if one has. */
  paidAt: Date | null;
  lastEventId: string | null;
  lastEventType: string;
  lastEventAt: Date;
}

interface AccessRecord {
  id: string;
  customerId: string;
  productId: string;
  timeline: { from: string; until: string; status: 'active' | 'grace' }[];
  awaitingPayment: boolean;
  orgs: ProvisioningOrgDto[];
  provisioned: boolean;
  updatedAt: Date;
}

const ACCESS_COLUMNS = `id, customer_id AS "customerId", product_id AS "productId", timeline,
  awaiting_payment AS "awaitingPayment", orgs, provisioned, updated_at AS "updatedAt"`;

const PROVISIONING_COLUMNS = `p.key, p.provisioning_id AS "provisioningId", p.customer_id AS "customerId",
  p.product_id AS "productId", p.subscription_id AS "subscriptionId", p.invoice_id AS "invoiceId",
  p.start_date AS "startDate", p.end_date AS "endDate", p.grace_period_end_date AS "gracePeriodEndDate",
  p.access_until AS "accessUntil", p.contract_start_date AS "contractStartDate",
  p.contract_end_date AS "contractEndDate", p.orgs, p.metadata, pay.paid_at AS "paidAt",
  p.last_event_id AS "lastEventId", p.last_event_type AS "lastEventType", p.last_event_at AS "lastEventAt"`;

/** A stored timeline with its instants as Dates. */
export const toTimeline = (stored: AccessRecord['timeline']): AccessSegment[] =>
  stored.map((s) => ({ from: new Date(s.from), until: new Date(s.until), status: s.status }));

/**
 * "May customer C use product P now?" One primary-key read of the customer's access row; the
 * answer is computed from its timeline at the moment asked about, so it flips exactly at a start
 * or a grace period's end, without waiting for the expiry job.
 */
@Injectable()
export class AqueductAccessService {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(AQUEDUCT_CLOCK) private readonly clock: AqueductClock,
  ) {}

  async hasAccess(
    customerId: string,
    productId: string,
    at: Date = this.clock.now(),
  ): Promise<boolean> {
    const [row] = await this.dataSource.query(
      `SELECT timeline FROM aqueduct_access WHERE customer_id = $1 AND product_id = $2`,
      [customerId, productId],
    );
    return row ? coversMoment(toTimeline(row.timeline), at) : false;
  }

  /** The customer's access to one product, or null when no provisioning ever named the pair. */
  async getEntitlement(
    customerId: string,
    productId: string,
    at: Date = this.clock.now(),
  ): Promise<Entitlement | null> {
    const [row]: AccessRecord[] = await this.dataSource.query(
      `SELECT ${ACCESS_COLUMNS} FROM aqueduct_access WHERE customer_id = $1 AND product_id = $2`,
      [customerId, productId],
    );
    return row ? toEntitlement(row, at) : null;
  }

  /** The customer's access to each product: those giving access first, then by product. */
  async getEntitlements(customerId: string, at: Date = this.clock.now()): Promise<Entitlement[]> {
    const rows: AccessRecord[] = await this.dataSource.query(
      `SELECT ${ACCESS_COLUMNS} FROM aqueduct_access WHERE customer_id = $1 ORDER BY product_id`,
      [customerId],
    );
    return rows
      .map((row) => toEntitlement(row, at))
      .sort((a, b) => Number(b.hasAccess) - Number(a.hasAccess));
  }

  /** The customer's provisionings (of one product, if given), oldest start first. */
  getProvisionings(customerId: string, productId?: string): Promise<Provisioning[]> {
    return this.dataSource.query(
      `SELECT ${PROVISIONING_COLUMNS} FROM aqueduct_provisionings p
         LEFT JOIN aqueduct_invoice_payments pay ON pay.invoice_id = p.invoice_id
        WHERE p.customer_id = $1 AND ($2::text IS NULL OR p.product_id = $2)
        ORDER BY p.product_id, p.start_date, p.key`,
      [customerId, productId ?? null],
    );
  }
}

function toEntitlement(row: AccessRecord, at: Date): Entitlement {
  const timeline = toTimeline(row.timeline);
  const state = accessAt(timeline, at);
  return {
    id: row.id,
    customerId: row.customerId,
    productId: row.productId,
    status: withPayment(state.status, row.awaitingPayment),
    hasAccess: state.hasAccess,
    since: state.since,
    accessUntil: state.accessUntil,
    paidUntil: state.paidUntil,
    changesAt: state.changesAt,
    renewalAhead: state.renewalAhead,
    awaitingPayment: row.awaitingPayment,
    orgs: row.orgs,
    timeline,
    provisioned: row.provisioned,
    updatedAt: row.updatedAt,
  };
}
