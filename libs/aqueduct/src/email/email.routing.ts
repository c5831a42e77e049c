import { ALERT_RAISED_EVENT } from '../alerts/alert.interfaces';
import { DELIVERY_DEAD_EVENT } from '../dispatch/dead-delivery.alert';
import { AccessEventType } from '../events/access-event-types';
import { MAIL_DEFAULTS } from '../options/aqueduct-options.defaults';
import type { EmailOptions, EmailTemplateName } from '../options/email-options.interface';

/** Mails follow transitions of access (never a single Aqueduct event), and dead deliveries. */
export const TEMPLATE_FOR: Record<string, EmailTemplateName> = {
  [AccessEventType.Started]: 'access-started',
  [AccessEventType.Renewed]: 'access-renewed',
  [AccessEventType.Grace]: 'period-ended',
  [AccessEventType.Expired]: 'access-ended',
  [DELIVERY_DEAD_EVENT]: 'delivery-dead',
  [ALERT_RAISED_EVENT]: 'operator-alert',
};

/** Mails to `alertTo`, not to the customer's users. */
const OPERATOR_TEMPLATES: EmailTemplateName[] = ['delivery-dead', 'operator-alert'];

/** Whether a template is mailed to the operators (`alertTo`) rather than to the customer's users. */
export function isOperatorTemplate(template: EmailTemplateName): boolean {
  return OPERATOR_TEMPLATES.includes(template);
}

/**
 * The event types the email listener subscribes to: those whose mail is wanted (`mails`, or its
 * default), and for operator mails only when there is an operator to mail (`alertTo`).
 */
export function mailedEventTypes(email: EmailOptions): string[] {
  return Object.keys(TEMPLATE_FOR).filter((type) => {
    const template = TEMPLATE_FOR[type];
    const wanted = email.mails?.[template] ?? MAIL_DEFAULTS[template];
    return wanted && (!isOperatorTemplate(template) || email.alertTo);
  });
}
