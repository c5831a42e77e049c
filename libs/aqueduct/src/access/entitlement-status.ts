import type { EntitlementStatus } from '../storage/entities/aqueduct-entitlement.entity';

/** The dates that decide access. */
export interface EntitlementDates {
  startDate: Date;
  endDate: Date;
  accessUntil: Date;
}

/**
 * Access follows the dates, never the order events arrived in: before the start it is
 * scheduled, then active until the end, then in grace until `accessUntil`, then expired.
 */
export function statusAt(dates: EntitlementDates, at: Date): EntitlementStatus {
  const t = at.getTime();
  if (t < dates.startDate.getTime()) {
    return 'scheduled';
  }
  if (t < dates.endDate.getTime()) {
    return 'active';
  }
  return t < dates.accessUntil.getTime() ? 'grace' : 'expired';
}

/** When the expiry sweep must look at the entitlement next; null once it is over. */
export function nextTransitionAt(dates: EntitlementDates, status: EntitlementStatus): Date | null {
  if (status === 'scheduled') {
    return dates.startDate;
  }
  return status === 'expired' ? null : dates.accessUntil;
}

export const hasAccessStatus = (status: EntitlementStatus) =>
  status === 'active' || status === 'grace';

/** The same rule in SQL, for queries that report the status at a given time (`$at`). */
export const statusAtSql = (at: string) => `CASE
  WHEN ${at} < start_date THEN 'scheduled'
  WHEN ${at} < end_date THEN 'active'
  WHEN ${at} < access_until THEN 'grace'
  ELSE 'expired' END`;
