import { Injectable } from '@nestjs/common';
import {
  AqueductAlerts,
  AqueductEventsService,
  AqueductHealthIndicator,
  ExpiryJob,
  OnAqueductEvent,
} from 'nestjs-aqueduct';
import { provisioningEndEvent, provisioningStartEvent } from 'nestjs-aqueduct/testing';
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { DataSource } from 'typeorm';
import { LogCapture } from './support/log-capture';
import { postAccepted } from './support/post';
import { TestSmtpServer } from './support/smtp';
import { deliveriesSettled } from './support/subscription';
import { DAY, TestClock } from './support/test-clock';
import { type TestAppSetup, useTestApp } from './support/use-test-app';
import { waitFor } from './support/wait';

const SECRET = 'email-secret';
const OPERATOR = 'ops@host.test';

/** A host listener that never works, to see the operator alert. */
@Injectable()
class BrokenListener {
  @OnAqueductEvent('invoice.paid', { name: 'always-broken' })
  handle() {
    throw new Error('the ERP is unreachable');
  }
}

const users = (...people: [string, string][]) => [
  { name: 'Acme Inc.', users: people.map(([name, email]) => ({ name, email })) },
];

/**
 * The app of a describe block on a clock that starts at `start`, mailing through an SMTP server of
 * the block's own; `setup` is given the server's transport once it is up (it has a port by then).
 */
function useMailingApp(
  start: Date,
  setup: (transport: TestSmtpServer['transport']) => TestAppSetup,
) {
  const smtp = new TestSmtpServer();
  const clock = new TestClock(start);
  const host = useTestApp(() => ({ clock, ...setup(smtp.transport) }), { servers: [smtp] });
  return { smtp, clock, host };
}

describe('Email notifications (real SMTP server, real nodemailer)', () => {
  const T0 = new Date('2026-03-01T12:00:00Z');
  const { smtp, clock, host } = useMailingApp(T0, (transport) => ({
    aqueduct: {
      secrets: [SECRET],
      dispatch: {
        maxAttempts: 3,
        retryBaseDelayMs: 100,
        retryMaxDelayMs: 200,
        pollIntervalMs: 50,
      },
      expiry: { enabled: false },
      email: {
        transport,
        from: 'Acme Billing <billing@acme.test>',
        alertTo: OPERATOR,
        timeZone: 'Europe/Paris',
        productNames: { prod_pro: 'Acme Pro' },
      },
    },
    imports: [{ module: class BrokenModule {}, providers: [BrokenListener] }],
  }));
  beforeEach(() => clock.set(T0));

  const post = (payload: unknown) => postAccepted(host.app, payload, SECRET);
  /** A 30-day period starting now (on the test's clock), with a week of grace. */
  const startNow = (overrides: Record<string, unknown>) => {
    const now = clock.now();
    return provisioningStartEvent(
      {
        startDate: now.toISOString(),
        endDate: new Date(now.getTime() + 30 * DAY).toISOString(),
        gracePeriodEndDate: new Date(now.getTime() + 37 * DAY).toISOString(),
        ...overrides,
      },
      now,
    );
  };
  /** The `access.*` event of that type for the customer: the mails hang off it. */
  const accessEvent = (customerId: string, type = 'access.started') =>
    waitFor(
      async () =>
        (
          await host.app
            .get(DataSource)
            .query(
              `SELECT id FROM aqueduct_events WHERE type = $1 AND payload->'object'->>'customerId' = $2`,
              [type, customerId],
            )
        )[0]?.id as string | undefined,
      20_000,
      `the ${type} event of ${customerId}`,
    );
  const emailDelivery = (eventId: string) =>
    waitFor(
      async () => {
        const [row] = await host.app
          .get(DataSource)
          .query(
            `SELECT state, attempts FROM aqueduct_deliveries WHERE event_id = $1 AND listener = 'aqueduct.email'`,
            [eventId],
          );
        return row && (row.state === 'done' || row.state === 'dead') && row;
      },
      20_000,
      `the email delivery of ${eventId}`,
    );

  it('mails every user when access starts, with product, names and dates in the configured time zone', async () => {
    await post(
      startNow({
        customerId: 'owner_mail',
        provisioningOrgs: users(
          ['Ada Lovelace', 'ada@acme.test'],
          ['Alan Turing', 'alan@acme.test'],
        ),
      }),
    );
    const id = await accessEvent('owner_mail');
    expect(await emailDelivery(id)).toMatchObject({ state: 'done', attempts: 1 });
    const [ada] = smtp.to('ada@acme.test');
    expect(ada.subject).toBe('Your access to Acme Pro has started');
    expect(ada.eventId).toBe(id);
    expect(ada.text).toContain('Hello Ada Lovelace');
    expect(ada.text).toContain('started on March 1, 2026 at 1:00 PM GMT+1'); // 12:00 UTC in Paris, zone named
    // The paid period's end, not the grace period's (April 7): a date the customer paid for.
    expect(ada.text).toContain('The current paid period runs until March 31, 2026');
    expect(ada.text).not.toContain('April 7');
    expect(smtp.to('alan@acme.test')).toHaveLength(1);
    expect(smtp.received.filter((m) => m.to.length !== 1)).toEqual([]); // one mail per recipient

    const before = smtp.received.length;
    await host.app.get(AqueductEventsService).replay(id);
    await new Promise((resolve) => setTimeout(resolve, 300));
    await emailDelivery(id);
    expect(smtp.received.length).toBe(before); // replay sends nothing new
  });

  it('tells users the paid period ended and until when the grace period runs, then that access ended', async () => {
    const paris = new Intl.DateTimeFormat('en-US', { dateStyle: 'long', timeZone: 'Europe/Paris' });
    const start = startNow({
      customerId: 'owner_grace',
      provisioningOrgs: users(['Grace Hopper', 'grace@acme.test']),
    });
    const object = start.object;
    await post(start);
    await deliveriesSettled(host.app);
    clock.set(new Date(object.endDate));
    await post(provisioningEndEvent(object, clock.now()));
    await deliveriesSettled(host.app);
    expect(smtp.to('grace@acme.test')).toHaveLength(1); // not yet: a renewal may still arrive
    clock.set(new Date(new Date(object.endDate).getTime() + 80 * 60_000)); // past the settle time
    await host.app.get(ExpiryJob).sweep();
    await waitFor(() => smtp.to('grace@acme.test').length === 2, 20_000, 'the period-ended mail');
    const ended = smtp.to('grace@acme.test')[1];
    expect(ended.subject).toBe('Your paid period for Acme Pro has ended');
    expect(ended.text).toContain(`ended on ${paris.format(new Date(object.endDate))}`);
    expect(ended.text).toContain(
      `continues until ${paris.format(new Date(object.gracePeriodEndDate))}`,
    );

    clock.set(new Date(new Date(object.gracePeriodEndDate).getTime() + DAY));
    await host.app.get(ExpiryJob).sweep();
    await waitFor(() => smtp.to('grace@acme.test').length === 3, 20_000, 'the access-ended mail');
    expect(smtp.to('grace@acme.test')[2].subject).toBe('Your access to Acme Pro has ended');
  });

  it('a mail server that refuses for a while delays mail and loses none: exactly one mail per recipient', async () => {
    smtp.down = true;
    await post(
      startNow({
        customerId: 'owner_smtp_down',
        provisioningOrgs: users(['Katherine', 'kat@acme.test'], ['Dorothy', 'dot@acme.test']),
      }),
    );
    const id = await accessEvent('owner_smtp_down');
    await waitFor(
      async () => {
        const [row] = await host.app
          .get(DataSource)
          .query(
            `SELECT attempts FROM aqueduct_deliveries WHERE event_id = $1 AND listener = 'aqueduct.email'`,
            [id],
          );
        return row?.attempts >= 2;
      },
      20_000,
      'two failed attempts',
    );
    expect(smtp.to('kat@acme.test')).toHaveLength(0);
    smtp.down = false;
    await host.app.get(AqueductEventsService).redriveDead();
    expect(await emailDelivery(id)).toMatchObject({ state: 'done' });
    expect(smtp.to('kat@acme.test')).toHaveLength(1);
    expect(smtp.to('dot@acme.test')).toHaveLength(1);
  });

  it('an "access started" mail redriven after access ended is not sent', async () => {
    smtp.down = true; // out when access starts: the mail's delivery dies
    const start = startNow({
      customerId: 'owner_late_start_mail',
      provisioningOrgs: users(['Lea', 'lea@acme.test']),
    });
    await post(start);
    expect(await emailDelivery(await accessEvent('owner_late_start_mail'))).toMatchObject({
      state: 'dead',
    });
    smtp.down = false;
    // The period ends, its grace runs out: the customer is told access ended.
    clock.set(new Date(start.object.endDate));
    await post(provisioningEndEvent(start.object, clock.now()));
    await deliveriesSettled(host.app);
    clock.set(new Date(new Date(start.object.gracePeriodEndDate).getTime() + DAY));
    await host.app.get(ExpiryJob).sweep();
    await waitFor(() => smtp.to('lea@acme.test').length === 1, 20_000, 'the "ended" mail');
    // The operator redrives what died during the outage: "started" is no longer true.
    await host.app.get(AqueductEventsService).redriveDead();
    await deliveriesSettled(host.app);
    expect(smtp.to('lea@acme.test').map((mail) => mail.subject)).toEqual([
      'Your access to Acme Pro has ended',
    ]);
  });

  it('a mail sent again (its record lost in a crash) carries the first one’s Message-ID', async () => {
    await post(
      startNow({
        customerId: 'owner_resent',
        provisioningOrgs: users(['Mae', 'mae@acme.test'], ['Edith', 'edith@acme.test']),
      }),
    );
    const id = await accessEvent('owner_resent');
    expect(await emailDelivery(id)).toMatchObject({ state: 'done' });
    const [first] = smtp.to('mae@acme.test');
    expect(first.messageId).toMatch(/^<[0-9a-f]{32}@acme\.test>$/);
    expect(first.messageId).not.toContain('mae');
    expect(smtp.to('edith@acme.test')[0].messageId).not.toBe(first.messageId);

    // As if the process had died between the server's acceptance and the record.
    await host.app.get(DataSource).query(`DELETE FROM aqueduct_emails WHERE event_id = $1`, [id]);
    await host.app.get(AqueductEventsService).replay(id);
    await waitFor(() => smtp.to('mae@acme.test').length === 2, 20_000, 'the mail sent again');
    expect(smtp.to('mae@acme.test').map((mail) => mail.messageId)).toEqual([
      first.messageId,
      first.messageId,
    ]);
  });

  it('a bad address among three users does not block the other two, and is not retried forever', async () => {
    smtp.unknownUsers.add('gone@acme.test');
    await post(
      startNow({
        customerId: 'owner_bad_address',
        provisioningOrgs: users(
          ['Mary', 'mary@acme.test'],
          ['Typo', 'not an address'],
          ['Gone', 'gone@acme.test'],
          ['Joan', 'joan@acme.test'],
        ),
      }),
    );
    const id = await accessEvent('owner_bad_address');
    expect(await emailDelivery(id)).toMatchObject({ state: 'done', attempts: 1 });
    expect(smtp.to('mary@acme.test')).toHaveLength(1);
    expect(smtp.to('joan@acme.test')).toHaveLength(1);
    const rejected = await host.app
      .get(DataSource)
      .query(
        `SELECT recipient FROM aqueduct_emails WHERE event_id = $1 AND status = 'rejected' ORDER BY recipient`,
        [id],
      );
    expect(rejected.map((r: { recipient: string }) => r.recipient)).toEqual([
      'gone@acme.test',
      'not an address',
    ]);
  });

  it('escapes what goes into HTML', async () => {
    await post(
      startNow({
        customerId: 'owner_xss',
        provisioningOrgs: users(['<script>alert(1)</script>', 'xss@acme.test']),
      }),
    );
    await emailDelivery(await accessEvent('owner_xss'));
    const [mail] = smtp.to('xss@acme.test');
    expect(mail.html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(mail.html).not.toContain('<script>');
  });

  it('sends the renewal mail only when asked to, and never an "ended" mail for a renewal', async () => {
    const first = startNow({
      customerId: 'owner_renewal_mail',
      provisioningOrgs: users(['Rita', 'rita@acme.test']),
    });
    await post(first);
    await deliveriesSettled(host.app);
    clock.set(new Date(first.object.endDate));
    await post(provisioningEndEvent(first.object, clock.now()));
    await post(
      startNow({
        customerId: 'owner_renewal_mail',
        provisioningOrgs: users(['Rita', 'rita@acme.test']),
      }),
    );
    await deliveriesSettled(host.app);
    clock.set(new Date(new Date(first.object.gracePeriodEndDate).getTime() + DAY));
    await host.app.get(ExpiryJob).sweep();
    await deliveriesSettled(host.app);
    // Only the start: `access-renewed` is off by default (email.mails), and nothing ended.
    expect(smtp.to('rita@acme.test').map((m) => m.subject)).toEqual([
      'Your access to Acme Pro has started',
    ]);
    const [{ n }] = await host.app
      .get(DataSource)
      .query(
        `SELECT count(*)::int AS n FROM aqueduct_events WHERE type = 'access.renewed' AND payload->'object'->>'customerId' = 'owner_renewal_mail'`,
      );
    expect(n).toBe(1);
  });

  it('a renewal with one more seat welcomes the user who joins, and only them', async () => {
    const first = startNow({
      customerId: 'owner_new_seat',
      provisioningOrgs: users(['Sam', 'sam@acme.test']),
    });
    await post(first);
    await deliveriesSettled(host.app);
    clock.set(new Date(first.object.endDate));
    await post(provisioningEndEvent(first.object, clock.now()));
    await post(
      startNow({
        customerId: 'owner_new_seat',
        provisioningOrgs: users(['Sam', 'sam@acme.test'], ['Tess', 'tess@acme.test']),
      }),
    );
    await deliveriesSettled(host.app);
    expect({
      sam: smtp.to('sam@acme.test').map((m) => m.subject),
      tess: smtp.to('tess@acme.test').map((m) => m.subject),
    }).toEqual({
      sam: ['Your access to Acme Pro has started'],
      tess: ['Your access to Acme Pro has started'],
    });
    // Tess's access started when she joined (the renewal, 12:00 UTC in Paris), not Sam's.
    expect(smtp.to('tess@acme.test')[0].text).toContain(
      'started on March 31, 2026 at 2:00 PM GMT+2',
    );
  });

  it('alerts the operators when a delivery is dead-lettered', async () => {
    const id = await post({
      type: 'invoice.paid',
      createdAt: new Date().toISOString(),
      object: { id: 'inv_dead' },
    });
    const alert = await waitFor(
      () => smtp.to(OPERATOR).find((m) => m.text.includes(id)),
      20_000,
      'the operator alert',
    );
    expect(alert.subject).toBe('[Aqueduct] always-broken failed for good (invoice.paid event)');
    expect(alert.text).toContain('the ERP is unreachable');
    expect(alert.text).toContain(`npx nestjs-aqueduct events redrive ${id}:always-broken`);
    expect(alert.text).toContain(`redrive('${id}:always-broken')`);
    // Health says so until it is redriven: work that did not happen.
    const health = (await host.app.get(AqueductHealthIndicator).isHealthy('aqueduct')).aqueduct;
    expect(health).toMatchObject({
      state: 'degraded',
      warnings: expect.arrayContaining([expect.stringMatching(/^deliveries: 1 dead/)]),
    });
  });
});

describe('An alert resolved before its mail goes out', () => {
  const { smtp, host } = useMailingApp(new Date('2026-03-01T12:00:00Z'), (transport) => ({
    aqueduct: {
      secrets: [SECRET],
      dispatch: { pollIntervalMs: 50, retryBaseDelayMs: 100, retryMaxDelayMs: 100 },
      expiry: { enabled: false },
      email: { transport, from: 'Acme Billing <billing@acme.test>', alertTo: OPERATOR },
    },
  }));

  it('says it was resolved, not that it "stays open"', async () => {
    const dataSource = host.app.get(DataSource);
    const alerts = host.app.get(AqueductAlerts);
    smtp.down = true; // the first attempt fails: the mail has not gone out
    expect(await alerts.raise('silence', 'Nothing arrived for a while', {})).toBe(true);
    // Between two attempts, the delivery is held (the dispatcher skips a locked row) while the
    // alert is resolved: the next attempt is the first to reach the server.
    const holder = dataSource.createQueryRunner();
    await holder.connect();
    try {
      await holder.startTransaction();
      await waitFor(
        async () =>
          (
            await holder.query(
              `SELECT 1 FROM aqueduct_deliveries d JOIN aqueduct_events e ON e.id = d.event_id
                WHERE e.type = 'alert.raised' AND d.listener = 'aqueduct.email'
                  AND d.state = 'pending' AND d.attempts > 0
                  FOR UPDATE OF d`,
            )
          ).length > 0,
        10_000,
        'a failed first attempt',
      );
      await alerts.resolve('silence');
      smtp.down = false;
      await holder.commitTransaction();
    } finally {
      await holder.release();
    }
    const mail = await waitFor(() => smtp.to(OPERATOR)[0], 20_000, 'the alert mail');
    expect(mail.subject).toBe('[Aqueduct] Action needed: silence');
    expect(mail.text).toMatch(/It was resolved on .+, before this mail went out/);
    expect(mail.text).not.toContain('stays open');
  });
});

describe('The renewal mail, when asked for (email.mails)', () => {
  const T0 = new Date('2026-05-01T00:00:00Z');
  const { smtp, clock, host } = useMailingApp(T0, (transport) => ({
    aqueduct: {
      secrets: [SECRET],
      dispatch: { pollIntervalMs: 50 },
      expiry: { enabled: false },
      email: {
        transport,
        from: 'Acme Billing <billing@acme.test>',
        mails: { 'access-renewed': true, 'access-started': false },
      },
    },
  }));

  it('mails "renewed" with the new paid period, and nothing for the mails turned off', async () => {
    const period = (start: Date) => ({
      customerId: 'owner_renewed',
      invoiceId: `inv_${start.getTime()}`,
      startDate: start.toISOString(),
      endDate: new Date(start.getTime() + 30 * DAY).toISOString(),
      gracePeriodEndDate: new Date(start.getTime() + 37 * DAY).toISOString(),
      provisioningOrgs: users(['Rene', 'rene@acme.test']),
    });
    await postAccepted(host.app, provisioningStartEvent(period(T0), T0), SECRET);
    await deliveriesSettled(host.app);
    const next = new Date(T0.getTime() + 30 * DAY);
    clock.set(next);
    await postAccepted(host.app, provisioningStartEvent(period(next), next), SECRET);
    await waitFor(() => smtp.to('rene@acme.test').length === 1, 20_000, 'the renewal mail');
    const [mail] = smtp.to('rene@acme.test');
    expect(mail.subject).toBe('Your access to prod_pro was renewed');
    expect(mail.text).toContain('the new period runs until June 30, 2026');
  });
});

/** An SMTP server that greylists every recipient (450, in Postfix's words) or refuses the login. */
class ScriptedSmtpServer {
  greylist = false;
  refuseLogin = false;
  readonly received: string[] = [];
  port = 0;
  private server?: SMTPServer;

  async start(): Promise<void> {
    this.server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      onAuth: (auth, _session, callback) =>
        this.refuseLogin
          ? callback(
              Object.assign(new Error('Authentication credentials invalid'), { responseCode: 535 }),
            )
          : callback(null, { user: auth.username }),
      onRcptTo: (address, _session, callback) =>
        callback(
          this.greylist
            ? Object.assign(
                new Error(`4.2.0 <${address.address}>: Recipient address rejected: Greylisted`),
                { responseCode: 450 },
              )
            : undefined,
        ),
      onData: (stream, session, callback) => {
        stream.resume();
        stream.on('end', () => {
          this.received.push(...session.envelope.rcptTo.map((r) => r.address));
          callback();
        });
      },
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.server.address() as AddressInfo).port;
  }

  stop(): Promise<void> {
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

describe("The mail server's answers", () => {
  const smtp = new ScriptedSmtpServer();
  const logs = new LogCapture();
  const host = useTestApp(
    () => ({
      logger: logs,
      aqueduct: {
        secrets: [SECRET],
        dispatch: {
          maxAttempts: 2,
          retryBaseDelayMs: 50,
          retryMaxDelayMs: 100,
          pollIntervalMs: 50,
        },
        expiry: { enabled: false },
        email: {
          transport: {
            host: '127.0.0.1',
            port: smtp.port,
            secure: false,
            ignoreTLS: true,
            auth: { user: 'billing', pass: 'rotated-password' },
          },
          from: 'Acme Billing <billing@acme.test>',
        },
      },
    }),
    { servers: [smtp] },
  );
  const startFor = (customerId: string, address: string) =>
    postAccepted(
      host.app,
      provisioningStartEvent({ customerId, provisioningOrgs: users(['Gus', address]) }),
      SECRET,
    );
  const emailDeliveryOf = (customerId: string) =>
    waitFor(
      async () => {
        const [row] = await host.app.get(DataSource).query(
          `SELECT d.state, e.id FROM aqueduct_deliveries d JOIN aqueduct_events e ON e.id = d.event_id
            WHERE e.type = 'access.started' AND e.payload->'object'->>'customerId' = $1
              AND d.listener = 'aqueduct.email'`,
          [customerId],
        );
        return row && (row.state === 'done' || row.state === 'dead') && row;
      },
      20_000,
      `the access.started mail delivery of ${customerId}`,
    );

  it('a recipient greylisted (450) is retried, and its address is in no log line', async () => {
    smtp.greylist = true;
    smtp.refuseLogin = false;
    await startFor('owner_greylisted', 'gus.private@customer.test');
    expect(await emailDeliveryOf('owner_greylisted')).toMatchObject({ state: 'dead' });
    expect(logs.matching(/gus\.private@customer\.test/)).toEqual([]);
    expect(logs.matching(/not mailed yet \(will retry\): .*<address>/).length).toBeGreaterThan(0);
  });

  it('a login refused (535, a rotated password) is retried, not recorded as the recipient refusing', async () => {
    smtp.greylist = false;
    smtp.refuseLogin = true;
    await startFor('owner_login_refused', 'ann@customer.test');
    const { state, id } = await emailDeliveryOf('owner_login_refused');
    expect(state).toBe('dead');
    // The operator fixes the password and redrives: the customer gets the mail.
    smtp.refuseLogin = false;
    await host.app.get(AqueductEventsService).redrive(`${id}:aqueduct.email`);
    // The record is written once the server's acceptance reaches the module: after the server
    // counted the mail.
    expect(await emailDeliveryOf('owner_login_refused')).toMatchObject({ state: 'done' });
    expect(smtp.received).toContain('ann@customer.test');
    const records = await host.app
      .get(DataSource)
      .query(`SELECT status FROM aqueduct_emails WHERE recipient = 'ann@customer.test'`);
    expect(records).toEqual([{ status: 'sent' }]);
  });
});

/** The host's user system, down for the customers in `down`: provision throws for them. */
const provisioned: { customerId: string; at: number }[] = [];
const down = new Set<string>();

@Injectable()
class FlakyAccounts {
  provision(grant: { customerId: string }) {
    if (down.has(grant.customerId)) {
      throw new Error('the user service is unreachable');
    }
    provisioned.push({ customerId: grant.customerId, at: Date.now() });
  }
  update() {}
  deprovision() {}
}

describe('The welcome mail waits for the provisioning adapter', () => {
  const T0 = new Date('2026-03-01T12:00:00Z');
  const { smtp, clock, host } = useMailingApp(T0, (transport) => ({
    aqueduct: {
      secrets: [SECRET],
      provisioningAdapter: FlakyAccounts,
      dispatch: {
        maxAttempts: 20,
        retryBaseDelayMs: 100,
        retryMaxDelayMs: 200,
        pollIntervalMs: 50,
      },
      expiry: { enabled: false },
      email: { transport, from: 'Acme Billing <billing@acme.test>' },
    },
    imports: [{ module: class FlakyModule {}, providers: [FlakyAccounts] }],
  }));

  it('an adapter failing for a while: no user is welcomed into an account that does not exist yet', async () => {
    down.add('owner_flaky');
    const now = clock.now();
    await postAccepted(
      host.app,
      provisioningStartEvent(
        {
          customerId: 'owner_flaky',
          startDate: now.toISOString(),
          endDate: new Date(now.getTime() + 30 * DAY).toISOString(),
          provisioningOrgs: users(['Ada', 'ada@flaky.test'], ['Bob', 'bob@flaky.test']),
        },
        now,
      ),
      SECRET,
    );
    // The adapter's delivery and the mail's both run, and fail, a few times.
    await waitFor(
      async () =>
        (
          await host.app.get(DataSource).query(
            `SELECT 1 FROM aqueduct_deliveries d JOIN aqueduct_events e ON e.id = d.event_id
                WHERE e.type = 'access.started' AND d.listener = 'aqueduct.email' AND d.attempts >= 3`,
          )
        ).length > 0,
      20_000,
      'the mail delivery to have tried a few times',
    );
    expect(smtp.received).toEqual([]);
    down.delete('owner_flaky');
    await deliveriesSettled(host.app, 20_000);
    const [provision] = provisioned.filter((call) => call.customerId === 'owner_flaky');
    expect(provision).toBeDefined();
    const welcomed = smtp.received.filter((mail) =>
      mail.to.some((to) => to.endsWith('@flaky.test')),
    );
    expect(welcomed.map((mail) => mail.to).sort()).toEqual([
      ['ada@flaky.test'],
      ['bob@flaky.test'],
    ]);
    expect(welcomed.every((mail) => mail.receivedAt >= provision.at)).toBe(true);
  });
});
