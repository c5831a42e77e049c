import { createHash } from 'node:crypto';
import type { ParsedEvent } from '../events/aqueduct-event.parser';
import type { VerifiedWebhook } from '../options/webhook-verifier.interface';
import type { InboxRecord } from '../storage/aqueduct-inbox.service';
import type { BodyText } from './webhook.body-text';

/** Longest delivery id used as it is in a dedup key; a longer one is hashed (the key is indexed). */
const MAX_DELIVERY_ID_IN_KEY = 200;

/** Longest delivery id stored with the event. */
const MAX_DELIVERY_ID_STORED = 1000;

const sha256 = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

/**
 * The deduplication key: the delivery id when the signature covers it (Standard Webhooks), else
 * the SHA-256 of the raw body, so an id from an unsigned header cannot make one body many events.
 */
export function dedupKeyOf(rawBody: Buffer, verified: VerifiedWebhook): string {
  const id = verified.deliveryIdSigned ? verified.deliveryId : undefined;
  if (!id) {
    return `sha256:${sha256(rawBody)}`;
  }
  return id.length > MAX_DELIVERY_ID_IN_KEY ? `id-sha256:${sha256(id)}` : `id:${id}`;
}

/** A verified request, as the receiver knows it once the body is parsed. */
export interface ReceivedWebhook {
  rawBody: Buffer;
  /** What the parser read. */
  body: BodyText;
  verified: VerifiedWebhook;
  parsed: ParsedEvent;
  /** The headers kept with the event. */
  headers: Record<string, string>;
  /** The listeners of its type. */
  listeners: string[];
}

/**
 * The inbox record of a received event: accepted when it parsed, else quarantined with its errors.
 * Stored pending for any instance (the receiver sets `lease` when it runs the listeners itself).
 */
export function toInboxRecord({
  rawBody,
  body,
  verified,
  parsed,
  headers,
  listeners,
}: ReceivedWebhook): InboxRecord {
  return {
    dedupKey: dedupKeyOf(rawBody, verified),
    type: parsed.type,
    // Without a createdAt, the arrival time orders the event (and the event says so).
    createdAt: parsed.createdAt ?? (parsed.valid ? new Date() : null),
    // The received text itself: no re-serialisation, and numbers keep their precision.
    payloadJson: parsed.payload === null ? null : body.utf8.toString('utf8'),
    rawBody,
    headers,
    deliveryId: verified.deliveryId?.slice(0, MAX_DELIVERY_ID_STORED) ?? null,
    signedAt: verified.signedAt ?? null,
    status: parsed.valid ? 'accepted' : 'quarantined',
    errors: parsed.valid ? null : parsed.errors,
    warnings: warningsOf(parsed, body),
    keepRawBody: body.warning !== undefined,
    listeners,
  };
}

/** What was assumed to accept the event, or null. */
function warningsOf(parsed: ParsedEvent, body: BodyText): string[] | null {
  const warnings = [
    ...(parsed.valid ? parsed.warnings : []),
    ...(body.warning ? [body.warning] : []),
  ];
  return warnings.length > 0 ? warnings : null;
}
