import { ALERT_RAISED_EVENT } from '../alerts/alert.interfaces';
import { DELIVERY_DEAD_EVENT } from '../dispatch/dead-delivery.alert';
import { AccessEventType } from '../events/access-event-types';
import { MAIL_DEFAULTS } from '../options/aqueduct-options.defaults';
import type { EmailOptions, EmailTemplateName } from '../options/email-options.interface';

/**
 * Who a transition's mail goes to: the users it leaves with access (`all`), those of them it gave
 * access to (`joined`: not among its previous users), those who had it already (`stayed`), or the
 * operators (`alertTo`).
 */
export type MailAudience = 'all' | 'joined' | 'stayed' | 'operators';

/** One mail of a transition: its template and its audience. */
export interface TransitionMail {
  template: EmailTemplateName;
  to: MailAudience;
}

/**
 * Mails follow transitions of access (never a single Aqueduct event), and dead deliveries. A user
 * who joins while access continues (a renewal or an update with more seats, the users of a start
 * that arrived after an event naming none) is welcomed as one whose access starts: told nothing,
 * they would not know they have it.
 */
export const MAILS_FOR: Record<string, readonly TransitionMail[]> = {
  [AccessEventType.Started]: [{ template: 'access-started', to: 'all' }],
  [AccessEventType.Renewed]: [
    { template: 'access-renewed', to: 'stayed' },
    { template: 'access-started', to: 'joined' },
  ],
  [AccessEventType.Changed]: [{ template: 'access-started', to: 'joined' }],
  [AccessEventType.Grace]: [{ template: 'period-ended', to: 'all' }],
  [AccessEventType.Expired]: [{ template: 'access-ended', to: 'all' }],
  [DELIVERY_DEAD_EVENT]: [{ template: 'delivery-dead', to: 'operators' }],
  [ALERT_RAISED_EVENT]: [{ template: 'operator-alert', to: 'operators' }],
};

/** Mails to `alertTo`, not to the customer's users. */
const OPERATOR_TEMPLATES: EmailTemplateName[] = ['delivery-dead', 'operator-alert'];

/** Whether a template is mailed to the operators (`alertTo`) rather than to the customer's users. */
export function isOperatorTemplate(template: EmailTemplateName): boolean {
  return OPERATOR_TEMPLATES.includes(template);
}

/**
 * The mails of an event type that are wanted (`mails`, or its default), operator mails only when
 * there is an operator to mail (`alertTo`).
 */
export function wantedMails(type: string, email: EmailOptions): TransitionMail[] {
  return (MAILS_FOR[type] ?? []).filter(({ template }) => {
    const wanted = email.mails?.[template] ?? MAIL_DEFAULTS[template];
    return wanted && (!isOperatorTemplate(template) || email.alertTo);
  });
}

/** The event types the email listener subscribes to: those with a wanted mail. */
export function mailedEventTypes(email: EmailOptions): string[] {
  return Object.keys(MAILS_FOR).filter((type) => wantedMails(type, email).length > 0);
}
