import type { ProvisioningOrgDto } from '../events/provisioning.dto';
import {
  type AccessSegment,
  accessAt,
  statusTimeline,
  withPayment,
  withRenewalWindow,
} from './access-timeline';
import type { Entitlement } from './aqueduct-access.interfaces';
import type { RenewalWindow } from './renewal-window';

/** A timeline segment as `aqueduct_access.timeline` stores it (seats: see `seatedTimeline`). */
export interface StoredSegment {
  from: string;
  until: string;
  status: 'active' | 'grace';
  seats?: number;
}

/** An `aqueduct_access` row as the access service reads it. */
export interface AccessRecord {
  id: string;
  customerId: string;
  productId: string;
  timeline: StoredSegment[];
  awaitingPayment: boolean;
  /** As last evaluated, or, while a loss is not announced yet, those still provisioned. */
  orgs: ProvisioningOrgDto[];
  provisioned: boolean;
  nextCheckAt: Date | null;
  updatedAt: Date;
}

/** A stored timeline with its instants as Dates, cut only where the status changes. */
export const toTimeline = (stored: AccessRecord['timeline']): AccessSegment[] =>
  statusTimeline(
    stored.map((s) => ({ from: new Date(s.from), until: new Date(s.until), status: s.status })),
  );

/**
 * An access row as the entitlement it gives at `at`, with its renewal windows (`window`, see
 * `withRenewalWindow`): in one, the status is `grace`.
 */
export function toEntitlement(row: AccessRecord, at: Date, window: RenewalWindow): Entitlement {
  const timeline = toTimeline(row.timeline);
  const state = accessAt(withRenewalWindow(timeline, window), at);
  return {
    id: row.id,
    customerId: row.customerId,
    productId: row.productId,
    status: withPayment(state.status, row.awaitingPayment),
    hasAccess: state.hasAccess,
    since: state.since,
    accessUntil: state.accessUntil,
    paidUntil: state.paidUntil,
    changesAt: state.changesAt,
    renewalAhead: state.renewalAhead,
    awaitingPayment: row.awaitingPayment,
    orgs: row.orgs,
    timeline,
    provisioned: row.provisioned,
    // Postgres's `infinity` (nothing due) reads as a Date that is not one.
    nextCheckAt:
      row.nextCheckAt && Number.isFinite(new Date(row.nextCheckAt).getTime())
        ? new Date(row.nextCheckAt)
        : null,
    updatedAt: row.updatedAt,
  };
}
