import type { MigrationInterface, QueryRunner } from 'typeorm';
import { AQUEDUCT_MIGRATION_LOCK } from '../aqueduct-storage.constants';

/**
 * The receiver's own record of when it was down. Every instance that serves the webhook writes a
 * heartbeat (one row: by the module's clock, where gaps are placed, and by Postgres's, which tells
 * how long it really was); one that finds the previous beat too old records the time between as a gap.
 * A renewal's start that Aqueduct sent into such a gap was refused, and comes back only with its
 * next retry (hours later): renewal windows stretch over the attempts a gap swallowed, so the
 * customer keeps access until it can arrive (see `RenewalWindow`).
 */
export class RecordAqueductReceiverGaps1763800011000 implements MigrationInterface {
  name = 'RecordAqueductReceiverGaps1763800011000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`SELECT pg_advisory_xact_lock($1)`, [AQUEDUCT_MIGRATION_LOCK]);
    await queryRunner.query(`
      CREATE TABLE IF NOT EXISTS aqueduct_receiver_heartbeat (
        id smallint PRIMARY KEY DEFAULT 1 CHECK (id = 1),
        seen_at timestamptz NOT NULL,
        beat_at timestamptz NOT NULL DEFAULT now()
      )`);
    await queryRunner.query(`
      CREATE TABLE IF NOT EXISTS aqueduct_receiver_gaps (
        id bigserial PRIMARY KEY,
        from_at timestamptz NOT NULL,
        until_at timestamptz NOT NULL,
        CHECK (until_at > from_at)
      )`);
    await queryRunner.query(
      `CREATE INDEX IF NOT EXISTS aqueduct_receiver_gaps_until ON aqueduct_receiver_gaps (until_at)`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE IF EXISTS aqueduct_receiver_gaps`);
    await queryRunner.query(`DROP TABLE IF EXISTS aqueduct_receiver_heartbeat`);
  }
}
