import type { MigrationInterface, QueryRunner } from 'typeorm';

import { AQUEDUCT_MIGRATION_LOCK } from '../aqueduct-storage.constants';

/** The inbox table. gen_random_uuid() is built in from Postgres 13. */
export class CreateAqueductEvents1763800000000 implements MigrationInterface {
  name = 'CreateAqueductEvents1763800000000';

  async up(queryRunner: QueryRunner): Promise<void> {
    // Several instances deploying at once all run pending migrations; the lock serialises them and
    // IF NOT EXISTS makes the later ones no-ops instead of crashing the deploy.
    await queryRunner.query(`SELECT pg_advisory_xact_lock($1)`, [AQUEDUCT_MIGRATION_LOCK]);
    await queryRunner.query(`
      CREATE TABLE IF NOT EXISTS aqueduct_events (
        id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        dedup_key   text NOT NULL,
        type        text NOT NULL,
        created_at  timestamptz,
        received_at timestamptz NOT NULL DEFAULT now(),
        payload     jsonb,
        raw_body    bytea,
        headers     jsonb NOT NULL DEFAULT '{}'::jsonb,
        delivery_id text,
        signed_at   timestamptz,
        status      text NOT NULL CHECK (status IN ('accepted', 'rejected')),
        errors      jsonb,
        CONSTRAINT aqueduct_events_dedup_key_key UNIQUE (dedup_key)
      )`);
    await queryRunner.query(
      `CREATE INDEX IF NOT EXISTS aqueduct_events_received_at_idx ON aqueduct_events (received_at, id)`,
    );
    await queryRunner.query(
      `CREATE INDEX IF NOT EXISTS aqueduct_events_type_received_at_idx ON aqueduct_events (type, received_at)`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE IF EXISTS aqueduct_events`);
  }
}
