import { Transform } from 'class-transformer';

/** Above this an epoch number is taken as milliseconds, below as seconds. */
const EPOCH_MILLISECONDS_FROM = 1e11;

/**
 * Parses an ISO 8601 string or an epoch number into a Date. Anything else is left as it is, so
 * that `@IsDate()` reports the field by name instead of the value silently becoming "Invalid Date".
 */
export function toDate(value: unknown): unknown {
  let parsed: Date | undefined;
  if (typeof value === 'number' && Number.isFinite(value)) {
    parsed = new Date(value < EPOCH_MILLISECONDS_FROM ? value * 1000 : value);
  } else if (typeof value === 'string' && value.trim() !== '') {
    parsed = new Date(value);
  }
  // Out of range (e.g. 1e20) gives an Invalid Date, which must fail validation, not reach Postgres.
  return parsed && !Number.isNaN(parsed.getTime()) ? parsed : value;
}

/** Property decorator: the field is a date given as ISO 8601 text or epoch number. */
export const ParseDate = () => Transform(({ value }) => toDate(value), { toClassOnly: true });
