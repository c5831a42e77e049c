import type { MigrationInterface, QueryRunner } from 'typeorm';
import { AQUEDUCT_MIGRATION_LOCK } from '../aqueduct-storage.constants';

/** What the email listener sent (or gave up on), keyed so that a retry or replay never sends twice. */
export class CreateAqueductEmails1763800003000 implements MigrationInterface {
  name = 'CreateAqueductEmails1763800003000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`SELECT pg_advisory_xact_lock($1)`, [AQUEDUCT_MIGRATION_LOCK]);
    await queryRunner.query(`
      CREATE TABLE IF NOT EXISTS aqueduct_emails (
        key         text PRIMARY KEY,
        event_id    uuid NOT NULL,
        template    text NOT NULL,
        recipient   text NOT NULL,
        status      text NOT NULL CHECK (status IN ('sent', 'rejected')),
        message_id  text,
        error       text,
        created_at  timestamptz NOT NULL DEFAULT now()
      )`);
    await queryRunner.query(
      `CREATE INDEX IF NOT EXISTS aqueduct_emails_event_idx ON aqueduct_emails (event_id)`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE IF EXISTS aqueduct_emails`);
  }
}
