import { Injectable, type INestApplication } from '@nestjs/common';
import {
  AqueductEventsService,
  AqueductHealthIndicator,
  CREATED_AT_MISSING,
  OnAqueductEvent,
  type ProvisioningAdapter,
  type ProvisioningGrant,
} from 'nestjs-aqueduct';
import {
  invoicePaidEvent,
  provisioningStartEvent,
  signAqueductRequest,
  type SignAqueductRequestOptions,
} from 'nestjs-aqueduct/testing';
import { Client } from 'pg';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { createTestApp, storedEvents } from './support/app';
import { TestSmtpServer } from './support/smtp';
import { deliveriesSettled } from './support/subscription';
import { useTestApp } from './support/use-test-app';
import { useTestDatabase } from './support/use-test-database';
import { waitFor } from './support/wait';

const STANDARD = `whsec_${Buffer.from('sender-safety-secret-sender-safety').toString('base64')}`;
const PATH = '/webhooks/aqueduct';
const OPERATOR = 'oncall@host.test';

const runs = new Map<string, number>();
const grants: ProvisioningGrant[] = [];

@Injectable()
class CountingListener {
  @OnAqueductEvent('provisioning.start', { name: 'counting' })
  count(event: { id: string }) {
    runs.set(event.id, (runs.get(event.id) ?? 0) + 1);
  }
}

@Injectable()
class RecordingAdapter implements ProvisioningAdapter {
  provision(grant: ProvisioningGrant) {
    grants.push(grant);
  }
  deprovision() {}
  update() {}
}

const providers = [{ module: class Host {}, providers: [CountingListener, RecordingAdapter] }];
const dispatch = { pollIntervalMs: 50, retryBaseDelayMs: 50, retryMaxDelayMs: 100 };

/** Posts a body signed as given; returns the answer. */
const send = (app: INestApplication, payload: unknown, options: SignAqueductRequestOptions) => {
  const { body, headers } = signAqueductRequest(payload, options);
  return request(app.getHttpServer()).post(PATH).set(headers).send(body);
};

describe('Sender-safe answers (HTTP, real Postgres, real SMTP)', () => {
  const smtp = new TestSmtpServer();

  // A second instance on the same database: alerts are one per incident across instances. A
  // function: the SMTP server has its port only once started.
  const host = useTestApp(
    () => ({
      aqueduct: {
        secrets: [STANDARD],
        verification: { scheme: 'standard-webhooks' },
        provisioningAdapter: RecordingAdapter,
        dispatch,
        expiry: { enabled: false },
        email: {
          transport: smtp.transport,
          from: 'Billing <billing@host.test>',
          alertTo: OPERATOR,
        },
      },
      imports: providers,
    }),
    { instances: 2, servers: [smtp] },
  );

  const standard = (payload: unknown, id?: string) =>
    send(host.app, payload, { scheme: 'standard-webhooks', secret: STANDARD, id });
  const dataSource = () => host.app.get(DataSource);
  const alertRows = (kind: string) =>
    dataSource().query(`SELECT status, occurrences FROM aqueduct_alerts WHERE kind = $1`, [kind]);
  const alertEvents = async (kind: string): Promise<number> =>
    (
      await dataSource().query(
        `SELECT count(*)::int AS n FROM aqueduct_events WHERE type = 'alert.raised' AND payload->'object'->>'kind' = $1`,
        [kind],
      )
    )[0].n;
  const health = async () =>
    (await host.app.get(AqueductHealthIndicator).isHealthy('aqueduct')).aqueduct;

  describe('lenient where the seeds promise nothing', () => {
    it('provisions users with a null name or an empty or invalid email, and mails only valid addresses', async () => {
      const res = await standard(
        provisioningStartEvent({
          customerId: 'owner_lenient',
          provisioningOrgs: [
            {
              name: 'Acme',
              users: [
                { name: null, email: 'nameless@acme.test' },
                { name: 'Empty', email: '' },
                { name: 'Typo', email: 'not an address' },
                { name: 'Missing' },
              ],
            },
          ],
        }),
      ).expect(200);
      expect(res.body).toEqual({ received: true, id: expect.any(String) });
      await deliveriesSettled(host.app);
      const grant = grants.find((g) => g.customerId === 'owner_lenient');
      expect(grant?.orgs[0].users.map((u) => u.name)).toEqual([null, 'Empty', 'Typo', 'Missing']);
      await waitFor(() => smtp.to('nameless@acme.test').length === 1, 15_000, 'the mail');
      expect(smtp.received.filter((m) => m.to.some((to) => /not an address|^$/.test(to)))).toEqual(
        [],
      );
    });

    it('accepts invoice.paid without an id', async () => {
      const res = await standard(invoicePaidEvent({ id: undefined })).expect(200);
      expect(res.body).toEqual({ received: true, id: expect.any(String) });
    });

    it('accepts a missing createdAt: the arrival time is the event time, and the event says so', async () => {
      const { createdAt: _none, ...event } = provisioningStartEvent({
        customerId: 'owner_undated',
      });
      const before = Date.now();
      const res = await standard(event).expect(200);
      expect(res.body.quarantined).toBeUndefined();
      const stored = await host.app.get(AqueductEventsService).getEvent(res.body.id);
      expect(stored.warnings).toEqual([CREATED_AT_MISSING]);
      expect(new Date(stored.createdAt as Date).getTime()).toBeGreaterThanOrEqual(before - 1000);
    });
  });

  describe('quarantine, alert, reprocess', () => {
    it('quarantines an invalid event (2xx), alerts once across instances, mails the operator once', async () => {
      const first = await standard(
        provisioningStartEvent({ customerId: 'owner_q1', startDate: 'soon' }),
      ).expect(200);
      expect(first.body).toMatchObject({
        quarantined: true,
        errors: ['object.startDate must be an ISO 8601 date or epoch number'],
      });
      await waitFor(async () => (await alertEvents('quarantine')) === 1, 10_000, 'the alert');
      // More quarantined events, on both instances: the alert only counts them.
      await standard(provisioningStartEvent({ customerId: 'owner_q2', endDate: 'later' })).expect(
        200,
      );
      await send(
        host.instances[1],
        { type: 'provisioning.end', createdAt: 'x' },
        {
          scheme: 'standard-webhooks',
          secret: STANDARD,
        },
      ).expect(200);
      await waitFor(
        () => smtp.to(OPERATOR).filter((m) => m.subject.includes('quarantine')).length === 1,
        15_000,
        'the alert mail',
      );
      expect(await alertEvents('quarantine')).toBe(1);
      const [mail] = smtp.to(OPERATOR).filter((m) => m.subject.includes('quarantine'));
      expect(mail.subject).toBe('[Aqueduct] Action needed: quarantine');
      expect(mail.text).toContain('nestjs-aqueduct events reprocess');
      const state = await health();
      expect(state).toMatchObject({ status: 'up', state: 'degraded' });
      expect(state.warnings).toEqual(
        expect.arrayContaining([expect.stringContaining('quarantine')]),
      );
    });

    it('reprocess accepts an event that passes today, with its deliveries created exactly once', async () => {
      // Stored by an older version whose rules refused it: its bytes pass today's DTOs.
      const body = JSON.stringify(provisioningStartEvent({ customerId: 'owner_fixed' }));
      const [{ id }] = await dataSource().query(
        `INSERT INTO aqueduct_events (dedup_key, type, status, raw_body, errors)
         VALUES ('manual:fixed', 'provisioning.start', 'quarantined', $1, '["an old rule"]') RETURNING id`,
        [Buffer.from(body)],
      );
      const events = host.app.get(AqueductEventsService);
      const results = await Promise.all([
        events.reprocess(id),
        host.instances[1].get(AqueductEventsService).reprocess(id),
      ]);
      expect(results.map((r) => r.status)).toEqual(['accepted', 'accepted']);
      // One call accepted it and created its two deliveries (counting, aqueduct.provisioning).
      expect(results.map((r) => r.scheduled).sort()).toEqual([0, 2]);
      await deliveriesSettled(host.app);
      expect(runs.get(id)).toBe(1);
      const deliveries = await dataSource().query(
        `SELECT listener, state FROM aqueduct_deliveries WHERE event_id = $1 ORDER BY listener`,
        [id],
      );
      expect(deliveries.every((d: { state: string }) => d.state === 'done')).toBe(true);
    });

    it('reprocess racing a dismiss: the dismissed event gets no deliveries and is not reported accepted', async () => {
      const body = JSON.stringify(provisioningStartEvent({ customerId: 'owner_dismissed' }));
      const [{ id }] = await dataSource().query(
        `INSERT INTO aqueduct_events (dedup_key, type, status, raw_body, errors)
         VALUES ('manual:dismissed', 'provisioning.start', 'quarantined', $1, '["an old rule"]') RETURNING id`,
        [Buffer.from(body)],
      );
      // An operator's dismiss holds the row while the reprocess reads it (still quarantined).
      const operator = new Client({ connectionString: host.db.url });
      await operator.connect();
      try {
        await operator.query('BEGIN');
        await operator.query(`UPDATE aqueduct_events SET status = 'dismissed' WHERE id = $1`, [id]);
        const reprocessing = host.app.get(AqueductEventsService).reprocess(id);
        // The reprocess must not finish first (it would not have met the dismiss): say so if it does.
        const early = reprocessing.then(
          (result) => Promise.reject(new Error(`reprocess ended first: ${JSON.stringify(result)}`)),
          (error: Error) => Promise.reject(new Error(`reprocess failed first: ${error.message}`)),
        );
        early.catch(() => undefined);
        await Promise.race([
          early,
          // Its statement's text may not show yet while it waits (the extended protocol): any
          // backend of this test's database waiting on a lock is the reprocess.
          waitFor(
            async () =>
              (
                await operator.query(
                  `SELECT 1 FROM pg_stat_activity
                    WHERE datname = current_database() AND wait_event_type = 'Lock'`,
                )
              ).rowCount,
            20_000,
            'the reprocess to wait for the row',
          ),
        ]);
        await operator.query('COMMIT');
        expect(await reprocessing).toEqual({ id, status: 'dismissed', errors: null });
      } finally {
        await operator.end();
      }
      expect(
        await dataSource().query(`SELECT 1 FROM aqueduct_deliveries WHERE event_id = $1`, [id]),
      ).toEqual([]);
      expect(runs.get(id)).toBeUndefined();
    });

    it('reprocess keeps a still-invalid event quarantined with today\u2019s errors; dismiss sets it aside', async () => {
      const events = host.app.get(AqueductEventsService);
      const quarantined = (await storedEvents(host.app)).filter((e) => e.status === 'quarantined');
      expect(quarantined.length).toBeGreaterThanOrEqual(3);
      const results = await events.reprocessQuarantined();
      expect(results.every((r) => r.status === 'quarantined' && r.errors?.length)).toBe(true);
      for (const { id } of quarantined) {
        await events.dismiss(id);
      }
      expect(await events.quarantinedCount()).toBe(0);
      expect(await alertRows('quarantine')).toEqual([
        expect.objectContaining({ status: 'resolved' }),
      ]);
      await expect(events.dismiss(quarantined[0].id)).rejects.toThrow('No quarantined event');
    });
  });

  describe('503 only for the database: values too big for an index', () => {
    const oversized = 'x'.repeat(4000);

    it('a 4,000-character webhook-id is hashed into the dedup key: 200, and its retry a duplicate', async () => {
      const event = provisioningStartEvent({ customerId: 'owner_long_id' });
      const first = await standard(event, oversized).expect(200);
      const again = await standard(event, oversized).expect(200);
      expect(again.body).toEqual({ received: true, id: first.body.id, duplicate: true });
      const [row] = (await storedEvents(host.app)).filter((e) => e.id === first.body.id);
      expect(row.dedup_key).toMatch(/^id-sha256:[0-9a-f]{64}$/);
    });

    it.each([
      ['object.customerId', { customerId: oversized }],
      ['object.productId', { productId: oversized }],
      ['object.invoiceId', { invoiceId: oversized }],
    ])('a 4,000-character %s is quarantined naming it (200), not 503', async (field, override) => {
      const res = await standard(provisioningStartEvent(override)).expect(200);
      expect(res.body.quarantined).toBe(true);
      expect(res.body.errors).toEqual([expect.stringContaining(field)]);
    });

    it('a 4,000-character type is quarantined (200) and stored with its first 200 characters', async () => {
      const res = await standard({ type: oversized, createdAt: new Date(), object: {} }).expect(
        200,
      );
      expect(res.body.errors).toEqual(['type must be at most 200 characters']);
      const [row] = (await storedEvents(host.app)).filter((e) => e.id === res.body.id);
      expect(row.type).toHaveLength(200);
    });

    it('a 4,000-character customerId in an unknown type is stored and listed (the index holds a prefix)', async () => {
      const res = await standard({
        type: 'customer.updated',
        createdAt: new Date(),
        object: { customerId: oversized },
      }).expect(200);
      expect(res.body).toEqual({ received: true, id: expect.any(String) });
      const found = await host.app.get(AqueductEventsService).listEvents({ customerId: oversized });
      expect(found.map((e) => e.id)).toContain(res.body.id);
      expect(found.every((e) => e.customerId === oversized)).toBe(true);
    });
  });

  describe('a failing setup is noticed in minutes', () => {
    it('five refusals with none verified: one alert across instances, one mail naming the reason; a verified request resolves it', async () => {
      const wrong = {
        scheme: 'standard-webhooks' as const,
        secret: `whsec_${Buffer.from('a-wrong-secret-a-wrong-secret-a-wrong').toString('base64')}`,
      };
      for (let i = 0; i < 3; i++) {
        await send(host.app, provisioningStartEvent(), wrong).expect(401);
        await send(host.instances[1], provisioningStartEvent(), wrong).expect(401);
      }
      await send(host.app, provisioningStartEvent(), wrong).expect(401);
      await send(host.app, provisioningStartEvent(), wrong).expect(401);
      await waitFor(
        () => smtp.to(OPERATOR).filter((m) => m.subject.includes('verification')).length >= 1,
        15_000,
        'the verification alert mail',
      );
      await new Promise((resolve) => setTimeout(resolve, 300));
      const mails = smtp.to(OPERATOR).filter((m) => m.subject.includes('verification'));
      expect(mails).toHaveLength(1);
      expect(mails[0].text).toContain('bad-signature');
      expect(mails[0].text).toContain('webhook-signature');
      expect(mails[0].text).not.toContain(STANDARD);
      expect(await alertEvents('verification')).toBe(1);
      expect(await health()).toMatchObject({
        state: 'degraded',
        refusedRecently: { 'bad-signature': 5 },
      });

      await standard(provisioningStartEvent()).expect(200);
      await waitFor(
        async () => (await alertRows('verification'))[0]?.status === 'resolved',
        10_000,
        'the alert to resolve',
      );
    });

    it('refusals seen before another instance resolved the alert are not a new incident', async () => {
      // The test above: the second instance saw 3 of the refusals, then the first verified a
      // request and resolved it.
      const wrong = {
        scheme: 'standard-webhooks' as const,
        secret: `whsec_${Buffer.from('a-wrong-secret-a-wrong-secret-a-wrong').toString('base64')}`,
      };
      await send(host.instances[1], provisioningStartEvent(), wrong).expect(401);
      await send(host.instances[1], provisioningStartEvent(), wrong).expect(401);
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(await alertRows('verification')).toEqual([
        expect.objectContaining({ status: 'resolved' }),
      ]);
      expect(await alertEvents('verification')).toBe(1);
      const otherHealth = (
        await host.instances[1].get(AqueductHealthIndicator).isHealthy('aqueduct')
      ).aqueduct;
      expect(otherHealth.refusedRecently).toEqual({ 'bad-signature': 2 });
    });

    it('one request signed with our secret but refused for its timestamp opens the alert at once, naming the way out', async () => {
      // As a sender would send a retry that kept its first attempt's timestamp, 2 hours old.
      const old = new Date(Date.now() - 2 * 3_600_000);
      await send(host.app, provisioningStartEvent(), {
        scheme: 'standard-webhooks',
        secret: STANDARD,
        timestamp: old,
      }).expect(401);
      await waitFor(
        async () => (await alertRows('verification'))[0]?.status === 'open',
        10_000,
        'the alert to open',
      );
      const mail = await waitFor(
        () =>
          smtp
            .to(OPERATOR)
            .filter((m) => m.subject.includes('verification'))
            .find((m) => m.text.includes('toleranceSeconds')),
        15_000,
        'the alert mail',
      );
      expect(mail.text).toContain('signed with a configured secret');
      expect(mail.text).not.toContain(STANDARD);
      // A stale timestamp under a wrong secret is one refusal among others, as before.
      const wrong = `whsec_${Buffer.from('a-wrong-secret-a-wrong-secret-a-wrong').toString('base64')}`;
      await standard(provisioningStartEvent()).expect(200); // resolves it
      await waitFor(
        async () => (await alertRows('verification'))[0]?.status === 'resolved',
        10_000,
        'the alert to resolve',
      );
      await send(host.app, provisioningStartEvent(), {
        scheme: 'standard-webhooks',
        secret: wrong,
        timestamp: old,
      }).expect(401);
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect((await alertRows('verification'))[0]?.status).toBe('resolved');
    });

    it('counts a request signed with another scheme as other-scheme', async () => {
      const hmacApp = await createTestApp({
        databaseUrl: host.db.url,
        aqueduct: { secrets: ['shared'], verification: { scheme: 'shared-secret' }, dispatch },
      });
      try {
        await send(hmacApp, provisioningStartEvent(), {
          scheme: 'standard-webhooks',
          secret: STANDARD,
        }).expect(401);
        const metrics = await (await import('prom-client')).register.metrics();
        expect(metrics).toMatch(
          /aqueduct_webhooks_unauthorized_total\{reason="other-scheme"\} [1-9]/,
        );
      } finally {
        await hmacApp.close();
      }
    });
  });
});

describe('Dedup only on what is signed', () => {
  const db = useTestDatabase();

  it.each([
    ['hmac', { scheme: 'hmac' as const, deliveryIdHeader: 'x-delivery-id' }],
    ['shared-secret', { scheme: 'shared-secret' as const, deliveryIdHeader: 'x-delivery-id' }],
  ])(
    '%s with an unsigned delivery id: one captured body re-sent with new ids is one event',
    async (_name, verification) => {
      const app = await createTestApp({
        databaseUrl: db.url,
        aqueduct: { secrets: ['s3cret-s3cret'], verification, dispatch },
        imports: providers,
      });
      try {
        const event = provisioningStartEvent({
          customerId: `owner_replayed_${verification.scheme}`,
        });
        const answers: { id: string; duplicate?: boolean }[] = [];
        for (const id of ['d-1', 'd-2', 'd-3', 'd-4']) {
          answers.push(
            (await send(app, event, { ...verification, secret: 's3cret-s3cret', id }).expect(200))
              .body,
          );
        }
        expect(new Set(answers.map((a) => a.id)).size).toBe(1);
        expect(answers.filter((a) => a.duplicate)).toHaveLength(3);
        await deliveriesSettled(app);
        expect(runs.get(answers[0].id)).toBe(1);
        const [row] = (await storedEvents(app)).filter((e) => e.id === answers[0].id);
        expect(row.dedup_key).toMatch(/^sha256:/);
      } finally {
        await app.close();
      }
    },
  );
});

describe('The quarantine alert of an event whose type Postgres cannot hold as JSON', () => {
  const host = useTestApp({ aqueduct: { secrets: ['surrogate-secret'] } });

  // The type (a lone surrogate, a valid JSON escape) went into the alert's details as it came, and
  // Postgres refused them: the event was quarantined, and the operators were never told.
  it('is raised, with the type written well formed', async () => {
    const res = await send(host.app, '{"type":"customer.note\\ud800","createdAt":1,"object":{}}', {
      scheme: 'shared-secret',
      secret: 'surrogate-secret',
    }).expect(200);
    expect(res.body.quarantined).toBe(true);
    const [alert] = await waitFor(
      async () => {
        const rows = await host.app
          .get(DataSource)
          .query(`SELECT status, details FROM aqueduct_alerts WHERE kind = 'quarantine'`);
        return rows.length > 0 && rows;
      },
      20_000,
      'the quarantine alert',
    );
    expect(alert).toMatchObject({
      status: 'open',
      details: { eventId: res.body.id, type: 'customer.note\ufffd' },
    });
  });
});
