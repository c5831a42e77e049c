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

/** A date alone (`2026-01-31`): a day, no time of day. */
const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;
const DAY_MS = 86_400_000;

/**
 * `toDate` for the end of a period (`endDate`, `gracePeriodEndDate`, `contractEndDate`): a date
 * alone names the period's last day, which the customer has, so it ends at the next midnight
 * (UTC), as a start given as a date begins at its own. Read as its midnight, a monthly
 * subscription sent as "Jan 1 – Jan 31", then "Feb 1 – Feb 28", would lose access for all of
 * Jan 31 at every renewal; read this way, a customer who leaves keeps at most a day more.
 */
export function toEndDate(value: unknown): unknown {
  const parsed = toDate(value);
  if (!(parsed instanceof Date) || typeof value !== 'string' || !DATE_ONLY.test(value.trim())) {
    return parsed;
  }
  // "9999-12-31" means "never ends"; its next midnight is a year JSON and Postgres disagree on.
  if (parsed.getUTCFullYear() >= 9999) {
    return parsed;
  }
  const end = new Date(parsed.getTime() + DAY_MS);
  return inRange(end) ? end : value;
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

/** Property decorator: the field is the end of a period (see `toEndDate`). */
export const ParseEndDate = () => Transform(({ value }) => toEndDate(value), { toClassOnly: true });
