import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { isDeepStrictEqual } from 'node:util';
import { DataSource, type EntityManager } from 'typeorm';
import { PROVISIONING_EVENT_TYPES } from '../events/aqueduct-event-types';
import type { ProvisioningDto, ProvisioningOrgDto } from '../events/provisioning.dto';
import type { AqueductEvent, AqueductListenerContext } from '../listeners/aqueduct-event.interface';
import { AqueductListenerRegistry } from '../listeners/aqueduct-listener.registry';
import { AQUEDUCT_OPTIONS } from '../options/aqueduct-options.provider';
import type { ResolvedAqueductOptions } from '../options/aqueduct-options.validator';
import { AQUEDUCT_CLOCK, type AqueductClock } from './aqueduct-clock';
import { AqueductLedger } from './aqueduct-ledger.service';
import { AccessEventType } from './access-event-types';
import { hasAccessStatus, statusAt } from './entitlement-status';
import {
  PROVISIONING_ADAPTER,
  type ProvisioningAdapter,
  type ProvisioningGrant,
} from './provisioning-adapter.interface';

/** Name of the built-in listener, as stored with its deliveries. */
export const PROVISIONING_LISTENER = 'aqueduct.provisioning';

interface EntitlementRow {
  id: string;
  customer_id: string;
  product_id: string;
  subscription_id: string | null;
  invoice_id: string | null;
  orgs: ProvisioningOrgDto[];
  start_date: Date;
  end_date: Date;
  grace_period_end_date: Date | null;
  access_until: Date;
  provisioned: boolean;
  provisioned_orgs: ProvisioningOrgDto[] | null;
}

/**
 * Keeps the ledger and the host's users in step. First the event is applied to the ledger (its own
 * short transaction, so access checks see it even while the host's adapter is failing). Then the
 * adapter is reconciled with the ledger: provisioned when access should exist and does not,
 * deprovisioned in the opposite case, updated when the users changed. The reconcile holds the
 * entitlement's row lock, so calls for one entitlement never overlap, and a retry of this delivery
 * recomputes what is still to do rather than replaying what was done.
 */
@Injectable()
export class ProvisioningListener implements OnModuleInit {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly ledger: AqueductLedger,
    @Inject(PROVISIONING_ADAPTER) private readonly adapter: ProvisioningAdapter,
    @Inject(AQUEDUCT_CLOCK) private readonly clock: AqueductClock,
    @Inject(AQUEDUCT_OPTIONS) private readonly options: ResolvedAqueductOptions,
    private readonly registry: AqueductListenerRegistry,
  ) {}

  /** Registered unless `ledger: false` (a host that only wants the raw events). */
  onModuleInit(): void {
    if (this.options.ledger !== false) {
      const types = [...PROVISIONING_EVENT_TYPES, AccessEventType.Started, AccessEventType.Expired];
      this.registry.add(PROVISIONING_LISTENER, types, (event, context) =>
        this.handle(event, context),
      );
    }
  }

  async handle(event: AqueductEvent, context: AqueductListenerContext): Promise<void> {
    if (PROVISIONING_EVENT_TYPES.includes(event.type)) {
      const { key } = await this.ledger.apply(
        event as AqueductEvent<ProvisioningDto>,
        this.clock.now(),
      );
      await this.reconcile('key', key, event.type, context);
    } else {
      const id = (event.object as { entitlementId?: string } | null)?.entitlementId;
      if (id) {
        await this.reconcile('id', id, event.type, context);
      }
    }
  }

  private reconcile(
    column: 'key' | 'id',
    value: string,
    reason: string,
    context: AqueductListenerContext,
  ) {
    return this.dataSource.transaction(async (manager) => {
      const [row]: EntitlementRow[] = await manager.query(
        `SELECT * FROM aqueduct_entitlements WHERE ${column} = $1 FOR UPDATE`,
        [value],
      );
      if (!row) {
        return;
      }
      const dates = {
        startDate: row.start_date,
        endDate: row.end_date,
        accessUntil: row.access_until,
      };
      const shouldHaveAccess = hasAccessStatus(statusAt(dates, this.clock.now()));
      const grant = (action: string): ProvisioningGrant => ({
        entitlementId: row.id,
        customerId: row.customer_id,
        productId: row.product_id,
        subscriptionId: row.subscription_id,
        invoiceId: row.invoice_id,
        orgs: row.orgs,
        startDate: row.start_date,
        endDate: row.end_date,
        gracePeriodEndDate: row.grace_period_end_date,
        accessUntil: row.access_until,
        reason,
        idempotencyKey: `${context.idempotencyKey}:${action}`,
      });
      if (shouldHaveAccess && !row.provisioned) {
        await this.adapter.provision(grant('provision'));
        await this.mark(manager, row.id, true, row.orgs);
      } else if (!shouldHaveAccess && row.provisioned) {
        await this.adapter.deprovision(grant('deprovision'));
        await this.mark(manager, row.id, false, null);
      } else if (shouldHaveAccess && !isDeepStrictEqual(row.provisioned_orgs, row.orgs)) {
        await this.adapter.update(grant('update'), row.provisioned_orgs ?? []);
        await this.mark(manager, row.id, true, row.orgs);
      }
    });
  }

  private async mark(
    manager: EntityManager,
    id: string,
    provisioned: boolean,
    orgs: ProvisioningOrgDto[] | null,
  ) {
    await manager.query(
      `UPDATE aqueduct_entitlements SET provisioned = $2, provisioned_orgs = $3::jsonb, updated_at = now() WHERE id = $1`,
      [id, provisioned, orgs === null ? null : JSON.stringify(orgs)],
    );
  }
}
