import { Column, Entity, PrimaryColumn } from 'typeorm';
import type { DeliveryAttempt } from '../../dispatch/delivery-attempt-log';

export type AqueductDeliveryState = 'pending' | 'active' | 'done' | 'dead';

/** One listener's work on one event: retried alone, dead-lettered alone, replayed alone. */
@Entity({ name: 'aqueduct_deliveries' })
export class AqueductDeliveryEntity {
  @PrimaryColumn('uuid', { name: 'event_id' })
  eventId: string;

  @PrimaryColumn('text')
  listener: string;

  @Column('text')
  state: AqueductDeliveryState;

  @Column('integer')
  attempts: number;

  /** When the row is next runnable: due time when pending, lease expiry when active. */
  @Column('timestamptz', { name: 'run_at' })
  runAt: Date;

  @Column('timestamptz', { name: 'locked_until', nullable: true })
  lockedUntil: Date | null;

  @Column('text', { name: 'locked_by', nullable: true })
  lockedBy: string | null;

  @Column('text', { name: 'last_error', nullable: true })
  lastError: string | null;

  @Column('timestamptz', { name: 'created_at' })
  createdAt: Date;

  @Column('timestamptz', { name: 'started_at', nullable: true })
  startedAt: Date | null;

  @Column('timestamptz', { name: 'finished_at', nullable: true })
  finishedAt: Date | null;

  /** The last attempts (and replay/redrive markers), oldest first; bounded (ATTEMPT_LOG_LIMIT). */
  @Column('jsonb', { name: 'attempt_log', default: () => "'[]'::jsonb" })
  attemptLog: DeliveryAttempt[];
}
