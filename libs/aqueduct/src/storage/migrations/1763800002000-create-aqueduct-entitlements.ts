import type { MigrationInterface, QueryRunner } from 'typeorm';
import { AQUEDUCT_MIGRATION_LOCK } from '../aqueduct-storage.constants';

/**
 * The access ledger: one row per provisioning. `access_until` (grace end, else end) decides access;
 * `next_transition_at` is when the sweep must look at the row next (start for a scheduled row,
 * `access_until` otherwise, NULL once expired), so the sweep's partial index holds only live rows.
 */
export class CreateAqueductEntitlements1763800002000 implements MigrationInterface {
  name = 'CreateAqueductEntitlements1763800002000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`SELECT pg_advisory_xact_lock($1)`, [AQUEDUCT_MIGRATION_LOCK]);
    await queryRunner.query(`
      CREATE TABLE IF NOT EXISTS aqueduct_entitlements (
        id                     uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        key                    text NOT NULL,
        customer_id            text NOT NULL,
        product_id             text NOT NULL,
        subscription_id        text,
        invoice_id             text,
        start_date             timestamptz NOT NULL,
        end_date               timestamptz NOT NULL,
        grace_period_end_date  timestamptz,
        contract_start_date    timestamptz,
        contract_end_date      timestamptz,
        access_until           timestamptz NOT NULL,
        orgs                   jsonb NOT NULL DEFAULT '[]'::jsonb,
        metadata               jsonb,
        status                 text NOT NULL CHECK (status IN ('scheduled', 'active', 'grace', 'expired')),
        next_transition_at     timestamptz,
        last_event_id          uuid,
        last_event_type        text NOT NULL,
        last_event_at          timestamptz NOT NULL,
        last_event_rank        smallint NOT NULL DEFAULT 0,
        provisioned            boolean NOT NULL DEFAULT false,
        provisioned_orgs       jsonb,
        expired_at             timestamptz,
        created_at             timestamptz NOT NULL DEFAULT now(),
        updated_at             timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT aqueduct_entitlements_key_key UNIQUE (key)
      )`);
    await queryRunner.query(`
      CREATE INDEX IF NOT EXISTS aqueduct_entitlements_customer_product_idx
        ON aqueduct_entitlements (customer_id, product_id, start_date, access_until)`);
    await queryRunner.query(`
      CREATE INDEX IF NOT EXISTS aqueduct_entitlements_due_idx
        ON aqueduct_entitlements (next_transition_at) WHERE next_transition_at IS NOT NULL`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TABLE IF EXISTS aqueduct_entitlements`);
  }
}
