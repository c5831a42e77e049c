/** Where a customer stands with a product at one moment. */
export type EntitlementStatus = 'scheduled' | 'active' | 'grace' | 'expired';

/** The last state announced by an `access.*` event. */
export type AnnouncedStatus = 'none' | 'active' | 'grace' | 'expired';
