import type { MigrationInterface, QueryRunner } from 'typeorm';
import { AQUEDUCT_MIGRATION_LOCK } from '../aqueduct-storage.constants';

/**
 * An event that leaves out a provisioning's grace period or orgs keeps what it has. When the
 * event that named them arrives later (an older one, retried hours after), it must still give
 * them: the order events arrive in must not decide what the customer keeps. So each provisioning
 * remembers when (the envelope time and the rank of the newest event that named them) its grace
 * period and its orgs were last named; `-infinity` when no event has.
 *
 * The columns are added without a value: a row stored before them has null, read as "named by
 * its last event" (the ledger kept no record of omissions then, so it never fills in over them).
 * Adding a nullable column rewrites nothing, whatever the table's size.
 */
export class TrackAqueductProvisioningOmissions1763800010000 implements MigrationInterface {
  name = 'TrackAqueductProvisioningOmissions1763800010000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`SELECT pg_advisory_xact_lock($1)`, [AQUEDUCT_MIGRATION_LOCK]);
    await queryRunner.query(`
      ALTER TABLE aqueduct_provisionings
        ADD COLUMN IF NOT EXISTS grace_named_at timestamptz,
        ADD COLUMN IF NOT EXISTS grace_named_rank integer,
        ADD COLUMN IF NOT EXISTS orgs_named_at timestamptz,
        ADD COLUMN IF NOT EXISTS orgs_named_rank integer`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`
      ALTER TABLE aqueduct_provisionings
        DROP COLUMN IF EXISTS orgs_named_rank,
        DROP COLUMN IF EXISTS orgs_named_at,
        DROP COLUMN IF EXISTS grace_named_rank,
        DROP COLUMN IF EXISTS grace_named_at`);
  }
}
