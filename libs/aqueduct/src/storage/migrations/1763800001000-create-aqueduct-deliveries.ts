import type { MigrationInterface, QueryRunner } from 'typeorm';
import { AQUEDUCT_MIGRATION_LOCK } from '../aqueduct-storage.constants';

/**
 * One row per (event, listener). `run_at` is when the row is next runnable: the due time of a
 * pending row, the lease expiry of an active one. One partial index then serves every claim, and
 * its size is the backlog, not the history.
 */
export class CreateAqueductDeliveries1763800001000 implements MigrationInterface {
  name = 'CreateAqueductDeliveries1763800001000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`SELECT pg_advisory_xact_lock($1)`, [AQUEDUCT_MIGRATION_LOCK]);
    await queryRunner.query(`
      CREATE TABLE IF NOT EXISTS aqueduct_deliveries (
        event_id     uuid NOT NULL REFERENCES aqueduct_events (id) ON DELETE CASCADE,
        listener     text NOT NULL,
        state        text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'active', 'done', 'dead')),
        attempts     integer NOT NULL DEFAULT 0,
        run_at       timestamptz NOT NULL DEFAULT now(),
        locked_until timestamptz,
        locked_by    text,
        last_error   text,
        created_at   timestamptz NOT NULL DEFAULT now(),
        started_at   timestamptz,
        finished_at  timestamptz,
        PRIMARY KEY (event_id, listener)
      )`);
    await queryRunner.query(`
      CREATE INDEX IF NOT EXISTS aqueduct_deliveries_runnable_idx
        ON aqueduct_deliveries (run_at) WHERE state IN ('pending', 'active')`);
    // A queue table churns: analyse and vacuum it far sooner than the defaults (10-20 % of rows
    // changed), or claim plans built on the statistics of an empty table sort the whole backlog.
    await queryRunner.query(`
      ALTER TABLE aqueduct_deliveries SET (
        autovacuum_analyze_scale_factor = 0.01, autovacuum_analyze_threshold = 500,
        autovacuum_vacuum_scale_factor = 0.02, autovacuum_vacuum_threshold = 1000)`);
    await queryRunner.query(`
      CREATE INDEX IF NOT EXISTS aqueduct_deliveries_dead_idx
        ON aqueduct_deliveries (finished_at) WHERE state = 'dead'`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE IF EXISTS aqueduct_deliveries`);
  }
}
