import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import type { AqueductEventStatus } from './entities/aqueduct-event.entity';

/** One verified request, ready to be stored. */
export interface InboxRecord {
  dedupKey: string;
  type: string;
  createdAt: Date | null;
  /** The body as JSON text, exactly as received; null when it is not JSON. */
  payloadJson: string | null;
  /** The raw bytes, kept when they are not storable JSON. */
  rawBody: Buffer | null;
  headers: Record<string, string>;
  deliveryId: string | null;
  signedAt: Date | null;
  status: AqueductEventStatus;
  errors: string[] | null;
}

/** `new`: first time seen (or a rejected event now accepted); `duplicate`: already stored. */
export interface InboxResult {
  id: string;
  status: AqueductEventStatus;
  duplicate: boolean;
  /** Validation errors of the stored row when it is rejected. */
  errors: string[] | null;
}

/**
 * One statement stores the event and tells new from duplicate: the unique dedup key makes
 * concurrent copies collapse in Postgres itself, whichever instance receives them. A copy of a
 * rejected event that now validates (after an upgrade) replaces the rejected row.
 */
const STORE_SQL = `
WITH stored AS (
  INSERT INTO aqueduct_events
    (dedup_key, type, created_at, payload, raw_body, headers, delivery_id, signed_at, status, errors)
  VALUES ($1, $2, $3, $4::jsonb, $5, $6::jsonb, $7, $8, $9, $10::jsonb)
  ON CONFLICT (dedup_key) DO UPDATE
    SET type = EXCLUDED.type, created_at = EXCLUDED.created_at, payload = EXCLUDED.payload,
        raw_body = EXCLUDED.raw_body, status = EXCLUDED.status, errors = NULL
    WHERE aqueduct_events.status = 'rejected' AND EXCLUDED.status = 'accepted'
  RETURNING id, status, errors
)
SELECT id, status, false AS duplicate, errors FROM stored
UNION ALL
SELECT id, status, true AS duplicate, errors FROM aqueduct_events
 WHERE dedup_key = $1 AND NOT EXISTS (SELECT 1 FROM stored)`;

/**
 * When the conflicting row was committed by another transaction after this statement took its
 * snapshot, the fallback SELECT above cannot see it yet; a second look (new snapshot) does.
 */
const FIND_SQL = `SELECT id, status, true AS duplicate, errors FROM aqueduct_events WHERE dedup_key = $1`;

/** Postgres refuses `\u0000` in jsonb and text: such a body is kept as raw bytes instead. */
const UNSTORABLE_JSON = new Set(['22P05', '22021']);

@Injectable()
export class AqueductInbox {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  async store(record: InboxRecord): Promise<InboxResult> {
    try {
      return await this.insert(record);
    } catch (error) {
      if (
        !UNSTORABLE_JSON.has((error as { code?: string }).code ?? '') ||
        record.payloadJson === null
      ) {
        throw error;
      }
      return this.insert({
        ...record,
        payloadJson: null,
        status: 'rejected',
        errors: ['body contains characters Postgres cannot store as JSON (\\u0000)'],
      });
    }
  }

  private async insert(record: InboxRecord): Promise<InboxResult> {
    const params = [
      record.dedupKey,
      record.type,
      record.createdAt,
      record.payloadJson,
      record.payloadJson === null ? record.rawBody : null,
      JSON.stringify(record.headers),
      record.deliveryId,
      record.signedAt,
      record.status,
      record.errors ? JSON.stringify(record.errors) : null,
    ];
    const rows: InboxResult[] = await this.dataSource.query(STORE_SQL, params);
    if (rows.length > 0) {
      return rows[0];
    }
    const [existing]: InboxResult[] = await this.dataSource.query(FIND_SQL, [record.dedupKey]);
    return existing;
  }
}
