import type { ProvisioningOrgDto } from '../events/provisioning.dto';
import type { EntitlementStatus } from '../events/access-status';

/** A stretch of the access timeline: paid (`active`) or in a grace period (`grace`). */
export interface AccessSegment {
  from: Date;
  until: Date;
  status: 'active' | 'grace';
  /**
   * The people (distinct users) the provisionings covering it carry: on the ledger's stored
   * timeline only, which is cut where they change too, so checks count seats for the moment asked.
   */
  seats?: number;
}

/** The access one provisioning gives: paid from `from` to `paidUntil`, then grace until `until`. */
export interface AccessWindow {
  /** The provisioning's key. */
  key: string;
  /** When it starts giving access: its start date, or a later payment. */
  from: Date;
  paidUntil: Date;
  until: Date;
  /** Its start date as Aqueduct gave it: the newest period's names win when orgs are merged. */
  startDate: Date;
  orgs: ProvisioningOrgDto[];
}

/** What a provisioning record holds that decides its window. */
export interface ProvisioningDates {
  key: string;
  startDate: Date;
  endDate: Date;
  /** The grace period's end, or the end date without one (never before it). */
  accessUntil: Date;
  invoiceId: string | null;
  orgs: ProvisioningOrgDto[];
  /** When an `invoice.paid` for its invoice reached the module; null when none has. */
  paidAt: Date | null;
}

/** Access at one moment, read off a timeline alone (what the access checks use). */
export interface AccessAt {
  status: EntitlementStatus;
  hasAccess: boolean;
  /** Start of the covered span holding the moment (contiguous segments), when there is access. */
  since: Date | null;
  /** End of that span: access lasts until then unless something new arrives. */
  accessUntil: Date | null;
  /** End of the span's last paid stretch. */
  paidUntil: Date | null;
  /** In grace: when the grace began (the last paid period's end). */
  graceSince: Date | null;
  /** A paid stretch starts after the moment: a renewal or a new subscription is already known. */
  renewalAhead: boolean;
  /**
   * A paid stretch follows the moment within its span: the access is renewed, not ending with its
   * grace. A subscription that starts after a gap is ahead, but does not stop this access ending.
   */
  renewedInSpan: boolean;
  /** Without access: when access last ended, or null if it never existed before the moment. */
  lostAt: Date | null;
  /** The next moment the status changes, from what is known. */
  changesAt: Date | null;
}

/** Everything the ledger derives from a customer's provisionings of one product, at `now`. */
export interface AccessEvaluation extends AccessAt {
  timeline: AccessSegment[];
  /** The timeline as stored: also cut where the seats change, each segment with its seats. */
  segments: AccessSegment[];
  /** The orgs and users of the provisionings granting access now. */
  orgs: ProvisioningOrgDto[];
  /** Keys of the provisionings granting access now. */
  granting: string[];
  /** Some provisioning waits for its invoice to be paid (only when payment is required). */
  awaitingPayment: boolean;
  /** The next moment anything here changes (status, or which provisionings grant access). */
  nextChangeAt: Date | null;
}
