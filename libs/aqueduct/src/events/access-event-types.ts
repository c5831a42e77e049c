/**
 * Events the module writes into the inbox when a customer's access to a product changes, from an
 * Aqueduct event or from time passing. They follow the union of the customer's provisionings, not
 * single events, and ride the same durable, retried pipeline: the adapter, the mails and the
 * host's own `@OnAqueductEvent('access.*')` listeners act on them.
 */
export const AccessEventType = {
  /** Access begins (no provisioning granted it before). */
  Started: 'access.started',
  /** Access continues and its covered span grew: a renewal, or a renewal that ended a grace period. */
  Renewed: 'access.renewed',
  /** Access continues with other orgs/users, or ends sooner than announced (a cancellation). */
  Changed: 'access.changed',
  /** The paid period ended and no renewal is known; access continues until the grace period's end. */
  Grace: 'access.grace',
  /** No provisioning grants access any more (after the last grace period). */
  Expired: 'access.expired',
} as const;

export type AccessEventTypeName = (typeof AccessEventType)[keyof typeof AccessEventType];

export const ACCESS_EVENT_TYPES: readonly string[] = Object.values(AccessEventType);
