import { Transform } from 'class-transformer';

/** Above this an epoch number is taken as milliseconds, below as seconds. */
const EPOCH_MILLISECONDS_FROM = 1e11;

/**
 * An ISO 8601 date and time with no offset (`2026-03-01T12:00:00`, or with a space). JavaScript
 * reads it in the server's time zone, so the same event would grant access at different instants
 * on hosts in different zones: it is read as UTC, as a date alone already is.
 */
const DATE_TIME_WITHOUT_OFFSET = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/i;

/**
 * Parses an ISO 8601 string or an epoch number into a Date. Anything else is left as it is, so
 * that `@IsDate()` reports the field by name instead of the value silently becoming "Invalid Date".
 */
export function toDate(value: unknown): unknown {
  let parsed: Date | undefined;
  if (typeof value === 'number' && Number.isFinite(value)) {
    parsed = new Date(value < EPOCH_MILLISECONDS_FROM ? value * 1000 : value);
  } else if (typeof value === 'string' && value.trim() !== '') {
    const text = value.trim();
    parsed = new Date(DATE_TIME_WITHOUT_OFFSET.test(text) ? `${text.replace(' ', 'T')}Z` : text);
  }
  // Out of range (1e20 gives an Invalid Date; year -4713 is valid in JS but not in Postgres) must
  // fail validation, not reach the database.
  return parsed && inRange(parsed) ? parsed : value;
}

/** Postgres's timestamptz range: from 4714-11-24 BC to the year 294276. */
const POSTGRES_EARLIEST_MS = -210_866_803_200_000;
const POSTGRES_LAST_YEAR = 294_275;

function inRange(date: Date): boolean {
  const time = date.getTime();
  return (
    !Number.isNaN(time) &&
    time >= POSTGRES_EARLIEST_MS &&
    date.getUTCFullYear() <= POSTGRES_LAST_YEAR
  );
}

/** Property decorator: the field is a date given as ISO 8601 text or epoch number. */
export const ParseDate = () => Transform(({ value }) => toDate(value), { toClassOnly: true });
