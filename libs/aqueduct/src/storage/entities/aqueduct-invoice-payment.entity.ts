import { Column, Entity, PrimaryColumn } from 'typeorm';

/** An invoice Aqueduct reported paid (`invoice.paid`), linking it to its provisionings. */
@Entity({ name: 'aqueduct_invoice_payments' })
export class AqueductInvoicePaymentEntity {
  @PrimaryColumn('text', { name: 'invoice_id' })
  invoiceId: string;

  /** When the first `invoice.paid` for it reached the ledger: access can start from here. */
  @Column('timestamptz', { name: 'paid_at' })
  paidAt: Date;

  @Column('uuid', { name: 'event_id', nullable: true })
  eventId: string | null;

  @Column('timestamptz', { name: 'created_at' })
  createdAt: Date;
}
