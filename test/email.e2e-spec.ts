import { Injectable, type INestApplication } from '@nestjs/common';
import { AqueductEventsService, ExpiryJob, OnAqueductEvent } from 'nestjs-aqueduct';
import { provisioningEndEvent, provisioningStartEvent } from 'nestjs-aqueduct/testing';
import { DataSource } from 'typeorm';
import { postAccepted } from './support/post';
import { createTestApp } from './support/app';
import { createTestDatabase, type TestDatabase } from './support/database';
import { TestSmtpServer } from './support/smtp';
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

describe('Email notifications (real SMTP server, real nodemailer)', () => {
  let db: TestDatabase;
  let app: INestApplication;
  const smtp = new TestSmtpServer();

  beforeAll(async () => {
    await smtp.start();
    db = await createTestDatabase();
    app = await createTestApp({
      databaseUrl: db.url,
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
          transport: smtp.transport,
          from: 'Acme Billing <billing@acme.test>',
          alertTo: OPERATOR,
          timeZone: 'Europe/Paris',
          productNames: { prod_pro: 'Acme Pro' },
        },
      },
      imports: [{ module: class BrokenModule {}, providers: [BrokenListener] }],
    });
  });
  afterAll(async () => {
    await app?.close();
    await db?.drop();
    await smtp.stop();
  });

  const post = (payload: unknown) => postAccepted(app, payload, SECRET);
  const emailDelivery = (eventId: string) =>
    waitFor(
      async () => {
        const [row] = await app
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
    const id = await post(
      provisioningStartEvent({
        customerId: 'owner_mail',
        startDate: '2026-03-01T12:00:00Z',
        endDate: '2026-03-31T12:00:00Z',
        provisioningOrgs: users(
          ['Ada Lovelace', 'ada@acme.test'],
          ['Alan Turing', 'alan@acme.test'],
        ),
      }),
    );
    expect(await emailDelivery(id)).toMatchObject({ state: 'done', attempts: 1 });
    const [ada] = smtp.to('ada@acme.test');
    expect(ada.subject).toBe('Your access to Acme Pro has started');
    expect(ada.text).toContain('Hello Ada Lovelace');
    expect(ada.text).toContain('March 1, 2026 at 1:00 PM'); // 12:00 UTC in Paris
    expect(ada.text).toContain('March 31, 2026');
    expect(smtp.to('alan@acme.test')).toHaveLength(1);
    expect(smtp.received.filter((m) => m.to.length !== 1)).toEqual([]); // one mail per recipient

    const before = smtp.received.length;
    await app.get(AqueductEventsService).replay(id);
    await new Promise((resolve) => setTimeout(resolve, 300));
    await emailDelivery(id);
    expect(smtp.received.length).toBe(before); // replay sends nothing new
  });

  it('tells users the paid period ended and until when the grace period runs, then that access ended', async () => {
    const day = 24 * 60 * 60 * 1000;
    const now = Date.now();
    const paris = new Intl.DateTimeFormat('en-US', { dateStyle: 'long', timeZone: 'Europe/Paris' });
    const object = {
      customerId: 'owner_grace',
      productId: 'prod_pro',
      startDate: new Date(now - 31 * day).toISOString(),
      endDate: new Date(now - day).toISOString(),
      gracePeriodEndDate: new Date(now + 7 * day).toISOString(),
      provisioningOrgs: users(['Grace Hopper', 'grace@acme.test']),
    };
    await emailDelivery(await post(provisioningEndEvent(object)));
    const [ended] = smtp.to('grace@acme.test');
    expect(ended.subject).toBe('Your paid period for Acme Pro has ended');
    expect(ended.text).toContain(`ended on ${paris.format(new Date(object.endDate))}`);
    expect(ended.text).toContain(
      `continues until ${paris.format(new Date(object.gracePeriodEndDate))}`,
    );

    await app.get(ExpiryJob).sweep(new Date(now + 8 * day));
    await waitFor(() => smtp.to('grace@acme.test').length === 2, 20_000, 'the access-ended mail');
    expect(smtp.to('grace@acme.test')[1].subject).toBe('Your access to Acme Pro has ended');
  });

  it('a mail server that refuses for a while delays mail and loses none: exactly one mail per recipient', async () => {
    smtp.down = true;
    const id = await post(
      provisioningStartEvent({
        provisioningOrgs: users(['Katherine', 'kat@acme.test'], ['Dorothy', 'dot@acme.test']),
      }),
    );
    await waitFor(
      async () => {
        const [row] = await app
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
    await app.get(AqueductEventsService).redriveDead();
    expect(await emailDelivery(id)).toMatchObject({ state: 'done' });
    expect(smtp.to('kat@acme.test')).toHaveLength(1);
    expect(smtp.to('dot@acme.test')).toHaveLength(1);
  });

  it('a bad address among three users does not block the other two, and is not retried forever', async () => {
    smtp.unknownUsers.add('gone@acme.test');
    const id = await post(
      provisioningStartEvent({
        provisioningOrgs: users(
          ['Mary', 'mary@acme.test'],
          ['Typo', 'not an address'],
          ['Gone', 'gone@acme.test'],
          ['Joan', 'joan@acme.test'],
        ),
      }),
    );
    expect(await emailDelivery(id)).toMatchObject({ state: 'done', attempts: 1 });
    expect(smtp.to('mary@acme.test')).toHaveLength(1);
    expect(smtp.to('joan@acme.test')).toHaveLength(1);
    const rejected = await app
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
    const id = await post(
      provisioningStartEvent({
        provisioningOrgs: users(['<script>alert(1)</script>', 'xss@acme.test']),
      }),
    );
    await emailDelivery(id);
    const [mail] = smtp.to('xss@acme.test');
    expect(mail.html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(mail.html).not.toContain('<script>');
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
    expect(alert.subject).toBe('[Aqueduct] always-broken failed for good on a invoice.paid event');
    expect(alert.text).toContain('the ERP is unreachable');
    expect(alert.text).toContain(`redrive('${id}:always-broken')`);
  });
});
