import { BadRequestException, NotFoundException } from '@nestjs/common';
import type { EventFilter } from '../storage/aqueduct-storage.types';
import { CONSOLE_FILTER_MAX_LENGTH } from './console.constants';
import { toDate } from '../events/date.transform';
import { isEventId } from '../storage/event-id';

/** The list's filters as the form shows them back. */
export interface EventQueryForm {
  type: string;
  status: string;
  customer: string;
  from: string;
  to: string;
}

const STATUSES = ['accepted', 'quarantined', 'dismissed', 'dead'];
/** Links written before quarantine replaced rejection keep working. */
const STATUS_ALIASES: Record<string, string> = { rejected: 'quarantined' };
/** `datetime-local` gives `2025-01-31T14:00` (no zone); ISO 8601 with a zone is taken too. */
const DATE_TIME = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?)?(Z|[+-]\d{2}:\d{2})?$/i;

export { isEventId };

/**
 * The `:id` of a console route. Event ids are UUIDs: anything else cannot exist, and must not
 * reach a uuid column.
 */
export function eventIdParam(id: string): string {
  if (!isEventId(id)) {
    throw new NotFoundException(`There is no event ${id}.`);
  }
  return id;
}

/**
 * Reads the list's query string. Anything malformed is a 400 naming the parameter, never a
 * database error: a bad link should say what is wrong with it.
 */
export function parseEventQuery(
  query: Record<string, unknown>,
  pageSize: number,
): { filter: EventFilter; form: EventQueryForm } {
  const form: EventQueryForm = {
    type: text(query, 'type'),
    status: text(query, 'status'),
    customer: text(query, 'customer'),
    from: text(query, 'from'),
    to: text(query, 'to'),
  };
  form.status = STATUS_ALIASES[form.status] ?? form.status;
  if (form.status && !STATUSES.includes(form.status)) {
    throw badQuery('status', `must be one of ${STATUSES.join(', ')}`);
  }
  const filter: EventFilter = { limit: pageSize, ...parseCursor(query) };
  if (form.type) filter.type = form.type;
  if (form.status === 'dead') filter.withDeadDeliveries = true;
  else if (form.status) filter.status = form.status as EventFilter['status'];
  if (form.customer) filter.customerId = form.customer;
  if (form.from) filter.since = date('from', form.from);
  if (form.to) filter.until = date('to', form.to);
  return { filter, form };
}

/** `before` / `after`: the id of the last (first) event of the page seen. */
export function parseCursor(query: Record<string, unknown>): Pick<EventFilter, 'before' | 'after'> {
  const before = text(query, 'before');
  const after = text(query, 'after');
  if (before && after) {
    throw badQuery('before', 'cannot be combined with "after"');
  }
  for (const [name, value] of [
    ['before', before],
    ['after', after],
  ]) {
    if (value && !isEventId(value)) {
      throw badQuery(name, 'must be an event id (a UUID) taken from a page link');
    }
  }
  return { ...(before ? { before } : {}), ...(after ? { after } : {}) };
}

function text(query: Record<string, unknown>, name: string): string {
  const value = query[name];
  if (value === undefined) {
    return '';
  }
  if (typeof value !== 'string') {
    throw badQuery(name, 'must be given once, as text');
  }
  if (value.length > CONSOLE_FILTER_MAX_LENGTH) {
    throw badQuery(name, `must be at most ${CONSOLE_FILTER_MAX_LENGTH} characters`);
  }
  return value.trim();
}

function date(name: string, value: string): Date {
  // Without an offset, UTC: as events' dates are read.
  const parsed = DATE_TIME.test(value) ? toDate(value) : null;
  if (!(parsed instanceof Date)) {
    throw badQuery(name, 'must be a date and time such as 2025-01-31T14:00 (UTC)');
  }
  return parsed;
}

function badQuery(name: string, problem: string): BadRequestException {
  return new BadRequestException(`Query parameter "${name}" ${problem}.`);
}
