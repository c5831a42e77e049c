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

const UNIX_SECONDS = /^\d{1,12}$/;

/** Parses a Unix-seconds timestamp header and checks it lies within `toleranceSeconds` of `now`. */
export function checkTimestamp(value: string, toleranceSeconds: number, now = Date.now()): Date {
  if (!UNIX_SECONDS.test(value)) {
    throw new WebhookVerificationError(
      'timestamp header is not a Unix time in seconds',
      'malformed',
    );
  }
  const seconds = Number(value);
  const skew = Math.abs(Math.floor(now / 1000) - seconds);
  if (skew > toleranceSeconds) {
    throw new WebhookVerificationError(
      `timestamp is ${skew}s away from now, more than the ${toleranceSeconds}s tolerance`,
      'stale-timestamp',
    );
  }
  return new Date(seconds * 1000);
}
