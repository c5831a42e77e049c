import type { MigrationInterface, QueryRunner } from 'typeorm';
import { AQUEDUCT_MIGRATION_LOCK } from '../aqueduct-storage.constants';

/**
 * The dispatching instances running now, and the listeners each runs (per event type, in step).
 * Every instance creates, with an event it receives, the deliveries of the listeners the others run
 * as well as its own; a row per instance (written every minute, deleted at shutdown) tells which
 * pairs still run somewhere: a listener of instances that all stopped gets no more deliveries.
 */
export class RecordAqueductInstances1763800014000 implements MigrationInterface {
  name = 'RecordAqueductInstances1763800014000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`SELECT pg_advisory_xact_lock($1)`, [AQUEDUCT_MIGRATION_LOCK]);
    await queryRunner.query(`
      CREATE TABLE IF NOT EXISTS aqueduct_instances (
        id          text PRIMARY KEY,
        names       text[] NOT NULL,
        event_types text[] NOT NULL,
        seen_at     timestamptz NOT NULL DEFAULT now()
      )`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE IF EXISTS aqueduct_instances`);
  }
}
