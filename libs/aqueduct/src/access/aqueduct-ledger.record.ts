import type { AccessEventObject } from '../events/access-event.interface';
import type { InternalEventRecord } from '../storage/aqueduct-inbox.service';
import type { AccessEvaluation } from './access-timeline.interfaces';
import type { AccessTransition } from './access-transitions';
import type { AccessRow } from './aqueduct-ledger.rows';

/**
 * An `access.*` event: the transition, and the access it leaves, for every listener (`listeners`,
 * the names of those that take its type). `seq` numbers the row's announcements: with the row's
 * id, it is the event's dedup key.
 */
export function transitionRecord(
  row: AccessRow,
  evaluation: AccessEvaluation,
  transition: AccessTransition,
  seq: number,
  now: Date,
  listeners: string[],
): InternalEventRecord {
  const { next, previous } = transition;
  // Dates become ISO strings in the stored JSON, as `AccessEventObject` says.
  const object: Omit<
    AccessEventObject,
    'at' | 'startDate' | 'endDate' | 'accessUntil' | 'previousAccessUntil'
  > &
    Record<string, unknown> = {
    accessId: row.id,
    customerId: row.customer_id,
    productId: row.product_id,
    status: evaluation.status,
    previousStatus: previous.status,
    at: transition.at,
    startDate: evaluation.since,
    endDate: evaluation.paidUntil,
    accessUntil: next.accessUntil,
    previousAccessUntil: previous.accessUntil,
    provisioningOrgs: next.orgs,
    // Only when they differ: an expiry's recipients are its previous orgs already.
    previousOrgs: next.orgs === previous.orgs ? undefined : previous.orgs,
    provisionings: evaluation.granting,
  };
  return {
    dedupKey: `access:${row.id}:${seq}`,
    type: transition.type,
    createdAt: now,
    payload: { type: transition.type, createdAt: now, object },
    listeners,
  };
}
