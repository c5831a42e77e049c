import type { MigrationInterface, QueryRunner } from 'typeorm';
import { AQUEDUCT_MIGRATION_LOCK } from '../aqueduct-storage.constants';

/**
 * An invoice's payments are kept per customer: invoice ids are not promised unique across
 * customers, and with `access.requirePayment` one customer's `invoice.paid` opened another's
 * provisioning of the same invoice id. A payment that names its customer (the Invoice object's
 * `customerId`) pays that customer's provisionings only (see `PAIRS_OF_INVOICE_SQL`); one that names
 * none keeps `''` and pays every provisioning of that invoice id, as every payment recorded before
 * did. The key changes: 0.7 instances still running fail to record a payment (their delivery retries).
 */
export class KeyAqueductInvoicePaymentsByCustomer1763800012000 implements MigrationInterface {
  name = 'KeyAqueductInvoicePaymentsByCustomer1763800012000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`SELECT pg_advisory_xact_lock($1)`, [AQUEDUCT_MIGRATION_LOCK]);
    await queryRunner.query(
      `ALTER TABLE aqueduct_invoice_payments ADD COLUMN IF NOT EXISTS customer_id text NOT NULL DEFAULT ''`,
    );
    await queryRunner.query(
      `ALTER TABLE aqueduct_invoice_payments DROP CONSTRAINT IF EXISTS aqueduct_invoice_payments_pkey`,
    );
    await queryRunner.query(
      `ALTER TABLE aqueduct_invoice_payments ADD CONSTRAINT aqueduct_invoice_payments_pkey PRIMARY KEY (invoice_id, customer_id)`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(`SELECT pg_advisory_xact_lock($1)`, [AQUEDUCT_MIGRATION_LOCK]);
    // Back to one payment per invoice, its first, paying every customer's provisioning of it.
    await queryRunner.query(`
      DELETE FROM aqueduct_invoice_payments a USING aqueduct_invoice_payments b
       WHERE a.invoice_id = b.invoice_id AND (a.paid_at, a.customer_id) > (b.paid_at, b.customer_id)`);
    await queryRunner.query(
      `ALTER TABLE aqueduct_invoice_payments DROP CONSTRAINT IF EXISTS aqueduct_invoice_payments_pkey`,
    );
    await queryRunner.query(
      `ALTER TABLE aqueduct_invoice_payments DROP COLUMN IF EXISTS customer_id`,
    );
    await queryRunner.query(
      `ALTER TABLE aqueduct_invoice_payments ADD CONSTRAINT aqueduct_invoice_payments_pkey PRIMARY KEY (invoice_id)`,
    );
  }
}
