import type { INestApplication } from '@nestjs/common';
import { type CanActivate, Injectable } from '@nestjs/common';
import {
  AqueductAccessService,
  AqueductHealthIndicator,
  ExpiryJob,
  type ProvisioningAdapter,
} from 'nestjs-aqueduct';
import { createHash } from 'node:crypto';
import { Client } from 'pg';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { createTestApp } from './support/app';
import { createTestDatabase, type TestDatabase } from './support/database';
import { postAccepted } from './support/post';
import { TestSmtpServer } from './support/smtp';
import { deliveriesSettled, envelope, period } from './support/subscription';
import { DAY, TestClock } from './support/test-clock';
import { waitFor } from './support/wait';

const SECRET = 'table-scans-secret';
const T0 = new Date('2026-03-01T00:00:00Z');
/**
 * Rows already in each table: a host with a few thousand customers. Below about 13,000 rows a
 * statement whose plan guesses its input's size wrong (a function's 100 rows) reads the whole
 * table on every call, so the hazard hides both in an empty table and in a very large one.
 */
const ROWS = 5_000;
/** The customers whose whole life the test drives. */
const CUSTOMERS = 4;

/** The tables that grow with customers and events; none of them may be read whole per event. */
const GROWING_TABLES = [
  'aqueduct_events',
  'aqueduct_deliveries',
  'aqueduct_access',
  'aqueduct_provisionings',
  'aqueduct_invoice_payments',
  'aqueduct_emails',
];

@Injectable()
class CountingAdapter implements ProvisioningAdapter {
  calls = 0;
  provision() {
    this.calls++;
  }
  deprovision() {
    this.calls++;
  }
  update() {
    this.calls++;
  }
}

/** The id of the `n`th seeded event, as `SEED_SQL` makes it (`md5('event' || n)::uuid`). */
const seededEventId = (n: number) =>
  createHash('md5')
    .update(`event${n}`)
    .digest('hex')
    .replace(/^(.{8})(.{4})(.{4})(.{4})(.{12})$/, '$1-$2-$3-$4-$5');

/** What an established host's tables hold: `ROWS` of each, with statistics, as autovacuum keeps. */
const SEED_SQL = `
INSERT INTO aqueduct_events (id, dedup_key, type, status, payload, received_at)
SELECT md5('event' || g)::uuid, 'seed-' || g, 'provisioning.start', 'accepted',
       jsonb_build_object('type', 'provisioning.start', 'object',
         jsonb_build_object('customerId', 'cus_seed_' || g)),
       now() - interval '1 day'
  FROM generate_series(1, ${ROWS}) g;
INSERT INTO aqueduct_deliveries (event_id, listener, state, attempts, finished_at)
SELECT md5('event' || g)::uuid, 'aqueduct.provisioning', 'done', 1, now() - interval '1 day'
  FROM generate_series(1, ${ROWS}) g;
INSERT INTO aqueduct_provisionings
  (key, customer_id, product_id, invoice_id, start_date, end_date, access_until, last_event_type, last_event_at)
SELECT 'seed-' || g, 'cus_seed_' || g, 'prod_pro', 'inv_seed_' || g,
       now() - interval '10 days', now() + interval '20 days', now() + interval '27 days',
       'provisioning.start', now() - interval '10 days'
  FROM generate_series(1, ${ROWS}) g;
INSERT INTO aqueduct_invoice_payments (invoice_id, paid_at)
SELECT 'inv_seed_' || g, now() - interval '10 days' FROM generate_series(1, ${ROWS}) g;
INSERT INTO aqueduct_access (customer_id, product_id, status, has_access, since, access_until, timeline)
SELECT 'cus_seed_' || g, 'prod_pro', 'active', true, now() - interval '10 days', now() + interval '27 days',
       jsonb_build_array(jsonb_build_object('from', now() - interval '10 days', 'until', now() + interval '27 days'))
  FROM generate_series(1, ${ROWS}) g;
INSERT INTO aqueduct_emails (key, event_id, template, recipient, status)
SELECT 'seed-' || g, md5('event' || g)::uuid, 'access-started', 'user' || g || '@seed.test', 'sent'
  FROM generate_series(1, ${ROWS}) g;
ANALYZE`;

/** Reads of each growing table so far (whole, through an index), once every other session ended. */
async function tableReads(url: string): Promise<Record<string, { seq: number; idx: number }>> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    // A session's counters reach the shared statistics at the latest when it ends.
    await waitFor(
      async () =>
        (
          await client.query(
            `SELECT count(*)::int AS n FROM pg_stat_activity
              WHERE datname = current_database() AND pid <> pg_backend_pid()`,
          )
        ).rows[0].n === 0,
      10_000,
      'the app’s sessions to end',
    );
    await client.query('SELECT pg_stat_clear_snapshot()');
    const { rows } = await client.query(
      `SELECT relname, seq_scan::int AS seq, coalesce(idx_scan, 0)::int AS idx
         FROM pg_stat_user_tables WHERE relname = ANY($1)`,
      [GROWING_TABLES],
    );
    return Object.fromEntries(rows.map(({ relname, seq, idx }) => [relname, { seq, idx }]));
  } finally {
    await client.end();
  }
}

/** The console's guard: the test reads every page. */
@Injectable()
class AllowAll implements CanActivate {
  canActivate() {
    return true;
  }
}

describe('An established host’s tables are never read whole: events, sweeps, checks, console', () => {
  const smtp = new TestSmtpServer();
  const clock = new TestClock(T0);
  let db: TestDatabase;
  let app: INestApplication | undefined;

  const boot = () =>
    createTestApp({
      databaseUrl: db.url,
      clock,
      aqueduct: {
        secrets: [SECRET],
        provisioningAdapter: CountingAdapter,
        expiry: { enabled: false },
        dispatch: { pollIntervalMs: 50 },
        email: { transport: smtp.transport, from: 'Billing <billing@acme.test>' },
        console: { guard: AllowAll },
      },
      imports: [{ module: class HostModule {}, providers: [CountingAdapter, AllowAll] }],
    });

  /**
   * Boots the app, runs `work` with it, closes it, and returns the whole-table reads of each
   * growing table meanwhile (expecting index reads of `indexed`, so the counters did move).
   */
  const wholeReadsDuring = async (
    work: (app: INestApplication) => Promise<void>,
    indexed: string,
  ): Promise<Record<string, number>> => {
    const before = await tableReads(db.url);
    app = await boot();
    await work(app);
    await app.close();
    app = undefined;
    const after = await tableReads(db.url);
    expect(after[indexed].idx - before[indexed].idx).toBeGreaterThan(0);
    return Object.fromEntries(GROWING_TABLES.map((t) => [t, after[t].seq - before[t].seq]));
  };
  const NONE = Object.fromEntries(GROWING_TABLES.map((t) => [t, 0]));

  beforeAll(async () => {
    await smtp.start();
    db = await createTestDatabase();
    // The schema, then the rows, then the statistics, before the app that is measured boots.
    const migrating = await boot();
    try {
      await migrating.get(DataSource).query(SEED_SQL);
    } finally {
      await migrating.close();
    }
  });
  afterAll(async () => {
    await app?.close();
    await db?.drop();
    await smtp.stop();
  });

  it('a start, a renewal, its payment, an end, the expiry sweep and access checks', async () => {
    const whole = await wholeReadsDuring(async (app) => {
      const send = (type: string, object: unknown, createdAt: Date) =>
        postAccepted(app, envelope(type, object, createdAt), SECRET);
      const renewal = new Date(T0.getTime() + 30 * DAY);
      for (let n = 0; n < CUSTOMERS; n++) {
        const customer = `cus_scan_${n}`;
        await send('provisioning.start', period(customer, { start: T0 }), T0);
        const next = period(customer, { start: renewal });
        await send('provisioning.start', next, T0);
        await send('invoice.paid', { id: next.invoiceId, status: 'paid' }, T0);
        await send('provisioning.end', next, renewal);
      }
      await deliveriesSettled(app);
      clock.set(new Date(T0.getTime() + 70 * DAY));
      await app.get(ExpiryJob).sweep();
      await deliveriesSettled(app);
      const access = app.get(AqueductAccessService);
      expect(await access.hasAccess('cus_seed_7', 'prod_pro', new Date())).toBe(true);
      expect(await access.hasAccess('cus_scan_0', 'prod_pro')).toBe(false);
      expect(app.get(CountingAdapter).calls).toBeGreaterThanOrEqual(2 * CUSTOMERS);
      expect(smtp.received.length).toBeGreaterThanOrEqual(CUSTOMERS);
    }, 'aqueduct_access');
    expect(whole).toEqual(NONE);
  });

  it('the console’s pages: the newest events, each filter, an event, a customer', async () => {
    const event = seededEventId(7);
    const whole = await wholeReadsDuring(async (app) => {
      const pages = [
        '',
        '?type=provisioning.start',
        '?status=quarantined',
        '?status=dead',
        '?customer=cus_seed_7',
        `/events/${event}`,
        '/customers/cus_seed_7',
      ];
      for (const page of pages) {
        await request(app.getHttpServer()).get(`/aqueduct/console${page}`).expect(200);
      }
    }, 'aqueduct_events');
    expect(whole).toEqual(NONE);
  });

  it('the health check a load balancer probes every few seconds', async () => {
    const whole = await wholeReadsDuring(async (app) => {
      const health = app.get(AqueductHealthIndicator);
      for (let probe = 0; probe < 3; probe++) {
        expect((await health.isHealthy()).aqueduct.status).toBe('up');
      }
    }, 'aqueduct_deliveries');
    expect(whole).toEqual(NONE);
  });
});
