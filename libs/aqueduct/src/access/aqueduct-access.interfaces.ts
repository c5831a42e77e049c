import type { ProvisioningOrgDto } from '../events/provisioning.dto';
import type { EntitlementStatus } from '../events/access-status';
import type { AccessSegment } from './access-timeline.interfaces';

/**
 * A customer's access to one product, at the moment asked about: the union of the windows of all
 * its provisionings (each from its start until its grace period's end), so a renewal keeps it
 * whole, with the renewal window after each span: access lasts at least `access.settleMs` past a
 * paid end (status `grace`, `paidUntil` the real end). Right at any moment, before and after the
 * expiry job runs: it is read off the timeline.
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
  /**
   * A paid period starts after the span holding the moment, or after the moment when none does: a
   * new subscription after a gap is already known. A renewal back to back with the current period
   * is part of the span (its end is `paidUntil`); `getProvisionings` lists it.
   */
  renewalAhead: boolean;
  /** Some provisioning waits for its invoice to be paid (with `access.requirePayment`). */
  awaitingPayment: boolean;
  /**
   * The orgs and users of the provisionings granting access (as last evaluated); while a loss is
   * not announced yet (the renewal window), those still provisioned.
   */
  orgs: ProvisioningOrgDto[];
  /** The union of the windows as Aqueduct's dates give them (no renewal window), oldest first. */
  timeline: AccessSegment[];
  /** Whether the host's adapter was last told to provision (true) or deprovision (false). */
  provisioned: boolean;
  /**
   * When the ledger looks at this access again (the expiry job): the next date that changes it,
   * or when a loss still settling is announced (and the adapter told); null when nothing is due.
   * `provisioned` with no access means such a loss is waiting for it.
   */
  nextCheckAt: Date | null;
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

/** What `check` is asked: a product (Aqueduct's id) or one of your features (`features` option). */
export type AccessQuery = { product: string } | { feature: string };

/**
 * Where an answer came from: the in-memory cache, a read of Postgres, the cache while Postgres
 * could not be read (`stale`), or `access.fallback` (nothing known, Postgres unreachable).
 */
export type AccessAnswerSource = 'cache' | 'database' | 'stale' | 'fallback';

/** The answer to "may this customer use this product / feature now?". */
export interface AccessCheck {
  customerId: string;
  /** The product asked about, when one was. */
  product?: string;
  /** The feature asked about, when one was. */
  feature?: string;
  allowed: boolean;
  /** The products granting it at the moment asked. */
  grantedBy: string[];
  /** The next moment the answer changes by time alone, from what is known now (null: never). */
  changesAt: Date | null;
  /** Users the granting provisionings carry: the seats paid for (enforce your limit with it). */
  seats: number;
  source: AccessAnswerSource;
  /** Answered from memory while Postgres could not be read: right as of the last read. */
  stale: boolean;
  /** Answered by `access.fallback`: nothing was known about the customer. */
  fallback: boolean;
}

/** A customer's features now, from the products granting access. */
export interface CustomerFeatures {
  customerId: string;
  features: string[];
  /** The products granting access at the moment asked. */
  products: string[];
  /** Users the granting provisionings carry, over all those products. */
  seats: number;
  source: AccessAnswerSource;
  stale: boolean;
  fallback: boolean;
}
