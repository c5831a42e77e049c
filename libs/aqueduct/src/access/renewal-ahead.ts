import type { Entitlement, Provisioning } from './aqueduct-access.interfaces';

/**
 * Whether a paid period of the entitlement's product starts after `at`: a renewal or a new
 * subscription is already known. The entitlement's own `renewalAhead` reads its timeline, where a
 * renewal back to back with the current period is one span with it; the provisionings tell.
 */
export function renewalKnown(entitlement: Entitlement, provisionings: Provisioning[], at: Date) {
  return (
    entitlement.renewalAhead ||
    provisionings.some(
      (p) =>
        p.productId === entitlement.productId &&
        p.startDate.getTime() > at.getTime() &&
        // Cancelled before it began: no period ahead.
        p.accessUntil.getTime() > p.startDate.getTime(),
    )
  );
}
