import type { Transporter } from 'nodemailer';
import type SMTPTransport from 'nodemailer/lib/smtp-transport';

/** The mails the module sends. */
export type EmailTemplateName =
  | 'access-started'
  | 'access-renewed'
  | 'period-ended'
  | 'access-ended'
  | 'delivery-dead'
  | 'operator-alert';

export interface EmailContent {
  subject: string;
  text: string;
  html: string;
}

/** What a template can use. Dates are already formatted in the configured time zone and locale. */
export interface EmailTemplateVariables {
  productId: string;
  productName: string;
  customerId: string;
  orgName: string;
  userName: string;
  /** When the access (the covered span) began. */
  startDate: string;
  /**
   * The moment of the transition mailed: when access began, for `access-started` to the users who
   * joined while it lasted, when they joined.
   */
  at: string;
  /** End of the paid period. */
  endDate: string;
  /**
   * End of the paid period while it is still ahead when the mail goes out; empty once it has
   * passed (a start learned during its grace period, a loss). The default welcome quotes it rather
   * than `accessUntil`, which includes the grace period: a customer is not told a date they did
   * not pay for.
   */
  paidUntil?: string;
  gracePeriodEndDate: string;
  accessUntil: string;
  /** For `delivery-dead`. */
  deliveryId?: string;
  listener?: string;
  eventId?: string;
  eventType?: string;
  attempts?: string;
  lastError?: string;
  /** For `operator-alert`: `verification`, `quarantine`, `endpoint` or `silence`. */
  alertKind?: string;
  alertReason?: string;
  /** What was seen, as indented JSON (never a secret or a header value). */
  alertDetails?: string;
  /** For `operator-alert`: when the incident ended, if it had by the time the mail went out. */
  alertResolvedAt?: string;
}

/**
 * Overrides one template: a function returning any of subject/text/html, or strings with
 * `{{variable}}` placeholders (values are HTML-escaped in `html`). Missing parts keep the default,
 * except the HTML of a `text` given without `html`: made from that text (escaped, paragraphs kept),
 * so that mail clients, which show the HTML part, show your words.
 */
export type EmailTemplate =
  ((variables: EmailTemplateVariables) => Partial<EmailContent>) | Partial<EmailContent>;

/** Email notifications to the provisioned users (and optional operator alerts). */
export interface EmailOptions {
  /**
   * An SMTP URL (`smtp://user:pass@host:587`), nodemailer transport options, or a ready transport.
   * Add `pool: true` (nodemailer's pool of 5 connections, closed on shutdown) when mail goes out
   * in volume: a connection per mail waits for the server's greeting each time (mail servers delay
   * it on purpose: ~100 ms against a local server, ~3–7 ms per mail pooled), and a higher
   * `maxMessages` (nodemailer reconnects after 100 mails per connection by default).
   */
  transport: string | SMTPTransport.Options | Transporter | Record<string, unknown>;
  /** Sender address, e.g. `'Acme Billing <billing@example.com>'`. Required. */
  from: string;
  /**
   * Operators to alert when a delivery is dead-lettered.
   * @default undefined (no alerts)
   */
  alertTo?: string | string[];
  /**
   * IANA time zone the dates are written in.
   * @default 'UTC'
   */
  timeZone?: string;
  /**
   * Locale the dates are written in.
   * @default 'en-US'
   */
  locale?: string;
  /** Display names of products, by product id. @default the product id */
  productNames?: Record<string, string>;
  /** Your own subject/text/html for any template. */
  templates?: Partial<Record<EmailTemplateName, EmailTemplate>>;
  /**
   * Which mails are sent: `access-started` (access begins), `access-renewed` (a renewal extended
   * it), `period-ended` (the paid period ended with no renewal known; access continues until the
   * grace period's end), `access-ended` (no provisioning grants access any more), `delivery-dead`
   * and `operator-alert` (a setup failing verification, quarantined events, a misregistered
   * endpoint) to `alertTo`.
   * @default every one but `access-renewed`
   */
  mails?: Partial<Record<EmailTemplateName, boolean>>;
}
