import type { ProvisioningOrgDto } from './provisioning.dto';
import type { AqueductEvent } from './aqueduct-event.interface';
import type { AnnouncedStatus, EntitlementStatus } from './access-status';
import type { AccessEventTypeName } from './access-event-types';

/**
 * The object of an `access.*` event: a transition of a customer's access to a product, and the
 * access it leaves. Dates arrive as ISO strings (the event is stored as JSON).
 */
export interface AccessEventObject {
  /** The module's id of this customer's access to this product. */
  accessId: string;
  customerId: string;
  productId: string;
  /** The status when the transition was written (`expired` or `scheduled` once access is gone). */
  status: EntitlementStatus;
  /** What was announced before: `none` before the first `access.started`. */
  previousStatus: AnnouncedStatus;
  /** The moment it is about: access began, the paid period ended, access ended; else when seen. */
  at: string;
  /** Start of the covered span (null once access is gone). */
  startDate: string | null;
  /** End of the paid period within the span (null once access is gone). */
  endDate: string | null;
  /** When access ends unless a renewal arrives; for `access.expired`, when it ended. */
  accessUntil: string | null;
  previousAccessUntil: string | null;
  /** The orgs and users with access now; for `access.expired`, those who had it. */
  provisioningOrgs: ProvisioningOrgDto[];
  /** The orgs and users announced before (absent for `access.expired`: they are the ones above). */
  previousOrgs?: ProvisioningOrgDto[];
  /** Keys of the provisionings granting access now. */
  provisionings: string[];
}

/** An `access.*` event as a listener receives it: `@OnAqueductEvent('access.expired')`. */
export type AccessEvent = AqueductEvent<AccessEventObject, AccessEventTypeName>;
