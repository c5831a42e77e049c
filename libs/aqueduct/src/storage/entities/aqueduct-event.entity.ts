import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/**
 * `accepted`: delivered to its listeners. `quarantined`: authentic but not understood (not JSON,
 * not an object, refused by the DTOs of a known type), kept byte for byte with its errors and delivered to no listener
 * until it is reprocessed (after a fix) or dismissed by an operator.
 */
export type AqueductEventStatus = 'accepted' | 'quarantined' | 'dismissed';

/**
 * The inbox: every verified request, stored before it is acknowledged. A request that fails
 * validation is kept as `quarantined` with its errors, for inspection and reprocessing after a fix.
 */
@Entity({ name: 'aqueduct_events' })
@Index('aqueduct_events_received_at_idx', ['receivedAt', 'id'])
@Index('aqueduct_events_type_received_at_idx', ['type', 'receivedAt'])
// Expression and partial indexes from the migrations, which `synchronize` must leave alone.
@Index('aqueduct_events_customer_prefix_received_at_idx', { synchronize: false })
@Index('aqueduct_events_quarantined_received_at_idx', { synchronize: false })
export class AqueductEventEntity {
  @PrimaryColumn('uuid', { default: () => 'gen_random_uuid()' })
  id: string;

  /** Delivery id (`id:<id>`) when the scheme carries one, else `sha256:<hex of the raw body>`. */
  @Index('aqueduct_events_dedup_key_key', { unique: true })
  @Column('text', { name: 'dedup_key' })
  dedupKey: string;

  /** Canonical (dotted) event type; `unknown` when the body names none. */
  @Column('text')
  type: string;

  /** The envelope's `createdAt`: when Aqueduct created the event. */
  @Column('timestamptz', { name: 'created_at', nullable: true })
  createdAt: Date | null;

  @Column('timestamptz', { name: 'received_at', default: () => 'now()' })
  receivedAt: Date;

  /** The body as JSON, unknown fields included. */
  @Column('jsonb', { nullable: true })
  payload: unknown;

  /** The raw bytes, kept for a quarantined event (and whenever they could not be stored as JSON). */
  @Column('bytea', { name: 'raw_body', nullable: true })
  rawBody: Buffer | null;

  /** Headers worth keeping for debugging; never a signature or secret. */
  @Column('jsonb', { default: () => `'{}'::jsonb` })
  headers: Record<string, string>;

  @Column('text', { name: 'delivery_id', nullable: true })
  deliveryId: string | null;

  @Column('timestamptz', { name: 'signed_at', nullable: true })
  signedAt: Date | null;

  @Column('text')
  status: AqueductEventStatus;

  /** Validation errors of a quarantined event, each naming its field. */
  @Column('jsonb', { nullable: true })
  errors: string[] | null;

  /** What was assumed to accept the event, e.g. the arrival time for a missing `createdAt`. */
  @Column('jsonb', { nullable: true })
  warnings: string[] | null;
}
