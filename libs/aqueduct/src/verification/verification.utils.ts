import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { WebhookVerificationError } from './webhook-verification.error';

/** First non-empty value among `names` (matched case-insensitively). Repeated headers are joined. */
export function readHeader(
  headers: IncomingHttpHeaders,
  ...names: readonly string[]
): string | undefined {
  for (const name of names) {
    const value = headers[name.toLowerCase()];
    const text = Array.isArray(value) ? value.join(', ') : value;
    if (text !== undefined && text.trim() !== '') {
      return text.trim();
    }
  }
  return undefined;
}

/**
 * Equality of two digests in time that depends on their lengths only, which are public: an expected
 * digest's is fixed by its algorithm, an offered one's is the sender's own. (Hashing both sides to
 * hide lengths cost 5 µs per pair; a secret of unknown length is hashed once instead: `sha256`.)
 */
export function digestsEqual(a: Buffer, b: Buffer): boolean {
  return a.length === b.length && timingSafeEqual(a, b);
}

/** SHA-256 of a secret, so that comparing it reveals nothing of its length. */
export function sha256(value: Buffer | string): Buffer {
  return createHash('sha256').update(value).digest();
}

/** True when any candidate equals any expected digest; every pair is compared, no early exit. */
export function anyMatch(candidates: readonly Buffer[], expected: readonly Buffer[]): boolean {
  let matched = false;
  for (const candidate of candidates) {
    for (const value of expected) {
      matched = digestsEqual(candidate, value) || matched;
    }
  }
  return matched;
}

/** A signed timestamp in Unix seconds (Standard Webhooks' form), ... */
const UNIX_SECONDS = /^\d{1,12}$/;
/** ... in Unix milliseconds ... */
const UNIX_MILLISECONDS = /^\d{13}$/;
/** ... or an ISO 8601 date-time with its zone: Aqueduct's format is not documented. */
const ISO_8601 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$/i;

/**
 * Verifies a signed request whose signature covers a timestamp: `signatureMatches` decides, then
 * the timestamp must lie within `toleranceSeconds` of now. A stale timestamp on a signature that
 * matches is refused as `authentic`: the sender signed it with our secret, so it is this server's
 * clock, the sender re-sending an old timestamp on its retries, or a replay, and the operator must
 * know at once (each such retry is refused until Aqueduct disables the endpoint).
 */
export function checkSignedAt(
  timestamp: string,
  toleranceSeconds: number,
  signatureMatches: () => boolean,
): Date {
  let stale: WebhookVerificationError | undefined;
  let signedAt: Date | undefined;
  try {
    signedAt = checkTimestamp(timestamp, toleranceSeconds);
  } catch (error) {
    if (!(error instanceof WebhookVerificationError) || error.kind !== 'stale-timestamp') {
      throw error;
    }
    stale = error;
  }
  let matches: boolean;
  try {
    matches = signatureMatches();
  } catch (error) {
    throw stale ?? error; // what was refused first before: a stale timestamp
  }
  if (!matches) {
    throw stale ?? new WebhookVerificationError('no signature matches any configured secret');
  }
  if (stale) {
    throw new WebhookVerificationError(
      `${stale.reason}, though its signature matches a configured secret`,
      'stale-timestamp',
      true,
    );
  }
  return signedAt!;
}

/**
 * Parses a signed timestamp header (Unix seconds, Unix milliseconds or ISO 8601: the signature
 * covers it as sent, whatever its form) and checks it lies within `toleranceSeconds` of `now`.
 */
export function checkTimestamp(value: string, toleranceSeconds: number, now = Date.now()): Date {
  const at = UNIX_SECONDS.test(value)
    ? Number(value) * 1000
    : UNIX_MILLISECONDS.test(value)
      ? Number(value)
      : ISO_8601.test(value)
        ? Date.parse(value)
        : NaN;
  if (!Number.isFinite(at)) {
    throw new WebhookVerificationError(
      'timestamp header is not a Unix time (seconds or milliseconds) nor an ISO 8601 time',
      'malformed',
    );
  }
  const skew = Math.abs(Math.floor(now / 1000) - Math.floor(at / 1000));
  if (skew > toleranceSeconds) {
    throw new WebhookVerificationError(
      `timestamp is ${skew}s away from now, more than the ${toleranceSeconds}s tolerance`,
      'stale-timestamp',
    );
  }
  return new Date(at);
}
