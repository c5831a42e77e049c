import { truncate, wellFormed } from '../utils/well-formed';
import type { InboxRecord } from './aqueduct-inbox.types';

/**
 * Errors that are the payload's fault, not the database's: class 22 (data exception: `\u0000` or
 * a lone surrogate in jsonb, a number out of numeric's range, a date out of timestamptz's) and
 * class 54 (program limit exceeded: a value too big for an index entry, 54000; nesting deeper
 * than jsonb's parser allows, 54001). A retry would fail the same way, so such a body is kept as
 * raw bytes and quarantined, never lost, never answered 5xx, and never fails the others of its
 * batch. Every other error is the database's (unreachable, read-only, out of disk…): 503.
 */
export const isPayloadFault = (error: unknown) => {
  const code = (error as { code?: string })?.code ?? '';
  return code.startsWith('22') || code.startsWith('54');
};

/** Longest reason, and event type, kept on a record stored as raw bytes. */
const MAX_RAW_TEXT = 200;

/** Text Postgres will take, in text and in JSON: no NUL, no lone surrogate, bounded. */
const storable = (text: string, max = 500) =>
  wellFormed(truncate(text.split('\u0000').join(''), max));

/** Already in the form `asRawRecord` gives: nothing left that Postgres could refuse. */
export const isStoredAsRaw = (record: InboxRecord) =>
  record.payloadJson === null && record.status === 'quarantined' && record.createdAt === null;

/**
 * The record again, as what Postgres cannot refuse: its raw bytes, quarantined with the reason
 * (`error`, the payload fault) and delivered to no listener.
 */
export function asRawRecord(record: InboxRecord, error: unknown): InboxRecord {
  const reason = storable((error as Error).message, MAX_RAW_TEXT);
  return {
    ...record,
    type: storable(record.type, MAX_RAW_TEXT) || 'unknown',
    createdAt: null,
    payloadJson: null,
    status: 'quarantined',
    errors: [`body could not be stored as JSON (${reason}); kept as raw bytes`],
    warnings: null,
    lease: undefined,
  };
}
