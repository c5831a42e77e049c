import type { ProvisioningOrgDto } from '../events/provisioning.dto';

/** Everything the host needs to give or take access, for one provisioning. */
export interface ProvisioningGrant {
  entitlementId: string;
  customerId: string;
  productId: string;
  subscriptionId: string | null;
  invoiceId: string | null;
  orgs: ProvisioningOrgDto[];
  startDate: Date;
  endDate: Date;
  gracePeriodEndDate: Date | null;
  /** When access ends: the grace period's end, else the end date. */
  accessUntil: Date;
  /** The event type that led to this call (`provisioning.start`, `access.expired`, …). */
  reason: string;
  /**
   * The same on every retry of this call: pass it to your user service / API so a retry never
   * creates or disables users twice.
   */
  idempotencyKey: string;
}

/**
 * The host's hook into its own user system. Each call runs inside a durable delivery: a throw
 * retries it (with backoff), and after the last attempt it is dead-lettered and can be redriven.
 * Calls for one entitlement never overlap.
 */
export interface ProvisioningAdapter {
  /** Access starts: create the org and its users, or enable them. */
  provision(grant: ProvisioningGrant): Promise<void> | void;
  /** Access is gone (after the grace period): disable them. */
  deprovision(grant: ProvisioningGrant): Promise<void> | void;
  /** Access continues but the orgs or users changed. */
  update(grant: ProvisioningGrant, previousOrgs: ProvisioningOrgDto[]): Promise<void> | void;
}

/** Injection token of the active adapter. */
export const PROVISIONING_ADAPTER = Symbol('AQUEDUCT_PROVISIONING_ADAPTER');
