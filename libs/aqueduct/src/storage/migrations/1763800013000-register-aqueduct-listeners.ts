import type { MigrationInterface, QueryRunner } from 'typeorm';
import { AQUEDUCT_MIGRATION_LOCK } from '../aqueduct-storage.constants';

/**
 * The listeners any dispatching instance runs, per event type they take (`*`: every type), and
 * when each pair first appeared. An event's deliveries are created for the listeners of the
 * instance that received it; during a rolling deploy that adds a listener (or a type to one), the
 * instances still on the previous release create none for it. Knowing when a pair first appeared
 * lets the instances that run it create what is missing since (`ListenerCatchUp`); `caught_up_to`
 * is how far that went, so a restart goes on from there; `last_seen_at` tells a pair that comes
 * back after a release without it.
 */
export class RegisterAqueductListeners1763800013000 implements MigrationInterface {
  name = 'RegisterAqueductListeners1763800013000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`SELECT pg_advisory_xact_lock($1)`, [AQUEDUCT_MIGRATION_LOCK]);
    await queryRunner.query(`
      CREATE TABLE IF NOT EXISTS aqueduct_listeners (
        name          text NOT NULL,
        event_type    text NOT NULL,
        first_seen_at timestamptz NOT NULL DEFAULT now(),
        caught_up_to  timestamptz NOT NULL DEFAULT now(),
        last_seen_at  timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (name, event_type)
      )`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE IF EXISTS aqueduct_listeners`);
  }
}
