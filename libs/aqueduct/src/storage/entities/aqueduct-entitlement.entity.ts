import { Column, Entity, PrimaryColumn } from 'typeorm';
import type { ProvisioningOrgDto } from '../../events/provisioning.dto';

export type EntitlementStatus = 'scheduled' | 'active' | 'grace' | 'expired';

/** One provisioning in the access ledger. */
@Entity({ name: 'aqueduct_entitlements' })
export class AqueductEntitlementEntity {
  @PrimaryColumn('uuid', { default: () => 'gen_random_uuid()' })
  id: string;

  /** The provisioning's id when it has one, else customer, product and subscription (or invoice). */
  @Column('text', { unique: true })
  key: string;

  @Column('text', { name: 'customer_id' })
  customerId: string;

  @Column('text', { name: 'product_id' })
  productId: string;

  @Column('text', { name: 'subscription_id', nullable: true })
  subscriptionId: string | null;

  @Column('text', { name: 'invoice_id', nullable: true })
  invoiceId: string | null;

  @Column('timestamptz', { name: 'start_date' })
  startDate: Date;

  @Column('timestamptz', { name: 'end_date' })
  endDate: Date;

  @Column('timestamptz', { name: 'grace_period_end_date', nullable: true })
  gracePeriodEndDate: Date | null;

  @Column('timestamptz', { name: 'contract_start_date', nullable: true })
  contractStartDate: Date | null;

  @Column('timestamptz', { name: 'contract_end_date', nullable: true })
  contractEndDate: Date | null;

  /** The grace period's end, or the end date when there is none: access ends here. */
  @Column('timestamptz', { name: 'access_until' })
  accessUntil: Date;

  @Column('jsonb')
  orgs: ProvisioningOrgDto[];

  @Column('jsonb', { nullable: true })
  metadata: Record<string, unknown> | null;

  @Column('text')
  status: EntitlementStatus;

  @Column('timestamptz', { name: 'next_transition_at', nullable: true })
  nextTransitionAt: Date | null;

  @Column('uuid', { name: 'last_event_id', nullable: true })
  lastEventId: string | null;

  @Column('text', { name: 'last_event_type' })
  lastEventType: string;

  /** Envelope `createdAt` of the last event applied: older events change nothing. */
  @Column('timestamptz', { name: 'last_event_at' })
  lastEventAt: Date;

  /** Breaks ties between events created at the same instant: start < update < end. */
  @Column('smallint', { name: 'last_event_rank' })
  lastEventRank: number;

  /** Whether the host's adapter was last told to provision (true) or deprovision (false). */
  @Column('boolean')
  provisioned: boolean;

  @Column('jsonb', { name: 'provisioned_orgs', nullable: true })
  provisionedOrgs: ProvisioningOrgDto[] | null;

  @Column('timestamptz', { name: 'expired_at', nullable: true })
  expiredAt: Date | null;

  @Column('timestamptz', { name: 'created_at' })
  createdAt: Date;

  @Column('timestamptz', { name: 'updated_at' })
  updatedAt: Date;
}
