import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { ProvisioningOrgDto } from '../events/provisioning.dto';
import type { EntitlementStatus } from '../storage/entities/aqueduct-entitlement.entity';
import { AQUEDUCT_CLOCK, type AqueductClock } from './aqueduct-clock';
import { statusAtSql } from './entitlement-status';

/** An entitlement as the host sees it, with its status at the time asked about. */
export interface Entitlement {
  id: string;
  customerId: string;
  productId: string;
  subscriptionId: string | null;
  invoiceId: string | null;
  status: EntitlementStatus;
  hasAccess: boolean;
  startDate: Date;
  endDate: Date;
  gracePeriodEndDate: Date | null;
  contractStartDate: Date | null;
  contractEndDate: Date | null;
  accessUntil: Date;
  orgs: ProvisioningOrgDto[];
  metadata: Record<string, unknown> | null;
  lastEventType: string;
  lastEventAt: Date;
}

const COLUMNS = (at: string) => `id, customer_id AS "customerId", product_id AS "productId",
  subscription_id AS "subscriptionId", invoice_id AS "invoiceId", ${statusAtSql(at)} AS status,
  (start_date <= ${at} AND ${at} < access_until) AS "hasAccess", start_date AS "startDate",
  end_date AS "endDate", grace_period_end_date AS "gracePeriodEndDate",
  contract_start_date AS "contractStartDate", contract_end_date AS "contractEndDate",
  access_until AS "accessUntil", orgs, metadata, last_event_type AS "lastEventType", last_event_at AS "lastEventAt"`;

/**
 * "May customer C use product P now?" Access is decided by the dates (from `startDate` until
 * `gracePeriodEndDate`, or `endDate` without one), so it is right even before the expiry job ran.
 * Each call is one query on the (customer_id, product_id, …) index.
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
      `SELECT EXISTS (SELECT 1 FROM aqueduct_entitlements
        WHERE customer_id = $1 AND product_id = $2 AND start_date <= $3 AND $3 < access_until) AS granted`,
      [customerId, productId, at],
    );
    return row.granted;
  }

  /** All of a customer's entitlements, the ones giving access first, then the latest. */
  getEntitlements(customerId: string, at: Date = this.clock.now()): Promise<Entitlement[]> {
    return this.dataSource.query(
      `SELECT ${COLUMNS('$2::timestamptz')} FROM aqueduct_entitlements WHERE customer_id = $1
        ORDER BY (start_date <= $2 AND $2 < access_until) DESC, access_until DESC, id`,
      [customerId, at],
    );
  }

  /** The customer's entitlement to the product that matters now: one giving access, else the latest. */
  async getEntitlement(
    customerId: string,
    productId: string,
    at: Date = this.clock.now(),
  ): Promise<Entitlement | null> {
    const [row] = await this.dataSource.query(
      `SELECT ${COLUMNS('$3::timestamptz')} FROM aqueduct_entitlements WHERE customer_id = $1 AND product_id = $2
        ORDER BY (start_date <= $3 AND $3 < access_until) DESC, access_until DESC, id LIMIT 1`,
      [customerId, productId, at],
    );
    return row ?? null;
  }
}
