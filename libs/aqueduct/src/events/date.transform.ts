import { Transform } from 'class-transformer';

/** Above this an epoch number is taken as milliseconds, below as seconds. */
const EPOCH_MILLISECONDS_FROM = 1e11;

/**
 * Parses an ISO 8601 string or an epoch number into a Date. Anything else is left as it is, so
 * that `@IsDate()` reports the field by name instead of the value silently becoming "Invalid Date".
 */
export function toDate(value: unknown): unknown {
  if (typeof value === 'number' && Number.isFinite(value)) {
    return new Date(value < EPOCH_MILLISECONDS_FROM ? value * 1000 : value);
  }
  if (typeof value === 'string' && value.trim() !== '') {
    const parsed = new Date(value);
    return Number.isNaN(parsed.getTime()) ? value : parsed;
  }
  return value;
}

/** Property decorator: the field is a date given as ISO 8601 text or epoch number. */
export const ParseDate = () => Transform(({ value }) => toDate(value), { toClassOnly: true });
