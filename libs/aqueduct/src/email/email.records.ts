import type { DataSource } from 'typeorm';
import type { DeliveryFinish } from '../dispatch/delivery.finish';
import { type InlineStatement, inOneTransaction } from '../storage/opening-transaction';

/** Longest error text kept with a refused mail. */
const ERROR_MAX_LENGTH = 1000;

/** One mail as recorded in `aqueduct_emails`, under its key. */
export interface EmailRecord {
  eventId: string;
  template: string;
  recipient: string;
  status: 'sent' | 'rejected';
  messageId: string | null;
  error: string | null;
}

/** The key that makes a mail once only: one per (delivery, recipient, template). */
export function emailKey(idempotencyKey: string, address: string, template: string): string {
  return `${idempotencyKey}:${address.toLowerCase()}:${template}`;
}

/**
 * `aqueduct_emails`: the mails sent or refused for good, by key, so that a retry or a replay skips
 * them. The email folder owns the table.
 */
export class EmailRecords {
  constructor(private readonly dataSource: DataSource) {}

  /** The keys among `keys` that are recorded already. */
  async handled(keys: string[]): Promise<Set<string>> {
    const rows: { key: string }[] = await this.dataSource.query(
      `SELECT key FROM aqueduct_emails WHERE key = ANY($1::text[])`,
      [keys],
    );
    return new Set(rows.map((row) => row.key));
  }

  /**
   * Records a mail; a key recorded already is left as it is. With `finish`, the delivery's `done`
   * commits with it, in the same round trip.
   */
  async add(key: string, record: EmailRecord, finish?: DeliveryFinish): Promise<void> {
    const { eventId, template, recipient, status, messageId, error } = record;
    const insert: InlineStatement = {
      text: `INSERT INTO aqueduct_emails (key, event_id, template, recipient, status, message_id, error)
       VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (key) DO NOTHING`,
      values: [
        key,
        eventId,
        template,
        recipient,
        status,
        messageId,
        error?.slice(0, ERROR_MAX_LENGTH) ?? null,
      ],
    };
    if (!finish) {
      await this.dataSource.query(insert.text, [...insert.values]);
      return;
    }
    const statements = [insert];
    finish.carry((statement) => statements.push(statement));
    await inOneTransaction(this.dataSource, statements);
    finish.committed();
  }
}
