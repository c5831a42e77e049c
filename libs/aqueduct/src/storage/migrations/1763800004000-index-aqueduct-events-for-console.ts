import type { MigrationInterface, QueryRunner } from 'typeorm';
import { AQUEDUCT_MIGRATION_LOCK } from '../aqueduct-storage.constants';

/**
 * Indexes for the console's filtered, keyset-paginated lists (newest first by received_at, id),
 * so that a filter on a customer, or on the rare rejected events, reads one index range instead
 * of walking the whole inbox. The customer index is on the payload expression the queries use,
 * so no column is added and the write path is unchanged; it holds only events naming a customer.
 * Plain CREATE INDEX (a migration runs in a transaction): on a large inbox, create them
 * CONCURRENTLY by hand first and this migration will find them.
 */
export class IndexAqueductEventsForConsole1763800004000 implements MigrationInterface {
  name = 'IndexAqueductEventsForConsole1763800004000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`SELECT pg_advisory_xact_lock($1)`, [AQUEDUCT_MIGRATION_LOCK]);
    await queryRunner.query(`
      CREATE INDEX IF NOT EXISTS aqueduct_events_customer_received_at_idx
        ON aqueduct_events ((payload -> 'object' ->> 'customerId'), received_at, id)
        WHERE (payload -> 'object' ->> 'customerId') IS NOT NULL`);
    await queryRunner.query(`
      CREATE INDEX IF NOT EXISTS aqueduct_events_rejected_received_at_idx
        ON aqueduct_events (received_at, id) WHERE status = 'rejected'`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX IF EXISTS aqueduct_events_rejected_received_at_idx`);
    await queryRunner.query(`DROP INDEX IF EXISTS aqueduct_events_customer_received_at_idx`);
  }
}
