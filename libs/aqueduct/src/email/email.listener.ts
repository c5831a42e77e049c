import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Transporter } from 'nodemailer';
import { DataSource } from 'typeorm';
import { AccessEventType } from '../events/access-event-types';
import { AqueductAccessService } from '../access/aqueduct-access.service';
import { AQUEDUCT_CLOCK, type AqueductClock } from '../access/aqueduct-clock';
import type { AqueductEvent, AqueductListenerContext } from '../events/aqueduct-event.interface';
import { AqueductListenerRegistry } from '../listeners/aqueduct-listener.registry';
import { AQUEDUCT_OPTIONS } from '../options/aqueduct-options.provider';
import type { ResolvedAqueductOptions } from '../options/aqueduct-options.resolved';
import { DELIVERY_DEAD_EVENT } from '../dispatch/dead-delivery.alert';
import { ALERT_RAISED_EVENT } from '../alerts/alert.interfaces';
import { EMAIL_TRANSPORT } from './email-transport.provider';
import { EMAIL_DEFAULTS, MAIL_DEFAULTS } from '../options/aqueduct-options.defaults';
import type {
  EmailOptions,
  EmailTemplateName,
  EmailTemplateVariables,
} from '../options/email-options.interface';
import { renderEmail } from './email.templates';
import { printable } from '../utils/printable';

/** Name of the built-in email listener, as stored with its deliveries. */
export const EMAIL_LISTENER = 'aqueduct.email';

/** Mails follow transitions of access (never a single Aqueduct event), and dead deliveries. */
const TEMPLATE_FOR: Record<string, EmailTemplateName> = {
  [AccessEventType.Started]: 'access-started',
  [AccessEventType.Renewed]: 'access-renewed',
  [AccessEventType.Grace]: 'period-ended',
  [AccessEventType.Expired]: 'access-ended',
  [DELIVERY_DEAD_EVENT]: 'delivery-dead',
  [ALERT_RAISED_EVENT]: 'operator-alert',
};

/** Mails to `alertTo`, not to the customer's users. */
const OPERATOR_TEMPLATES: EmailTemplateName[] = ['delivery-dead', 'operator-alert'];

/** Syntax check only: anything else is for the mail server to refuse. */
const ADDRESS = /^[^\s@<>()[\]\\,;:"]+@[^\s@<>()[\]\\,;:"]+\.[^\s@<>()[\]\\,;:"]+$/;

interface Recipient {
  address: string;
  userName: string;
  orgName: string;
}

/**
 * Mails the org's users when their access starts, when its paid period ends with nothing after it,
 * when it is gone (and, if asked, when it is renewed), and the operators when a delivery dies.
 * Each mail follows an `access.*` transition, and is sent only if it is still true when it goes
 * out: no "period ended" once a renewal has arrived, no "access ended" once access is back. Once only: each (delivery, recipient, template) is recorded
 * right after the server accepts it, and skipped on any retry or replay; the one window left is a
 * crash between the server's acceptance and that write. A recipient the server refuses for good
 * is recorded and skipped; a server that is down fails the delivery so it is retried later.
 */
@Injectable()
export class EmailListener implements OnModuleInit {
  private readonly logger = new Logger('AqueductEmail');
  /** How dates are written in every mail: built once, in the configured zone and locale. */
  private readonly dateFormat: Intl.DateTimeFormat;

  constructor(
    @Inject(AQUEDUCT_OPTIONS) private readonly options: ResolvedAqueductOptions,
    @Inject(EMAIL_TRANSPORT) private readonly transport: Transporter | null,
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly registry: AqueductListenerRegistry,
    private readonly access: AqueductAccessService,
    @Inject(AQUEDUCT_CLOCK) private readonly clock: AqueductClock,
  ) {
    this.dateFormat = new Intl.DateTimeFormat(options.email?.locale ?? EMAIL_DEFAULTS.locale, {
      dateStyle: 'long',
      timeStyle: 'short',
      timeZone: options.email?.timeZone ?? EMAIL_DEFAULTS.timeZone,
    });
  }

  /** Registered only when email is configured (options may be known only at run time). */
  onModuleInit(): void {
    const email = this.options.email;
    if (email && this.transport) {
      const types = Object.keys(TEMPLATE_FOR).filter((type) => {
        const template = TEMPLATE_FOR[type];
        const wanted = email.mails?.[template] ?? MAIL_DEFAULTS[template];
        return wanted && (!OPERATOR_TEMPLATES.includes(template) || email.alertTo);
      });
      if (this.options.ledger === false) {
        this.logger.warn('Email is configured with ledger: false: only operator alerts are sent');
      }
      this.registry.add(EMAIL_LISTENER, types, (event, context) => this.handle(event, context));
    }
  }

  async handle(event: AqueductEvent, context: AqueductListenerContext): Promise<void> {
    const email = this.options.email as EmailOptions;
    const template = TEMPLATE_FOR[event.type];
    const object = (event.object ?? {}) as Record<string, any>;
    // A delivery stored before an upgrade may be for a type that is no longer mailed.
    if (!template || !(await this.stillTrue(template, object))) {
      return;
    }
    const recipients = OPERATOR_TEMPLATES.includes(template)
      ? this.operators(email)
      : this.users(object);
    const keys = recipients.map(
      (r) => `${context.idempotencyKey}:${r.address.toLowerCase()}:${template}`,
    );
    const done = await this.alreadyHandled(keys);
    const transient: Error[] = [];
    for (const [index, recipient] of recipients.entries()) {
      if (done.has(keys[index])) {
        continue;
      }
      if (!ADDRESS.test(recipient.address)) {
        await this.record(
          keys[index],
          event.id,
          template,
          recipient.address,
          'rejected',
          null,
          'invalid address',
        );
        this.logger.warn(
          printable(
            `Skipped an invalid address (${template}, event ${event.id}, org ${recipient.orgName})`,
          ),
        );
        continue;
      }
      const content = renderEmail(
        template,
        this.variables(object, recipient, email),
        email.templates?.[template],
      );
      try {
        const info = await this.transport!.sendMail({
          from: email.from,
          to: recipient.address,
          ...content,
          headers: { 'X-Aqueduct-Event': event.id },
        });
        await this.record(
          keys[index],
          event.id,
          template,
          recipient.address,
          'sent',
          info.messageId ?? null,
          null,
        );
        this.logger.log(
          `Sent "${template}" for event ${event.id} (${index + 1}/${recipients.length})`,
        );
      } catch (error) {
        const code = (error as { responseCode?: number }).responseCode;
        if (code !== undefined && code >= 500) {
          await this.record(
            keys[index],
            event.id,
            template,
            recipient.address,
            'rejected',
            null,
            (error as Error).message,
          );
          this.logger.warn(
            `The mail server refused a recipient for good (${code}); "${template}" for event ${event.id} skipped for it`,
          );
        } else {
          transient.push(error as Error);
        }
      }
    }
    if (transient.length > 0) {
      throw new Error(
        `${transient.length} recipient(s) not mailed yet (will retry): ${transient[0].message}`,
      );
    }
  }

  /**
   * Whether the transition still describes the customer when its mail goes out (a delivery may
   * run late, after a retry or an outage): "period ended" only while in grace with nothing after
   * it and its end ahead, "access ended" only while access is gone.
   */
  private async stillTrue(
    template: EmailTemplateName,
    object: Record<string, any>,
  ): Promise<boolean> {
    if (template !== 'period-ended' && template !== 'access-ended') {
      return true;
    }
    const now = this.clock.now();
    const access = await this.access.getEntitlement(
      String(object.customerId),
      String(object.productId),
      now,
    );
    if (template === 'access-ended') {
      return !access?.hasAccess;
    }
    return (
      access?.status === 'grace' &&
      !access.renewalAhead &&
      access.accessUntil !== null &&
      access.accessUntil.getTime() > now.getTime()
    );
  }

  private users(object: Record<string, any>): Recipient[] {
    const orgs: any[] = Array.isArray(object.provisioningOrgs) ? object.provisioningOrgs : [];
    const seen = new Set<string>();
    const recipients: Recipient[] = [];
    for (const org of orgs) {
      for (const user of Array.isArray(org?.users) ? org.users : []) {
        const address = String(user?.email ?? '').trim();
        if (address && !seen.has(address.toLowerCase())) {
          seen.add(address.toLowerCase());
          recipients.push({
            address,
            userName: String(user?.name ?? ''),
            orgName: String(org?.name ?? ''),
          });
        }
      }
    }
    return recipients;
  }

  private operators(email: EmailOptions): Recipient[] {
    const list = Array.isArray(email.alertTo)
      ? email.alertTo
      : email.alertTo
        ? [email.alertTo]
        : [];
    return list.map((address) => ({ address, userName: 'operator', orgName: 'operations' }));
  }

  private variables(
    object: Record<string, any>,
    recipient: Recipient,
    email: EmailOptions,
  ): EmailTemplateVariables {
    const format = this.dateFormat;
    const date = (value: unknown) => {
      const parsed =
        value instanceof Date ? value : typeof value === 'string' ? new Date(value) : undefined;
      return parsed && !Number.isNaN(parsed.getTime()) ? format.format(parsed) : '';
    };
    const productId = String(object.productId ?? '');
    const accessUntil = object.accessUntil ?? object.gracePeriodEndDate ?? object.endDate;
    return {
      productId,
      productName: email.productNames?.[productId] ?? productId,
      customerId: String(object.customerId ?? ''),
      orgName: recipient.orgName,
      userName: recipient.userName,
      startDate: date(object.startDate),
      endDate: date(object.endDate),
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
    };
  }

  private async alreadyHandled(keys: string[]): Promise<Set<string>> {
    const rows: { key: string }[] = await this.dataSource.query(
      `SELECT key FROM aqueduct_emails WHERE key = ANY($1::text[])`,
      [keys],
    );
    return new Set(rows.map((row) => row.key));
  }

  private async record(
    key: string,
    eventId: string,
    template: string,
    recipient: string,
    status: 'sent' | 'rejected',
    messageId: string | null,
    error: string | null,
  ): Promise<void> {
    await this.dataSource.query(
      `INSERT INTO aqueduct_emails (key, event_id, template, recipient, status, message_id, error)
       VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (key) DO NOTHING`,
      [key, eventId, template, recipient, status, messageId, error?.slice(0, 1000) ?? null],
    );
  }
}
