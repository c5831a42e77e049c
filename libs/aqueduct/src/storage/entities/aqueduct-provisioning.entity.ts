import { Column, Entity, Index, PrimaryColumn } from 'typeorm';
import type { ProvisioningOrgDto } from '../../events/provisioning.dto';

/**
 * One provisioning as Aqueduct last described it: one per invoice (so one per period of a
 * subscription), updated only by an event newer than the last one applied.
 */
@Entity({ name: 'aqueduct_provisionings' })
@Index('aqueduct_provisionings_customer_product_idx', ['customerId', 'productId', 'startDate'])
@Index('aqueduct_provisionings_invoice_idx', { synchronize: false })
export class AqueductProvisioningEntity {
  @PrimaryColumn('uuid', { default: () => 'gen_random_uuid()' })
  id: string;

  /**
   * `id:<id>` when the object has an `id`, else `invoice:<customer>:<product>:<invoiceId>`, else
   * `period:<customer>:<product>:<subscriptionId or ->:<startDate in ms>` (see the README).
   */
  @Index('aqueduct_provisionings_key_key', { unique: true })
  @Column('text')
  key: string;

  /** Aqueduct's id of the provisioning, when its object carries one. */
  @Column('text', { name: 'provisioning_id', nullable: true })
  provisioningId: string | null;

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

  /** The grace period's end, or the end date without one (never before it): its access ends here. */
  @Column('timestamptz', { name: 'access_until' })
  accessUntil: Date;

  @Column('jsonb')
  orgs: ProvisioningOrgDto[];

  @Column('jsonb', { nullable: true })
  metadata: Record<string, unknown> | null;

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

  @Column('timestamptz', { name: 'created_at' })
  createdAt: Date;

  @Column('timestamptz', { name: 'updated_at' })
  updatedAt: Date;
}
