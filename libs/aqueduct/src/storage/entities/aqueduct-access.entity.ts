import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import type { ProvisioningOrgDto } from '../../events/provisioning.dto';

/** Where a customer stands with a product at one moment. */
export type EntitlementStatus = 'scheduled' | 'active' | 'grace' | 'expired';

/** The last state announced by an `access.*` event. */
export type AnnouncedStatus = 'none' | 'active' | 'grace' | 'expired';

/**
 * A customer's access to one product: the union of its provisionings' windows, what was last
 * announced about it, and what the host's adapter was last told. Written only under this row's
 * lock, so every change to one (customer, product) is serialised, on any number of instances.
 */
@Entity({ name: 'aqueduct_access' })
@Index('aqueduct_access_customer_product_key', ['customerId', 'productId'], { unique: true })
@Index('aqueduct_access_next_check_idx', { synchronize: false })
export class AqueductAccessEntity {
  @PrimaryColumn('uuid', { default: () => 'gen_random_uuid()' })
  id: string;

  @Column('text', { name: 'customer_id' })
  customerId: string;

  @Column('text', { name: 'product_id' })
  productId: string;

  /** Status when last evaluated (`evaluated_at`); reads derive it from `timeline` at any moment. */
  @Column('text')
  status: EntitlementStatus;

  @Column('boolean', { name: 'has_access' })
  hasAccess: boolean;

  /** Start of the covered span holding `evaluated_at`. */
  @Column('timestamptz', { nullable: true })
  since: Date | null;

  /** End of that span. */
  @Column('timestamptz', { name: 'access_until', nullable: true })
  accessUntil: Date | null;

  /** End of the span's last paid stretch. */
  @Column('timestamptz', { name: 'paid_until', nullable: true })
  paidUntil: Date | null;

  /** The orgs and users of the provisionings granting access (the last ones that did, without). */
  @Column('jsonb')
  orgs: ProvisioningOrgDto[];

  /** The union of the windows: `[{ from, until, status: 'active' | 'grace' }]`, in order. */
  @Column('jsonb')
  timeline: { from: string; until: string; status: 'active' | 'grace' }[];

  /** Some provisioning waits for its invoice to be paid (with `access.requirePayment`). */
  @Column('boolean', { name: 'awaiting_payment' })
  awaitingPayment: boolean;

  /** When the expiry job must look at the row next; null when nothing is ahead. */
  @Column('timestamptz', { name: 'next_check_at', nullable: true })
  nextCheckAt: Date | null;

  @Column('timestamptz', { name: 'evaluated_at', nullable: true })
  evaluatedAt: Date | null;

  @Column('text', { name: 'announced_status' })
  announcedStatus: AnnouncedStatus;

  @Column('timestamptz', { name: 'announced_until', nullable: true })
  announcedUntil: Date | null;

  @Column('jsonb', { name: 'announced_orgs' })
  announcedOrgs: ProvisioningOrgDto[];

  /** Number of `access.*` events written for the row; part of their deduplication keys. */
  @Column('integer', { name: 'announce_seq' })
  announceSeq: number;

  /** Type of the last `access.*` event written for the row: the reason given to the adapter. */
  @Column('text', { name: 'last_transition', nullable: true })
  lastTransition: string | null;

  /** When the ledger first saw a loss not yet announced that the timeline cannot date. */
  @Column('timestamptz', { name: 'loss_observed_at', nullable: true })
  lossObservedAt: Date | null;

  /** Whether the adapter was last told to provision (true) or deprovision (false). */
  @Column('boolean')
  provisioned: boolean;

  @Column('jsonb', { name: 'provisioned_orgs', nullable: true })
  provisionedOrgs: ProvisioningOrgDto[] | null;

  /** Number of adapter calls made for the row; part of their idempotency keys. */
  @Column('integer', { name: 'adapter_seq' })
  adapterSeq: number;

  /** Bumped by every change of the row. */
  @Column('bigint')
  version: string;

  @Column('timestamptz', { name: 'created_at' })
  createdAt: Date;

  @Column('timestamptz', { name: 'updated_at' })
  updatedAt: Date;
}
