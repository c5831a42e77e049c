import type { ProvisioningOrgDto } from '../events/provisioning.dto';
import type { AnnouncedStatus } from '../events/access-status';

/**
 * Everything the host needs to give or take a customer's access to a product. Access belongs to
 * the customer and the product, not to one provisioning: a renewal (a new provisioning) that
 * repeats the same users changes nothing here.
 */
export interface ProvisioningGrant {
  /** The module's id of this customer's access to this product (stable across renewals). */
  accessId: string;
  customerId: string;
  productId: string;
  /**
   * The orgs and users to give access to (`provision`, `update`), or to take it from
   * (`deprovision`: exactly those last provisioned). Merged over every provisioning that grants
   * access now: orgs by name, users by email.
   */
  orgs: ProvisioningOrgDto[];
  /** `active`, `grace` (the paid period ended, access continues) or `expired`. */
  status: Exclude<AnnouncedStatus, 'none'>;
  /** Start of the current covered span. */
  since: Date | null;
  /** When access ends unless a renewal arrives (when it ended, for `deprovision`). */
  accessUntil: Date | null;
  /** End of the paid period within the covered span. */
  paidUntil: Date | null;
  /** The transition behind the call: `access.started`, `access.renewed`, `access.changed`, `access.expired`… */
  reason: string;
  /**
   * The customer's other products your adapter holds now (provisioned, not deprovisioned), with
   * their users. One person may hold several products: after an upgrade the new product is
   * provisioned before the old one is deprovisioned. A user system with one account per person
   * must not disable, on `deprovision` (or an `update` that removes them), a user another product
   * still holds. Exact for the call: the adapter calls of one customer never overlap.
   */
  otherProducts: ProductHolding[];
  /**
   * The same on every retry of this call, whichever delivery makes it: pass it to your user
   * service / API so a retry never creates or disables users twice. It names the request too: when
   * the users change before a failed call is retried, the retry carries a new key.
   */
  idempotencyKey: string;
}

/** The users your adapter holds for one product of the customer. */
export interface ProductHolding {
  productId: string;
  /** The users' addresses, lowercased. */
  emails: string[];
}

/**
 * The host's hook into its own user system, driven by transitions of the customer's access to a
 * product, not by single events: `provision` once when access begins, `update` when the users
 * change while it lasts, `deprovision` once no provisioning grants access any more (after the
 * last grace period). Each call runs inside a durable delivery: a throw retries it (with backoff),
 * and after the last attempt it is dead-lettered and can be redriven. Calls for one customer and
 * product never overlap, and alternate provision → (update…) → deprovision.
 */
export interface ProvisioningAdapter {
  /** Access starts: create the org and its users, or enable them. */
  provision(grant: ProvisioningGrant): Promise<void> | void;
  /** Access is gone (after the last grace period): disable them. */
  deprovision(grant: ProvisioningGrant): Promise<void> | void;
  /** Access continues but the orgs or users changed (e.g. a renewal that adds seats). */
  update(grant: ProvisioningGrant, previousOrgs: ProvisioningOrgDto[]): Promise<void> | void;
}

/** Injection token of the active adapter. */
export const PROVISIONING_ADAPTER = Symbol('AQUEDUCT_PROVISIONING_ADAPTER');
