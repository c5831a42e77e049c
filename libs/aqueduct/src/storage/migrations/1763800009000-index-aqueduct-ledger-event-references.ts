import type { MigrationInterface, QueryRunner } from 'typeorm';
import { AQUEDUCT_MIGRATION_LOCK } from '../aqueduct-storage.constants';

/**
 * Retention keeps every event the ledger refers to (a provisioning's last event, an invoice's
 * payment). Without these indexes each of its batches reads both tables whole, which grows with
 * every customer ever provisioned; with them each candidate event is one index probe, and a batch
 * can walk the events oldest first and stop at its limit. Plain CREATE INDEX (a migration runs in
 * a transaction); both tables hold a row per provisioning or payment, not per event.
 */
export class IndexAqueductLedgerEventReferences1763800009000 implements MigrationInterface {
  name = 'IndexAqueductLedgerEventReferences1763800009000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`SELECT pg_advisory_xact_lock($1)`, [AQUEDUCT_MIGRATION_LOCK]);
    await queryRunner.query(`
      CREATE INDEX IF NOT EXISTS aqueduct_provisionings_last_event_idx
        ON aqueduct_provisionings (last_event_id)`);
    await queryRunner.query(`
      CREATE INDEX IF NOT EXISTS aqueduct_invoice_payments_event_idx
        ON aqueduct_invoice_payments (event_id)`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP INDEX IF EXISTS aqueduct_invoice_payments_event_idx`);
    await queryRunner.query(`DROP INDEX IF EXISTS aqueduct_provisionings_last_event_idx`);
  }
}
