import type { MigrationInterface, QueryRunner } from 'typeorm';
import { AQUEDUCT_MIGRATION_LOCK } from '../aqueduct-storage.constants';

/**
 * Each delivery's recent attempts (outcome, times, error, instance), oldest first, capped at
 * ATTEMPT_LOG_LIMIT entries by the statements that append to it. On the row rather than in a
 * table of its own so that recording an attempt stays one UPDATE. A constant default is
 * metadata-only from Postgres 11: adding the column does not rewrite the table.
 */
export class AddAqueductDeliveryAttemptLog1763800005000 implements MigrationInterface {
  name = 'AddAqueductDeliveryAttemptLog1763800005000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`SELECT pg_advisory_xact_lock($1)`, [AQUEDUCT_MIGRATION_LOCK]);
    await queryRunner.query(`
      ALTER TABLE aqueduct_deliveries
        ADD COLUMN IF NOT EXISTS attempt_log jsonb NOT NULL DEFAULT '[]'::jsonb`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`ALTER TABLE aqueduct_deliveries DROP COLUMN IF EXISTS attempt_log`);
  }
}
