/**
 * Access checks from memory (real Postgres, real LISTEN/NOTIFY, real HTTP): two instances on one
 * database, one writing (the ledger, the expiry job, a hand-written UPDATE), the other answering
 * checks from its cache. Its answers follow every committed change, flip with time on their own,
 * survive a lost notification connection without missing a change, and keep coming (stale or by
 * the fallback, never a 500) while Postgres cannot be reached.
 */
import { Controller, Get, type INestApplication, Injectable, Module } from '@nestjs/common';
import {
  type AccessCheck,
  AqueductAccessService,
  AqueductHealthIndicator,
  AqueductModule,
  ExpiryJob,
  customerIdFrom,
  RequiresEntitlement,
  RequiresFeature,
} from 'nestjs-aqueduct';
import { waitForDeliveries } from 'nestjs-aqueduct/testing';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { AccessCache } from '../libs/aqueduct/src/access/access-cache';
import { PostgresNotifications } from '../libs/aqueduct/src/storage/postgres-notifications';
import { createTestApp } from './support/app';
import { LogCapture } from './support/log-capture';
import { createTestDatabase, type TestDatabase } from './support/database';
import { postAccepted } from './support/post';
import { envelope, period } from './support/subscription';
import { TcpProxy } from './support/tcp-proxy';
import { DAY, TestClock } from './support/test-clock';
import { useTestApp } from './support/use-test-app';
import { waitFor } from './support/wait';

const SECRET = 'cache-secret';
const T0 = new Date('2026-03-01T00:00:00Z');
const FEATURES = { prod_pro: ['reports', 'api'], prod_team: ['reports', 'api', 'sso'] };

@Controller('customers/:customerId')
class PaidController {
  @Get('reports')
  @RequiresEntitlement('prod_pro')
  reports() {
    return { ok: true };
  }

  @Get('team')
  @RequiresEntitlement('prod_team')
  team() {
    return { ok: true };
  }

  @Get('sso')
  @RequiresFeature('sso')
  sso() {
    return { ok: true };
  }
}

const start = (customerId: string, options: Parameters<typeof period>[1]) =>
  envelope('provisioning.start', period(customerId, options), options.start);

describe('Access checks from memory, across instances', () => {
  let db: TestDatabase;
  /** Receives events and runs the ledger and the expiry job. */
  let writer: INestApplication;
  /** Only answers checks (no dispatcher): everything it knows comes from Postgres and NOTIFY. */
  let reader: INestApplication;
  let access: AqueductAccessService;
  const clock = new TestClock(T0);

  const post = async (payload: unknown) => {
    const id = await postAccepted(writer, payload, SECRET);
    const outcome = await waitForDeliveries(writer, { eventId: id });
    expect(outcome.dead).toEqual([]);
  };

  beforeAll(async () => {
    db = await createTestDatabase();
    writer = await createTestApp({
      databaseUrl: db.url,
      clock,
      aqueduct: { secrets: [SECRET], features: FEATURES, expiry: { enabled: false } },
    });
    reader = await createTestApp({
      databaseUrl: db.url,
      clock,
      controllers: [PaidController],
      aqueduct: {
        secrets: [SECRET],
        features: FEATURES,
        dispatch: { enabled: false },
        expiry: { enabled: false },
        access: { cache: { disconnectedTtlMs: 300 } },
      },
    });
    access = reader.get(AqueductAccessService);
    await waitFor(() => reader.get(AccessCache).state().notifications === 'listening');
  });

  afterAll(async () => {
    await reader?.close();
    await writer?.close();
    await db?.drop();
  });

  it('reads a customer once, then answers from memory; another instance’s change reaches it', async () => {
    const first = await access.check('owner_new', { product: 'prod_pro' });
    expect(first).toMatchObject({ allowed: false, source: 'database', fallback: false });
    expect(await access.check('owner_new', { product: 'prod_pro' })).toMatchObject({
      allowed: false,
      source: 'cache',
    });

    await post(start('owner_new', { start: T0, users: [['Ada', 'ada@new.test']] }));
    // The writer committed; its trigger's NOTIFY drops the reader's entry.
    const after = await waitFor(
      async () => {
        const check = await access.check('owner_new', { product: 'prod_pro' });
        return check.allowed && check;
      },
      2000,
      'the reader to see the new access',
    );
    expect(after).toMatchObject({ source: 'database', seats: 1, grantedBy: ['prod_pro'] });
    expect(after.changesAt).toEqual(new Date(T0.getTime() + 37 * DAY));
    expect(await access.check('owner_new', { product: 'prod_pro' })).toMatchObject({
      allowed: true,
      source: 'cache',
    });
  });

  it('flips at a start and at the end of grace from memory, without the expiry job', async () => {
    const later = new Date(T0.getTime() + 10 * DAY);
    await post(start('owner_timed', { start: later, days: 5, graceDays: 2 }));
    await waitFor(
      async () => (await access.check('owner_timed', { product: 'prod_pro' })).changesAt,
    );

    const before = await access.check('owner_timed', { product: 'prod_pro' });
    expect(before).toMatchObject({ allowed: false, source: 'cache', changesAt: later });
    const during = await access.check(
      'owner_timed',
      { product: 'prod_pro' },
      new Date(later.getTime() + 6 * DAY),
    );
    expect(during).toMatchObject({ allowed: true, source: 'cache' });
    const graceEnd = new Date(later.getTime() + 7 * DAY);
    expect(await access.check('owner_timed', { product: 'prod_pro' }, graceEnd)).toMatchObject({
      allowed: false,
      source: 'cache',
      changesAt: null,
    });
  });

  it('follows the expiry job of another instance (the users granting access change)', async () => {
    const customer = 'owner_seats';
    await post(
      start(customer, {
        start: T0,
        days: 10,
        graceDays: null,
        invoiceId: 'inv_seats_a',
        users: [['Ada', 'ada@seats.test']],
      }),
    );
    await post(
      start(customer, {
        start: T0,
        days: 40,
        graceDays: null,
        invoiceId: 'inv_seats_b',
        users: [['Bob', 'bob@seats.test']],
      }),
    );
    const at = new Date(T0.getTime() + 20 * DAY);
    await waitFor(async () => (await access.check(customer, { product: 'prod_pro' })).seats === 2);
    try {
      clock.set(at);
      // Seats follow the dates, as access does: Ada's provisioning ended at day 10.
      expect(await access.check(customer, { product: 'prod_pro' })).toMatchObject({
        allowed: true,
        seats: 1,
        source: 'cache',
      });
      await writer.get(ExpiryJob).sweep();
      const check = await waitFor(
        async () => {
          const c = await access.check(customer, { product: 'prod_pro' });
          return c.source === 'database' && c;
        },
        2000,
        'the sweep’s change to reach the reader',
      );
      expect(check).toMatchObject({ allowed: true, seats: 1 });
    } finally {
      clock.set(T0);
    }
  });

  it('guards routes by product and by feature, from the same cache', async () => {
    await post(start('owner_team', { start: T0, productId: 'prod_team' }));
    await waitFor(async () => (await access.check('owner_team', { feature: 'sso' })).allowed);
    const server = reader.getHttpServer();
    await request(server).get('/customers/owner_team/sso').expect(200);
    await request(server).get('/customers/owner_team/team').expect(200);
    const denied = await request(server).get('/customers/owner_team/reports').expect(403);
    expect(denied.body.message).toBe('Customer owner_team has no active entitlement to prod_pro');
    await request(server).get('/customers/owner_new/reports').expect(200);
    const noSso = await request(server).get('/customers/owner_new/sso').expect(403);
    expect(noSso.body.message).toBe(
      'Customer owner_new has no active entitlement granting the feature sso',
    );
    expect(await access.getFeatures('owner_team')).toMatchObject({
      features: ['api', 'reports', 'sso'],
      products: ['prod_team'],
      seats: 1,
      fallback: false,
    });
    expect(await access.check('owner_new', { feature: 'reports' })).toMatchObject({
      allowed: true,
      grantedBy: ['prod_pro'],
    });
  });

  it('does not miss a change made while its notification connection was down', async () => {
    const customer = 'owner_missed';
    expect((await access.check(customer, { product: 'prod_pro' })).allowed).toBe(false);
    expect((await access.check(customer, { product: 'prod_pro' })).source).toBe('cache');

    // Cut the reader's LISTEN connection, then change the customer before it is back.
    const notifications = reader.get(PostgresNotifications) as any;
    const pid = notifications.client.processID;
    const dataSource = writer.get(DataSource);
    await dataSource.query(`SELECT pg_terminate_backend($1)`, [pid]);
    await waitFor(() => reader.get(AccessCache).state().notifications === 'disconnected');
    await post(start(customer, { start: T0 }));
    await waitFor(
      () => reader.get(AccessCache).state().notifications === 'listening',
      5000,
      'the notification connection to come back',
    );
    // The NOTIFY of that change went nowhere; the entry from before the cut is not trusted.
    const check = await access.check(customer, { product: 'prod_pro' });
    expect(check).toMatchObject({ allowed: true, source: 'database' });
    expect((await access.check(customer, { product: 'prod_pro' })).source).toBe('cache');
  });

  it('never goes back to an older answer while changes commit during checks', async () => {
    const customer = 'owner_race';
    await post(start(customer, { start: T0 }));
    const dataSource = writer.get(DataSource);
    const base = T0.getTime() + 100 * DAY;
    // Each version moves the end of access by a millisecond: the answer names the version it saw.
    const versionOf = (check: AccessCheck) => (check.changesAt?.getTime() ?? base) - base;
    let seen = -Infinity;
    let regressions = 0;
    let checks = 0;
    let running = true;
    const checking = (async () => {
      while (running) {
        const version = versionOf(await access.check(customer, { product: 'prod_pro' }));
        checks++;
        if (version < seen) {
          regressions++;
        }
        seen = Math.max(seen, version);
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    try {
      for (let version = 1; version <= 40; version++) {
        await dataSource.query(
          `UPDATE aqueduct_access SET timeline = $2::jsonb WHERE customer_id = $1`,
          [
            customer,
            JSON.stringify([
              {
                from: T0.toISOString(),
                until: new Date(base + version).toISOString(),
                status: 'grace', // ends exactly: no renewal window after it
              },
            ]),
          ],
        );
        await waitFor(() => seen >= version, 2000, `version ${version} to be seen`);
      }
    } finally {
      running = false;
      await checking;
    }
    expect(regressions).toBe(0);
    expect(seen).toBe(40);
    expect(checks).toBeGreaterThan(40);
  });
});

describe('Access checks while Postgres cannot be reached', () => {
  let db: TestDatabase;
  let proxy: TcpProxy;
  let app: INestApplication;
  let writer: INestApplication;
  let access: AqueductAccessService;
  const clock = new TestClock(T0);

  beforeAll(async () => {
    db = await createTestDatabase();
    proxy = TcpProxy.inFrontOf(db.url);
    await proxy.start();
    writer = await createTestApp({
      databaseUrl: db.url,
      clock,
      aqueduct: { secrets: [SECRET], expiry: { enabled: false } },
    });
    app = await createTestApp({
      databaseUrl: proxy.routed(db.url),
      clock,
      controllers: [PaidController],
      extra: { connectionTimeoutMillis: 500 },
      aqueduct: {
        secrets: [SECRET],
        features: FEATURES,
        dispatch: { enabled: false },
        expiry: { enabled: false },
        access: {
          fallback: { prod_team: 'allow' },
          cache: { loadTimeoutMs: 300, retryMs: 200, disconnectedTtlMs: 200 },
        },
      },
    });
    access = app.get(AqueductAccessService);
    for (const [customer, productId] of [
      ['owner_paid', 'prod_pro'],
      ['owner_team', 'prod_team'],
    ]) {
      const id = await postAccepted(writer, start(customer, { start: T0, productId }), SECRET);
      await waitForDeliveries(writer, { eventId: id });
    }
  });

  afterAll(async () => {
    proxy?.restore();
    await app?.close();
    await writer?.close();
    await proxy?.stop();
    await db?.drop();
  });

  // A route parameter is the caller's to choose. Postgres refuses a NUL (22021): read as an
  // outage, it sent every uncached customer to access.fallback for retryMs (403 for the paying
  // ones, 200 for the caller where the fallback allows), and each long id was kept in memory.
  it('an id no provisioning can carry (a NUL, an overlong one) is denied: no fallback, no outage, nothing kept', async () => {
    const server = app.getHttpServer();
    const cache = app.get(AccessCache);
    const entries = cache.state().entries;
    await request(server).get('/customers/owner_team%00x/team').expect(403);
    await request(server)
      .get(`/customers/owner_${'x'.repeat(1000)}/team`)
      .expect(403);
    expect(await access.check('owner_team\u0000', { product: 'prod_team' })).toMatchObject({
      allowed: false,
      fallback: false,
    });
    expect(await access.getEntitlements('owner_team\u0000')).toEqual([]);
    expect(cache.state()).toMatchObject({ database: 'reachable', entries });
    await request(server).get('/customers/owner_paid/reports').expect(200);
  });

  it.each([
    [
      'refused (a dead host)',
      'owner_unknown_1',
      (p: TcpProxy) => p.stop(),
      (p: TcpProxy) => p.start(),
    ],
    [
      'stalled (a partition)',
      'owner_unknown_2',
      async (p: TcpProxy) => p.blackhole(),
      async (p: TcpProxy) => p.restore(),
    ],
  ])(
    'answers known customers stale and unknown ones by the fallback, never a 500: %s',
    async (_kind, unknownCustomer, cut, restore) => {
      const server = app.getHttpServer();
      // Known to this instance before the cut: one with access, one without.
      await request(server).get('/customers/owner_paid/reports').expect(200);
      await request(server).get('/customers/owner_team/reports').expect(403);
      await cut(proxy);
      try {
        await waitFor(
          async () => (await access.check('owner_paid', { product: 'prod_pro' })).stale,
          10_000,
          'the cache to notice the outage',
        );
        const answers: number[] = [];
        for (let i = 0; i < 20; i++) {
          answers.push((await request(server).get('/customers/owner_paid/reports')).status);
          answers.push((await request(server).get('/customers/owner_team/reports')).status);
        }
        expect(new Set(answers)).toEqual(new Set([200, 403]));
        expect(answers.filter((s) => s === 200)).toHaveLength(20);

        // Never seen: denied for prod_pro, allowed for prod_team (access.fallback), flagged.
        const unknown = await request(server)
          .get(`/customers/${unknownCustomer}/reports`)
          .expect(403);
        expect(unknown.body.message).toMatch(/could not be verified.*denied by access\.fallback/);
        await request(server).get(`/customers/${unknownCustomer}/team`).expect(200);
        expect(await access.check(unknownCustomer, { feature: 'sso' })).toMatchObject({
          allowed: true,
          fallback: true,
          grantedBy: ['prod_team'],
        });
        expect(await access.check('owner_paid', { product: 'prod_pro' })).toMatchObject({
          allowed: true,
          stale: true,
          source: 'stale',
        });

        const health = (await app.get(AqueductHealthIndicator).isHealthy()).aqueduct as any;
        expect(health.accessChecks).toMatchObject({ database: 'unreachable' });
        expect(health.accessChecks.answers.stale).toBeGreaterThan(0);
        expect(health.accessChecks.answers.fallback).toBeGreaterThan(0);
      } finally {
        await restore(proxy);
      }
      const back = await waitFor(
        async () => {
          const check = await access.check(unknownCustomer, { product: 'prod_pro' });
          return !check.fallback && check;
        },
        10_000,
        'Postgres to answer again',
      );
      expect(back).toMatchObject({ allowed: false, source: 'database' });
      await waitFor(() => app.get(AccessCache).state().notifications === 'listening', 10_000);
    },
  );
});

@Injectable()
class Tenants {
  /** The host's own table of tenants: sub-domain → Aqueduct customer. */
  private readonly customers: Record<string, string> = { acme: 'owner_acme' };
  async customerIdOf(subdomain: string): Promise<string | undefined> {
    return this.customers[subdomain];
  }
}

@Module({ providers: [Tenants], exports: [Tenants] })
class TenantsModule {}

@Controller()
class TenantController {
  @Get('reports')
  @RequiresEntitlement('prod_pro')
  reports() {
    return { ok: true };
  }
}

describe('The customer of a request, found the host’s way (a sub-domain, through its own service)', () => {
  const host = useTestApp({
    controllers: [TenantController],
    aqueductModule: AqueductModule.forRootAsync({
      imports: [TenantsModule],
      inject: [Tenants],
      useFactory: (tenants: Tenants) => ({
        secrets: [SECRET],
        access: {
          customerIdResolver: customerIdFrom.firstOf(
            customerIdFrom.subdomain('app.test', (subdomain) => tenants.customerIdOf(subdomain)),
            customerIdFrom.header('x-gateway-customer'),
          ),
        },
      }),
    }),
  });
  beforeAll(async () => {
    const id = await postAccepted(host.app, start('owner_acme', { start: new Date() }), SECRET);
    await waitForDeliveries(host.app, { eventId: id });
  });

  it('lets the tenant’s sub-domain in, and no other', async () => {
    const server = host.app.getHttpServer();
    await request(server).get('/reports').set('Host', 'acme.app.test').expect(200);
    const unknown = await request(server).get('/reports').set('Host', 'other.app.test').expect(403);
    expect(unknown.body.message).toMatch(/No customer could be identified/);
    await request(server).get('/reports').set('Host', 'app.test').expect(403);
    await request(server)
      .get('/reports')
      .set('Host', 'api.example.test')
      .set('x-gateway-customer', 'owner_acme')
      .expect(200);
  });
});

/** A paid route whose path carries no customer id (a common first-hour slip). */
@Controller('plain-reports')
class PlainReportsController {
  @Get()
  @RequiresEntitlement('prod_pro')
  report() {
    return { ok: true };
  }
}

describe('A paid route that names no customer', () => {
  const log = new LogCapture();
  const host = useTestApp({
    controllers: [PlainReportsController],
    aqueduct: { secrets: [SECRET] },
    logger: log,
  });

  it('is denied (403, nothing of the setup said to the caller) and the log says where the id was looked for, once', async () => {
    const server = host.app.getHttpServer();
    for (let i = 0; i < 3; i++) {
      const denied = await request(server).get('/plain-reports').expect(403);
      expect(denied.body.message).toMatch(/No customer could be identified/);
      expect(denied.body.message).not.toMatch(/customerIdResolver/);
    }
    expect(log.matching(/No customer id in a request to PlainReportsController\.report/)).toEqual([
      expect.stringContaining('the route parameter customerId, then request.user.customerId'),
    ]);
  });
});
