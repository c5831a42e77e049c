import type { MigrationInterface, QueryRunner } from 'typeorm';
import {
  ACCESS_CHANGE_TRIGGER,
  ACCESS_CHANNEL,
  AQUEDUCT_MIGRATION_LOCK,
} from '../aqueduct-storage.constants';

/**
 * Every change to what an access check reads (the timeline, waiting for payment, the orgs and
 * their users) NOTIFYs the customer's id on `aqueduct_access`, from a trigger: the ledger, the
 * expiry job, a CLI in another process and a hand-written UPDATE all invalidate every instance's
 * access cache the same way. The notification is sent at commit, so no instance can reload the
 * row before the change is visible. The adapter's columns and the sweep's bookkeeping
 * (`next_check_at`, `evaluated_at`) notify nobody.
 */
export class NotifyAqueductAccessChanges1763800008000 implements MigrationInterface {
  name = 'NotifyAqueductAccessChanges1763800008000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`SELECT pg_advisory_xact_lock($1)`, [AQUEDUCT_MIGRATION_LOCK]);
    await queryRunner.query(`
      CREATE OR REPLACE FUNCTION aqueduct_access_notify() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP = 'UPDATE' AND OLD.customer_id IS DISTINCT FROM NEW.customer_id THEN
          PERFORM pg_notify('${ACCESS_CHANNEL}', OLD.customer_id);
        END IF;
        PERFORM pg_notify('${ACCESS_CHANNEL}', CASE WHEN TG_OP = 'DELETE' THEN OLD.customer_id ELSE NEW.customer_id END);
        RETURN NULL;
      END $$`);
    await queryRunner.query(`DROP TRIGGER IF EXISTS ${ACCESS_CHANGE_TRIGGER} ON aqueduct_access`);
    await queryRunner.query(`
      CREATE TRIGGER ${ACCESS_CHANGE_TRIGGER} AFTER UPDATE ON aqueduct_access FOR EACH ROW
        WHEN (OLD.timeline IS DISTINCT FROM NEW.timeline
           OR OLD.awaiting_payment IS DISTINCT FROM NEW.awaiting_payment
           OR OLD.orgs IS DISTINCT FROM NEW.orgs
           OR OLD.customer_id IS DISTINCT FROM NEW.customer_id
           OR OLD.product_id IS DISTINCT FROM NEW.product_id)
        EXECUTE FUNCTION aqueduct_access_notify()`);
    await queryRunner.query(`DROP TRIGGER IF EXISTS aqueduct_access_notify_row ON aqueduct_access`);
    await queryRunner.query(`
      CREATE TRIGGER aqueduct_access_notify_row AFTER INSERT OR DELETE ON aqueduct_access
        FOR EACH ROW EXECUTE FUNCTION aqueduct_access_notify()`);
    // TRUNCATE has no rows: one notification with an empty payload means "forget everything".
    await queryRunner.query(`
      CREATE OR REPLACE FUNCTION aqueduct_access_notify_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        PERFORM pg_notify('${ACCESS_CHANNEL}', '');
        RETURN NULL;
      END $$`);
    await queryRunner.query(
      `DROP TRIGGER IF EXISTS aqueduct_access_notify_truncate ON aqueduct_access`,
    );
    await queryRunner.query(`
      CREATE TRIGGER aqueduct_access_notify_truncate AFTER TRUNCATE ON aqueduct_access
        FOR EACH STATEMENT EXECUTE FUNCTION aqueduct_access_notify_truncate()`);
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`DROP TRIGGER IF EXISTS ${ACCESS_CHANGE_TRIGGER} ON aqueduct_access`);
    await queryRunner.query(`DROP TRIGGER IF EXISTS aqueduct_access_notify_row ON aqueduct_access`);
    await queryRunner.query(
      `DROP TRIGGER IF EXISTS aqueduct_access_notify_truncate ON aqueduct_access`,
    );
    await queryRunner.query(`DROP FUNCTION IF EXISTS aqueduct_access_notify()`);
    await queryRunner.query(`DROP FUNCTION IF EXISTS aqueduct_access_notify_truncate()`);
  }
}
