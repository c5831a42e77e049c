/**
 * Events the module itself writes into the inbox when time (not Aqueduct) changes access, so that
 * de-provisioning and emails ride the same durable, retried pipeline as Aqueduct's events.
 */
export const AccessEventType = {
  /** A scheduled entitlement's start date has come. */
  Started: 'access.started',
  /** The grace period (or, without one, the paid period) is over. */
  Expired: 'access.expired',
} as const;
