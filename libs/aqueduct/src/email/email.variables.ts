import { EMAIL_DEFAULTS } from '../options/aqueduct-options.defaults';
import type { EmailOptions, EmailTemplateVariables } from '../options/email-options.interface';
import type { Recipient } from './email.recipients';

/**
 * How dates are written in every mail: in the configured zone and locale, the zone named
 * ("December 31, 2026 at 12:00 AM UTC"): a customer reading "access ends at 12:00 AM" in another
 * zone must know which midnight.
 */
export function emailDateFormat(email: EmailOptions | undefined): Intl.DateTimeFormat {
  return new Intl.DateTimeFormat(email?.locale ?? EMAIL_DEFAULTS.locale, {
    year: 'numeric',
    month: 'long',
    day: 'numeric',
    hour: 'numeric',
    minute: '2-digit',
    timeZoneName: 'short',
    timeZone: email?.timeZone ?? EMAIL_DEFAULTS.timeZone,
  });
}

/** What the mail knows besides the event's object, as it goes out. */
export interface MailMoment {
  /** The module's clock when the mail goes out. */
  now: Date;
  /** For an alert: when its incident ended, if it has (null: still open). */
  alertEndedAt?: Date | null;
}

/** A date as sent (a `Date`, or an ISO string), or undefined when it cannot be read. */
function dateOf(value: unknown): Date | undefined {
  const parsed =
    value instanceof Date ? value : typeof value === 'string' ? new Date(value) : undefined;
  return parsed && !Number.isNaN(parsed.getTime()) ? parsed : undefined;
}

/**
 * What a template may use, from the event's object (an access transition, a dead delivery or an
 * alert), its recipient and the moment it goes out. Dates are formatted with `format`; one that
 * cannot be read is empty.
 */
export function templateVariables(
  object: Record<string, any>,
  recipient: Recipient,
  email: EmailOptions,
  format: Intl.DateTimeFormat,
  moment: MailMoment,
): EmailTemplateVariables {
  const date = (value: unknown) => {
    const parsed = dateOf(value);
    return parsed ? format.format(parsed) : '';
  };
  const paidEnd = dateOf(object.endDate);
  const productId = String(object.productId ?? '');
  const accessUntil = object.accessUntil ?? object.gracePeriodEndDate ?? object.endDate;
  return {
    productId,
    productName: email.productNames?.[productId] ?? productId,
    customerId: String(object.customerId ?? ''),
    orgName: recipient.orgName,
    userName: recipient.userName,
    startDate: date(object.startDate),
    at: date(object.at ?? object.startDate),
    endDate: date(object.endDate),
    paidUntil: paidEnd && paidEnd.getTime() > moment.now.getTime() ? date(paidEnd) : '',
    gracePeriodEndDate: date(object.gracePeriodEndDate ?? object.accessUntil),
    accessUntil: date(accessUntil),
    deliveryId: object.deliveryId,
    listener: object.listener,
    eventId: object.eventId,
    eventType: object.eventType,
    attempts: object.attempts !== undefined ? String(object.attempts) : undefined,
    lastError: object.lastError,
    alertKind: object.kind,
    alertReason: object.reason,
    alertDetails: object.details ? JSON.stringify(object.details, null, 2) : undefined,
    alertResolvedAt: moment.alertEndedAt ? date(moment.alertEndedAt) : undefined,
  };
}
