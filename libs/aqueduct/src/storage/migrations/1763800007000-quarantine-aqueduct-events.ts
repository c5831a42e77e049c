import type { MigrationInterface, QueryRunner } from 'typeorm';
import { AQUEDUCT_MIGRATION_LOCK } from '../aqueduct-storage.constants';

/**
 * Invalid events are quarantined (answered 2xx, kept, alerted on) instead of rejected with a 400
 * that Aqueduct would retry four times and then disable the endpoint for:
 * - `rejected` becomes `quarantined`, and `dismissed` is added (reviewed, nothing to reprocess);
 * - `warnings`: what was assumed to accept an event (the arrival time for a missing `createdAt`);
 * - the customer index holds a prefix of the id: a 4,000-character `customerId` no longer makes
 *   the row too big for the index (Postgres error 54000, which was answered 503 forever);
 * - `aqueduct_alerts`: one row per kind of operator alert, open or resolved, shared by instances.
 */
export class QuarantineAqueductEvents1763800007000 implements MigrationInterface {
  name = 'QuarantineAqueductEvents1763800007000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`SELECT pg_advisory_xact_lock($1)`, [AQUEDUCT_MIGRATION_LOCK]);
    await queryRunner.query(
      `ALTER TABLE aqueduct_events DROP CONSTRAINT IF EXISTS aqueduct_events_status_check`,
    );
    await queryRunner.query(
      `UPDATE aqueduct_events SET status = 'quarantined' WHERE status = 'rejected'`,
    );
    await queryRunner.query(`
      ALTER TABLE aqueduct_events ADD CONSTRAINT aqueduct_events_status_check
        CHECK (status IN ('accepted', 'quarantined', 'dismissed'))`);
    await queryRunner.query(`ALTER TABLE aqueduct_events ADD COLUMN IF NOT EXISTS warnings jsonb`);
    await queryRunner.query(`DROP INDEX IF EXISTS aqueduct_events_rejected_received_at_idx`);
    await queryRunner.query(`
      CREATE INDEX IF NOT EXISTS aqueduct_events_quarantined_received_at_idx
        ON aqueduct_events (received_at, id) WHERE status = 'quarantined'`);
    await queryRunner.query(`DROP INDEX IF EXISTS aqueduct_events_customer_received_at_idx`);
    await queryRunner.query(`
      CREATE INDEX IF NOT EXISTS aqueduct_events_customer_prefix_received_at_idx
        ON aqueduct_events ((left(payload -> 'object' ->> 'customerId', 200)), received_at, id)
        WHERE (payload -> 'object' ->> 'customerId') IS NOT NULL`);
    await queryRunner.query(`
      CREATE TABLE IF NOT EXISTS aqueduct_alerts (
        kind          text PRIMARY KEY,
        status        text NOT NULL CHECK (status IN ('open', 'resolved')),
        reason        text NOT NULL,
        details       jsonb NOT NULL DEFAULT '{}'::jsonb,
        occurrences   integer NOT NULL DEFAULT 1,
        raised_at     timestamptz NOT NULL DEFAULT now(),
        last_seen_at  timestamptz NOT NULL DEFAULT now(),
        resolved_at   timestamptz
      )`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE IF EXISTS aqueduct_alerts`);
    await queryRunner.query(`DROP INDEX IF EXISTS aqueduct_events_customer_prefix_received_at_idx`);
    await queryRunner.query(`
      CREATE INDEX IF NOT EXISTS aqueduct_events_customer_received_at_idx
        ON aqueduct_events ((payload -> 'object' ->> 'customerId'), received_at, id)
        WHERE (payload -> 'object' ->> 'customerId') IS NOT NULL`);
    await queryRunner.query(`DROP INDEX IF EXISTS aqueduct_events_quarantined_received_at_idx`);
    await queryRunner.query(`
      CREATE INDEX IF NOT EXISTS aqueduct_events_rejected_received_at_idx
        ON aqueduct_events (received_at, id) WHERE status = 'rejected'`);
    await queryRunner.query(`ALTER TABLE aqueduct_events DROP COLUMN IF EXISTS warnings`);
    await queryRunner.query(
      `ALTER TABLE aqueduct_events DROP CONSTRAINT IF EXISTS aqueduct_events_status_check`,
    );
    await queryRunner.query(
      `UPDATE aqueduct_events SET status = 'rejected' WHERE status IN ('quarantined', 'dismissed')`,
    );
    await queryRunner.query(`
      ALTER TABLE aqueduct_events ADD CONSTRAINT aqueduct_events_status_check
        CHECK (status IN ('accepted', 'rejected'))`);
  }
}
