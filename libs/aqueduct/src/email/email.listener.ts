import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Transporter } from 'nodemailer';
import { DataSource } from 'typeorm';
import { AqueductAccessService } from '../access/aqueduct-access.service';
import { AqueductAlerts } from '../alerts/aqueduct-alerts.service';
import { AQUEDUCT_CLOCK, type AqueductClock } from '../access/aqueduct-clock';
import { accessAt } from '../access/access-timeline';
import { ProvisioningReconciler } from '../access/provisioning.reconciler';
import { type DeliveryFinish, finishOf } from '../dispatch/delivery.finish';
import type { AqueductEvent, AqueductListenerContext } from '../events/aqueduct-event.interface';
import { AqueductListenerRegistry } from '../listeners/aqueduct-listener.registry';
import { AQUEDUCT_OPTIONS } from '../options/aqueduct-options.provider';
import type { ResolvedAqueductOptions } from '../options/aqueduct-options.resolved';
import type { EmailOptions, EmailTemplateName } from '../options/email-options.interface';
import { printable } from '../utils/printable';
import { Semaphore } from '../utils/semaphore';
import { EMAIL_TRANSPORT } from './email-transport.provider';
import { type EmailRecord, EmailRecords, emailKey } from './email.records';
import { messageIdOf } from './email.message-id';
import { MailRun, type SettleMail } from './email.run';
import { type Recipient, audienceOf, isMailable, operatorRecipients } from './email.recipients';
import { isOperatorTemplate, mailedEventTypes, wantedMails } from './email.routing';
import { renderEmail } from './email.templates';
import { switchedUsers } from './email.switch';
import { type MailMoment, emailDateFormat, templateVariables } from './email.variables';

/** Name of the built-in email listener, as stored with its deliveries. */
export const EMAIL_LISTENER = 'aqueduct.email';

/** SMTP replies from 500 up are permanent (RFC 5321): retrying would be refused again. */
const PERMANENT_SMTP_REPLY = 500;

/**
 * The commands whose refusal is about this recipient or this message (nodemailer's `command`).
 * A 5xx to anything else (the login, `MAIL FROM`, the greeting) is about the module's own setup:
 * a rotated password or a sender the server does not allow. Recording those as refused for good
 * would drop every customer's mail until the setup is fixed; retried, they wait for the fix and
 * dead-letter (an operator alert) if it does not come.
 */
const RECIPIENT_COMMANDS = ['RCPT TO', 'DATA'];

/** Mail addresses, as servers quote them in their replies (`<ada@example.com>`). */
const ADDRESS_IN_TEXT = /[^\s<>"'():;,]+@[^\s<>"'():;,]+/g;

/**
 * A transition this recent, mailed on its delivery's first run, is the customer's state: later
 * ones (an end, a lapse) take longer than this to be announced after it.
 */
const FRESH_MS = 60_000;

/** The mail that tells users their access has started: sent once the adapter has provisioned them. */
const WELCOME: EmailTemplateName = 'access-started';

/** The mail that tells the operators an alert opened. */
const ALERT: EmailTemplateName = 'operator-alert';

/** Mails of one delivery in flight at once: nodemailer's pool holds 5 connections by default. */
const PARALLEL_SENDS = 5;

/** One mail of a delivery: to whom, under which key, and its place among the delivery's mails. */
interface OutgoingMail {
  key: string;
  event: AqueductEvent;
  template: EmailTemplateName;
  recipient: Recipient;
  /** `<n>/<total>`, for the log. */
  position: string;
}

/**
 * Mails the org's users when their access starts (a user who joins while it lasts too), once the
 * provisioning adapter has provisioned them; when its paid period ends with nothing after it,
 * when it is gone (and, if asked, when it is renewed); and the operators when a delivery dies.
 * Each mail follows an `access.*` transition, and is sent only if it is still true when it goes
 * out: no "period ended" once a renewal has arrived, no "access ended" once access is back, neither
 * to a user who switched to another of the customer's products (an upgrade). Once
 * only: each (delivery, recipient, template) is recorded right after the server accepts it, and
 * skipped on any retry or replay; the one window left is a crash between the server's acceptance
 * and that write. A recipient the server refuses for good is recorded and skipped; a server that
 * is down fails the delivery so it is retried later.
 */
@Injectable()
export class EmailListener implements OnModuleInit {
  private readonly logger = new Logger('AqueductEmail');
  /** How dates are written in every mail: built once, in the configured zone and locale. */
  private readonly dateFormat: Intl.DateTimeFormat;
  private readonly records: EmailRecords;

  constructor(
    @Inject(AQUEDUCT_OPTIONS) private readonly options: ResolvedAqueductOptions,
    @Inject(EMAIL_TRANSPORT) private readonly transport: Transporter | null,
    @InjectDataSource() dataSource: DataSource,
    private readonly registry: AqueductListenerRegistry,
    private readonly access: AqueductAccessService,
    private readonly reconciler: ProvisioningReconciler,
    private readonly alerts: AqueductAlerts,
    @Inject(AQUEDUCT_CLOCK) private readonly clock: AqueductClock,
  ) {
    this.dateFormat = emailDateFormat(options.email);
    this.records = new EmailRecords(dataSource);
  }

  /** Registered only when email is configured (options may be known only at run time). */
  onModuleInit(): void {
    const email = this.options.email;
    if (email && this.transport) {
      const types = mailedEventTypes(email);
      if (this.options.ledger === false) {
        this.logger.warn('Email is configured with ledger: false: only operator alerts are sent');
      }
      this.registry.add(EMAIL_LISTENER, types, (event, context) => this.handle(event, context));
    }
  }

  /**
   * Mails every recipient of the event's mails not mailed yet. Throws, so the delivery is
   * retried, when any recipient could not be mailed for a reason that may pass.
   */
  async handle(event: AqueductEvent, context: AqueductListenerContext): Promise<void> {
    const email = this.options.email as EmailOptions;
    const object = (event.object ?? {}) as Record<string, any>;
    const outgoing: { template: EmailTemplateName; recipient: Recipient }[] = [];
    // A delivery stored before an upgrade may be for a type that is no longer mailed: none.
    for (const { template, to } of wantedMails(event.type, email)) {
      const audience = to === 'operators' ? operatorRecipients(email) : audienceOf(object, to);
      const recipients =
        audience.length > 0
          ? await this.stillTrueFor(audience, template, object, event, context)
          : [];
      outgoing.push(...recipients.map((recipient) => ({ template, recipient })));
    }
    if (outgoing.length === 0) {
      return;
    }
    const keys = outgoing.map(({ template, recipient }) =>
      emailKey(context.idempotencyKey, recipient.address, template),
    );
    // A first run has mailed no one yet: nothing recorded to read.
    const done = context.firstRun ? new Set<string>() : await this.records.handled(keys);
    const due = outgoing
      .map((mail, index) => ({ ...mail, key: keys[index] }))
      .filter((mail) => !done.has(mail.key));
    const { sending, waiting } = await this.welcomedOnlyIfHeld(due, object, context.attempt === 1);
    const moment = await this.momentOf(sending, object);
    const transient: Error[] = [];
    // An org's mails go out together, a few at a time, rather than one server exchange after
    // another. Every send settles before the delivery ends: a retry must not start while a mail
    // of this run is still unrecorded.
    const sends = new Semaphore(PARALLEL_SENDS);
    // Welcomes held back for the adapter: this run does not finish the delivery.
    const run = new MailRun(sending.length, waiting ? undefined : finishOf(context));
    const settled = await Promise.allSettled(
      sending.map(async ({ key, template, recipient }, index) => {
        const position = `${index + 1}/${sending.length}`;
        const mail: OutgoingMail = { key, event, template, recipient, position };
        const settle = run.mail();
        try {
          const error = await sends.run(() => this.send(mail, object, email, moment, settle));
          if (error) {
            transient.push(error);
          }
        } finally {
          settle(false); // a throw before the server answered; once settled, nothing
        }
      }),
    );
    const thrown = settled.find((result) => result.status === 'rejected');
    if (thrown) {
      throw thrown.reason;
    }
    if (transient.length > 0) {
      // Logged, and kept as the delivery's last error: a server's reply often quotes the address.
      throw new Error(
        `${transient.length} recipient(s) not mailed yet (will retry): ${transient[0].message.replace(ADDRESS_IN_TEXT, '<address>')}`,
      );
    }
    if (waiting) {
      throw new Error(
        `welcome mail(s) wait for the provisioning adapter: ${waiting.message.replace(ADDRESS_IN_TEXT, '<address>')}`,
      );
    }
  }

  /**
   * Welcomes only users the provisioning adapter holds now: it is brought in step first (a wait
   * when its call is running here, one read when its own delivery got there first, on the first
   * attempt the call when it did not), then a welcome goes only to a user it provisioned; one
   * removed meanwhile, or whose access ended, gets none. While the adapter is behind or fails, the
   * welcomes wait (`waiting`: the delivery is retried for them; the adapter's own delivery retries
   * the calls) and the other mails go out.
   */
  private async welcomedOnlyIfHeld<T extends { template: EmailTemplateName; recipient: Recipient }>(
    due: T[],
    object: Record<string, any>,
    mayCall: boolean,
  ): Promise<{ sending: T[]; waiting?: Error }> {
    if (this.options.ledger === false || !due.some((mail) => mail.template === WELCOME)) {
      return { sending: due };
    }
    let held: Set<string>;
    try {
      const pair = { customerId: String(object.customerId), productId: String(object.productId) };
      const holding = await this.reconciler.holding(pair, mayCall);
      held = new Set(
        holding?.provisioned
          ? holding.orgs.flatMap((org) => org.users.map((user) => String(user.email).toLowerCase()))
          : [],
      );
    } catch (error) {
      const sending = due.filter((mail) => mail.template !== WELCOME);
      return { sending, waiting: error instanceof Error ? error : new Error(String(error)) };
    }
    return {
      sending: due.filter(
        (mail) => mail.template !== WELCOME || held.has(mail.recipient.address.toLowerCase()),
      ),
    };
  }

  /**
   * Those of `recipients` the transition still describes when its mail goes out (a delivery may
   * run late: a retry, an outage, a redrive, a replay): all of them or none, but for a loss those
   * who switched to another of the customer's products (`switchedUsers`). "Access started" or
   * "renewed" only while access lasts, "period ended" only while in grace with nothing after it and
   * its end ahead, "access ended" only while access is gone. Judged on the dates, without the
   * renewal window: the window ends the moment the end is announced, so an instance whose clock is
   * a moment behind the one that announced it would find the access still held, and drop a true
   * mail. A start or a renewal mailed on its first run right after it was announced is true by
   * construction: no read.
   */
  private async stillTrueFor(
    recipients: Recipient[],
    template: EmailTemplateName,
    object: Record<string, any>,
    event: AqueductEvent,
    context: AqueductListenerContext,
  ): Promise<Recipient[]> {
    if (isOperatorTemplate(template)) {
      return recipients;
    }
    const granting = template === 'access-started' || template === 'access-renewed';
    if (granting && context.firstRun && Date.now() - event.receivedAt.getTime() < FRESH_MS) {
      return recipients;
    }
    const now = this.clock.now();
    const productId = String(object.productId);
    const entitlements = await this.access.getEntitlements(String(object.customerId), now);
    const entitlement = entitlements.find((candidate) => candidate.productId === productId);
    const access = entitlement && accessAt(entitlement.timeline, now);
    if (granting) {
      return access?.hasAccess === true ? recipients : [];
    }
    const lossTrue =
      template === 'access-ended'
        ? !access?.hasAccess
        : // In grace, with no paid period left in the span (a subscription after a gap does not renew).
          access?.status === 'grace' &&
          (access.paidUntil === null || access.paidUntil.getTime() <= now.getTime()) &&
          access.accessUntil !== null &&
          access.accessUntil.getTime() > now.getTime();
    if (!lossTrue) {
      return [];
    }
    const switched = switchedUsers(entitlements, productId, new Date(object.at), now);
    return recipients.filter((recipient) => !switched.has(recipient.address.toLowerCase()));
  }

  /**
   * What the mails know as they go out: the clock, and for an alert whether its incident has
   * ended meanwhile (one raised and resolved within a second is not "open until resolved").
   */
  private async momentOf(
    sending: { template: EmailTemplateName }[],
    object: Record<string, any>,
  ): Promise<MailMoment> {
    const now = this.clock.now();
    if (!sending.some((mail) => mail.template === ALERT)) {
      return { now };
    }
    const raisedAt = new Date(object.raisedAt);
    const alertEndedAt = Number.isNaN(raisedAt.getTime())
      ? null
      : await this.alerts.endedAt(object.kind, raisedAt);
    return { now, alertEndedAt };
  }

  /**
   * Mails one recipient and records it. Returns the error when it may pass (the delivery is then
   * retried); a recipient refused for good is recorded as rejected instead.
   */
  private async send(
    mail: OutgoingMail,
    object: Record<string, any>,
    email: EmailOptions,
    moment: MailMoment,
    settle: SettleMail,
  ): Promise<Error | undefined> {
    const { event, template, recipient } = mail;
    if (!isMailable(recipient.address)) {
      await this.reject(mail, 'invalid address', settle(true));
      this.logger.warn(
        printable(
          `Skipped an invalid address (${template}, event ${event.id}, org ${recipient.orgName})`,
        ),
      );
      return undefined;
    }
    const variables = templateVariables(object, recipient, email, this.dateFormat, moment);
    const content = renderEmail(template, variables, email.templates?.[template]);
    try {
      const info = await this.transport!.sendMail({
        from: email.from,
        to: recipient.address,
        ...content,
        messageId: messageIdOf(mail.key, email.from),
        headers: { 'X-Aqueduct-Event': event.id },
      });
      await this.records.add(
        mail.key,
        { ...this.recordOf(mail), status: 'sent', messageId: info.messageId ?? null, error: null },
        settle(true),
      );
      this.logger.log(`Sent "${template}" for event ${event.id} (${mail.position})`);
      return undefined;
    } catch (error) {
      return this.failed(mail, error, settle);
    }
  }

  /** A failed send: recorded and skipped when the server refused for good, else returned. */
  private async failed(
    mail: OutgoingMail,
    error: unknown,
    settle: SettleMail,
  ): Promise<Error | undefined> {
    const { responseCode: code, command } = error as { responseCode?: number; command?: string };
    if (
      code !== undefined &&
      code >= PERMANENT_SMTP_REPLY &&
      RECIPIENT_COMMANDS.includes(command ?? '')
    ) {
      await this.reject(mail, (error as Error).message, settle(true));
      this.logger.warn(
        `The mail server refused a recipient for good (${code}); "${mail.template}" for event ${mail.event.id} skipped for it`,
      );
      return undefined;
    }
    settle(false);
    return error as Error;
  }

  /** Records a recipient that will never be mailed, so no retry tries it again. */
  private async reject(mail: OutgoingMail, reason: string, finish?: DeliveryFinish): Promise<void> {
    await this.records.add(
      mail.key,
      { ...this.recordOf(mail), status: 'rejected', messageId: null, error: reason },
      finish,
    );
  }

  /** What every record of a mail holds, whatever became of it. */
  private recordOf(mail: OutgoingMail): Pick<EmailRecord, 'eventId' | 'template' | 'recipient'> {
    return { eventId: mail.event.id, template: mail.template, recipient: mail.recipient.address };
  }
}
