import type { ProvisioningOrgDto } from '../events/provisioning.dto';
import { type AccessSegment, accessAt, withPayment } from './access-timeline';
import type { Entitlement } from './aqueduct-access.interfaces';

/** An `aqueduct_access` row as the access service reads it. */
export interface AccessRecord {
  id: string;
  customerId: string;
  productId: string;
  timeline: { from: string; until: string; status: 'active' | 'grace' }[];
  awaitingPayment: boolean;
  orgs: ProvisioningOrgDto[];
  provisioned: boolean;
  updatedAt: Date;
}

/** A stored timeline with its instants as Dates. */
export const toTimeline = (stored: AccessRecord['timeline']): AccessSegment[] =>
  stored.map((s) => ({ from: new Date(s.from), until: new Date(s.until), status: s.status }));

/** An access row as the entitlement it gives at `at`. */
export function toEntitlement(row: AccessRecord, at: Date): Entitlement {
  const timeline = toTimeline(row.timeline);
  const state = accessAt(timeline, at);
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
    updatedAt: row.updatedAt,
  };
}
