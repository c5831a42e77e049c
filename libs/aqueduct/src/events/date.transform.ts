import { Transform } from 'class-transformer';

/** Above this an epoch number is taken as milliseconds, below as seconds. */
const EPOCH_MILLISECONDS_FROM = 1e11;

/**
 * An ISO 8601 date and time with no offset (`2026-03-01T12:00:00`, or with a space). JavaScript
 * reads it in the server's time zone, so the same event would grant access at different instants
 * on hosts in different zones: it is read as UTC, as a date alone already is.
 */
const DATE_TIME_WITHOUT_OFFSET = /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/i;

/** ISO 8601 (`2026-03-01`, `2026-03-01T12:00Z`...), which JavaScript reads by the standard. */
const ISO_DATE = /^[+-]?\d{4,6}-\d{2}/;

/**
 * A zone in a date JavaScript reads by its older, looser rules (`Dec 31, 2026 10:00 GMT`,
 * `12/31/2026 10:00 -0500`): a zone's name, or an offset (or `Z`) right after the time of day.
 */
const NAMED_ZONE = /\b(?:UTC?|GMT|[ECMP][SD]T)\b/i;
const OFFSET_AFTER_TIME = /\d:\d{2}(?::\d{2}(?:\.\d+)?)?\s*(?:[AP]M\s*)?(?:Z|[+-]\d{2}:?\d{2})\b/i;
/** A time of day, in any form. */
const TIME_OF_DAY = /\d:\d/;

/**
 * Parses an ISO 8601 string, another date text JavaScript reads (`12/31/2026`, `Dec 31, 2026
 * 10:00 GMT`) or an epoch number into a Date. A text without a zone is read as UTC, as an ISO date
 * alone is: JavaScript would read it in the server's zone, so the same event would grant access at
 * different instants on hosts in different zones. Anything else is left as it is, so that
 * `@IsDate()` reports the field by name instead of the value silently becoming "Invalid Date".
 */
export function toDate(value: unknown): unknown {
  let parsed: Date | undefined;
  if (typeof value === 'number' && Number.isFinite(value)) {
    parsed = new Date(value < EPOCH_MILLISECONDS_FROM ? value * 1000 : value);
  } else if (typeof value === 'string' && value.trim() !== '') {
    const text = value.trim();
    if (ISO_DATE.test(text)) {
      parsed = new Date(DATE_TIME_WITHOUT_OFFSET.test(text) ? `${text.replace(' ', 'T')}Z` : text);
    } else {
      parsed = new Date(text);
      parsed = hasZone(text) ? parsed : sameClockInUtc(parsed);
    }
  }
  // Out of range (1e20 gives an Invalid Date; year -4713 is valid in JS but not in Postgres) must
  // fail validation, not reach the database.
  return parsed && inRange(parsed) ? parsed : value;
}

/** An ISO date alone (`2026-01-31`): a day, no time of day. */
const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;
const DAY_MS = 86_400_000;

function hasZone(text: string): boolean {
  return NAMED_ZONE.test(text) || OFFSET_AFTER_TIME.test(text);
}

/** The instant whose UTC clock reads what `local`'s clock reads in the server's zone. */
function sameClockInUtc(local: Date): Date {
  return new Date(
    Date.UTC(
      local.getFullYear(),
      local.getMonth(),
      local.getDate(),
      local.getHours(),
      local.getMinutes(),
      local.getSeconds(),
      local.getMilliseconds(),
    ),
  );
}

/** A day with no time of day: `2026-01-31`, or a looser text such as `12/31/2026`. */
function isDayAlone(text: string): boolean {
  return DATE_ONLY.test(text) || (!ISO_DATE.test(text) && !TIME_OF_DAY.test(text));
}

/**
 * `toDate` for the end of a period (`endDate`, `gracePeriodEndDate`, `contractEndDate`): a date
 * alone (`2026-01-31`, `Jan 31, 2026`) names the period's last day, which the customer has, so it ends at the next midnight
 * (UTC), as a start given as a date begins at its own. Read as its midnight, a monthly
 * subscription sent as "Jan 1 – Jan 31", then "Feb 1 – Feb 28", would lose access for all of
 * Jan 31 at every renewal; read this way, a customer who leaves keeps at most a day more.
 */
export function toEndDate(value: unknown): unknown {
  const parsed = toDate(value);
  if (!(parsed instanceof Date) || typeof value !== 'string' || !isDayAlone(value.trim())) {
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
