/**
 * What access checks answer while a renewing subscription's users are held (seats agree with the
 * users the adapter has), and while an instance's reads fail after a change or an outage (a paying
 * customer held in memory is answered from it, never refused by the fallback). Found by a review;
 * real Postgres, real HTTP, two instances.
 */
import type { INestApplication } from '@nestjs/common';
import { AqueductAccessService } from 'nestjs-aqueduct';
import { DataSource } from 'typeorm';
import { AccessCache } from '../libs/aqueduct/src/access/access-cache';
import { ReceiverUptime } from '../libs/aqueduct/src/access/receiver-uptime';
import { createTestApp } from './support/app';
import { createTestDatabase, type TestDatabase } from './support/database';
import { TcpProxy } from './support/tcp-proxy';
import { waitFor } from './support/wait';
import { postAccepted } from './support/post';
import { adapterCalls } from './support/recording-adapter';
import {
  deliveriesSettled,
  domainOf,
  envelope,
  period,
  subscriptionApp,
  sweepAt,
  twoSubscriptions,
} from './support/subscription';
import { TestClock, T0, at } from './support/test-clock';
import { useTestApp } from './support/use-test-app';

const SECRET = 'access-held-secret';

/** The users the adapter was last told have access to the customer's product. */
const provisionedEmails = (customerId: string, productId = 'prod_pro'): string[] => {
  const last = adapterCalls
    .filter((call) => call.customerId === customerId && call.productId === productId)
    .at(-1);
  return !last || last.action === 'deprovision' ? [] : [...last.emails].sort();
};

describe('Seats while another subscription keeps the product (renewal window of one of them)', () => {
  const clock = new TestClock(T0);
  const host = useTestApp(() => subscriptionApp({ secret: SECRET, clock }));
  const access = () => host.app.get(AqueductAccessService);
  const send = async (type: string, object: Record<string, unknown>, createdAt: Date) => {
    await postAccepted(host.app, envelope(type, object, createdAt), SECRET);
    await deliveriesSettled(host.app);
  };
  beforeEach(() => clock.set(T0));

  // Two subscriptions of prod_pro: sub_a (Ada, Bob; monthly, no grace) and sub_b (Cy, 60 days).
  // sub_a's period 1 ends at day 30 and its renewal's start is on its way (Aqueduct sends the end
  // first). The ledger keeps Ada and Bob provisioned through the renewal window:
  // the adapter has three users, and a host enforcing `users <= check().seats` sees three seats
  // (it saw one: the seats ignored the held users).
  it('check().seats counts the users the adapter still has while a renewing subscription is held', async () => {
    const c = 'owner_held_seats';
    const d = domainOf(c);
    const teamA: [string, string][] = [
      ['Ada', `ada@${d}`],
      ['Bob', `bob@${d}`],
    ];
    const { a1, a2, b1 } = twoSubscriptions(c, teamA, [['Cy', `cy@${d}`]]);
    await send('provisioning.start', a1, at(0));
    await send('provisioning.start', b1, at(0));
    clock.set(at(30));
    await send('provisioning.end', a1, at(30));
    await sweepAt(host.app, clock, at(30, 5));

    const moment = at(30, 10);
    const told = provisionedEmails(c);
    const entitlement = await access().getEntitlement(c, 'prod_pro', moment);
    const listed = entitlement!.orgs.flatMap((org) => org.users.map((u) => u.email)).sort();
    const check = await access().check(c, { product: 'prod_pro' }, moment);
    const features = await access().getFeatures(c, moment);
    expect({ told: told.length, listed: listed.length }).toEqual({ told: 3, listed: 3 });
    // What checks say must agree with what the adapter was told: three people hold seats.
    expect({ check: check.seats, features: features.seats }).toEqual({ check: 3, features: 3 });

    // The renewal's start arrives: three seats, as before the end.
    clock.set(at(30, 11));
    await send('provisioning.start', a2, at(30));
    expect((await access().check(c, { product: 'prod_pro' }, at(30, 12))).seats).toBe(3);
  });
});

describe('Seats over a renewal that drops a user (one subscription, no grace)', () => {
  const clock = new TestClock(T0);
  const host = useTestApp(() => subscriptionApp({ secret: SECRET, clock }));
  const access = () => host.app.get(AqueductAccessService);
  const send = async (type: string, object: Record<string, unknown>, createdAt: Date) => {
    await postAccepted(host.app, envelope(type, object, createdAt), SECRET);
    await deliveriesSettled(host.app);
  };

  // Period 2 lists Ada only (Bob's seat was removed). Aqueduct sends period 2's start first. The
  // ledger keeps Bob through period 1's renewal window: the adapter is updated to Ada and Bob.
  it('check().seats agrees with the users the adapter holds during the renewal window', async () => {
    const c = 'owner_dropped_user';
    const d = domainOf(c);
    const ada: [string, string] = ['Ada', `ada@${d}`];
    const bob: [string, string] = ['Bob', `bob@${d}`];
    await send(
      'provisioning.start',
      period(c, { start: at(0), graceDays: null, users: [ada, bob] }),
      at(0),
    );
    clock.set(at(30));
    await send(
      'provisioning.start',
      period(c, { start: at(30), graceDays: null, users: [ada] }),
      at(30),
    );
    await send(
      'provisioning.end',
      period(c, { start: at(0), graceDays: null, users: [ada, bob] }),
      at(30),
    );
    const moment = at(30, 10);
    await sweepAt(host.app, clock, moment);
    const told = provisionedEmails(c);
    const check = await access().check(c, { product: 'prod_pro' }, moment);
    expect({ told, seats: check.seats }).toEqual({ told: [`ada@${d}`, `bob@${d}`], seats: 2 });
  });
});

const FEATURES = { prod_basic: ['reports'], prod_pro: ['reports', 'api'] };

describe('A reader instance whose reads fail while its notifications still arrive (pool exhausted)', () => {
  const clock = new TestClock(at(5));
  // Instance 0 receives and runs the ledger. Instance 1 answers checks: a small pool (3: one is the
  // LISTEN connection), quick timeouts, the default fallback ('deny').
  const host = useTestApp(
    (instance) => ({
      ...subscriptionApp({
        secret: SECRET,
        clock,
        aqueduct: {
          features: FEATURES,
          ...(instance === 1
            ? {
                dispatch: { enabled: false },
                access: { cache: { loadTimeoutMs: 300, retryMs: 200 } },
              }
            : {}),
        },
      }),
      ...(instance === 1 ? { extra: { max: 3 } } : {}),
    }),
    { instances: 2 },
  );
  const writer = () => host.instances[0];
  const reader = () => host.instances[1];
  const send = async (type: string, object: Record<string, unknown>, createdAt: Date) => {
    await postAccepted(writer(), envelope(type, object, createdAt), SECRET);
    await deliveriesSettled(writer());
  };

  // Two paying customers held in the reader's memory. The reader's pool is taken by slow queries
  // for a few seconds: its checks answer from memory (stale). Meanwhile the writer records one of
  // them renewing (period 2 known ahead). The NOTIFY reached the reader, which dropped that entry;
  // its read failed, and access.fallback refused the customer who had just paid.
  it('a customer who renews meanwhile is answered from memory like the others, not denied by the fallback', async () => {
    const [renewing, idle] = ['owner_pool_renewing', 'owner_pool_idle'];
    for (const c of [renewing, idle]) {
      await send('provisioning.start', period(c, { start: at(0) }), at(0));
    }
    const access = reader().get(AqueductAccessService);
    await waitFor(() => reader().get(AccessCache).state().notifications === 'listening');
    for (const c of [renewing, idle]) {
      expect((await access.check(c, { product: 'prod_pro' })).allowed).toBe(true);
    }
    const pool = reader().get(DataSource);
    const hogs = [pool.query('SELECT pg_sleep(6)'), pool.query('SELECT pg_sleep(6)')];
    try {
      await new Promise((resolve) => setTimeout(resolve, 300));
      // The writer records the renewal (period 2, known ahead): its NOTIFY reaches the reader.
      await send('provisioning.start', period(renewing, { start: at(30) }), at(5));
      // Once the NOTIFY has arrived, the renewing customer's check reads Postgres (and fails).
      let renewingAnswer = await access.check(renewing, { product: 'prod_pro' });
      await waitFor(
        async () =>
          (renewingAnswer = await access.check(renewing, { product: 'prod_pro' })).source !==
          'cache',
        5000,
        'the NOTIFY',
      );
      const answers = {
        renewing: renewingAnswer,
        idle: await access.check(idle, { product: 'prod_pro' }),
      };
      expect({
        renewing: [answers.renewing.allowed, answers.renewing.source],
        idle: [answers.idle.allowed, answers.idle.source],
      }).toEqual({
        renewing: [true, expect.stringMatching(/^(stale|database)$/)],
        idle: [true, 'cache'],
      });
    } finally {
      await Promise.allSettled(hogs);
    }
  });
});

describe('A reader instance recovering from an outage of over 90 s', () => {
  const clock = new TestClock(at(5));
  let proxy: TcpProxy;
  let db: TestDatabase;
  const apps: INestApplication[] = [];
  beforeAll(async () => {
    db = await createTestDatabase();
    proxy = TcpProxy.inFrontOf(db.url);
    await proxy.start();
    apps.push(
      await createTestApp({ ...subscriptionApp({ secret: SECRET, clock }), databaseUrl: db.url }),
    );
    apps.push(
      await createTestApp({
        ...subscriptionApp({
          secret: SECRET,
          clock,
          aqueduct: {
            dispatch: { enabled: false },
            access: { cache: { loadTimeoutMs: 300, retryMs: 200, disconnectedTtlMs: 200 } },
          },
        }),
        databaseUrl: proxy.routed(db.url),
        extra: { connectionTimeoutMillis: 500 },
      }),
    );
  });
  afterAll(async () => {
    await Promise.all(apps.map((app) => app.close().catch(() => undefined)));
    await proxy?.stop();
    await db?.drop();
  });

  // Postgres is out of the reader's reach for over 90 s (a failover): its paying customers are
  // answered from memory, allowed. Postgres comes back; the reader's heartbeat gets through first
  // (every 30 s, or a ledger write's `confirmed`): the outage is over, and the cache dropped every
  // entry. Two held customers checked at once: one check is the probe that finds Postgres back,
  // the other may not wait for it (retryMs); it found nothing held, and the fallback refused a
  // paying customer after the outage was over. Now the entries are only outdated.
  it('after recovery, customers held through the outage are never denied by the fallback', async () => {
    const customers = ['owner_recover_a', 'owner_recover_b'];
    const [writer, reader] = apps;
    for (const c of customers) {
      await postAccepted(
        writer,
        envelope('provisioning.start', period(c, { start: at(0) }), at(0)),
        SECRET,
      );
    }
    await deliveriesSettled(writer);
    const access = reader.get(AqueductAccessService);
    const uptime = reader.get(ReceiverUptime);
    for (const c of customers) {
      expect((await access.check(c, { product: 'prod_pro' })).allowed).toBe(true);
    }

    await proxy.stop();
    await waitFor(() => reader.get(AccessCache).state().notifications === 'disconnected');
    await uptime.refresh().catch(() => undefined); // the reader's beat fails
    clock.advance(120_000); // two minutes of outage
    await new Promise((resolve) => setTimeout(resolve, 300)); // past disconnectedTtlMs
    for (const c of customers) {
      const during = await access.check(c, { product: 'prod_pro' });
      expect([c, during.allowed, during.source]).toEqual([c, true, 'stale']);
    }

    await proxy.start(); // Postgres is back, for good
    await uptime.refresh(); // the reader's heartbeat gets through
    const entriesAfterBeat = reader.get(AccessCache).state().entries;
    await new Promise((resolve) => setTimeout(resolve, 300)); // past retryMs
    const answers = await Promise.all(
      customers.map((c) => access.check(c, { product: 'prod_pro' })),
    );
    expect({
      entriesAfterBeat,
      answers: answers.map((a) => [a.customerId, a.allowed, a.source]),
    }).toEqual({
      entriesAfterBeat: customers.length,
      answers: [
        [customers[0], true, 'database'],
        [customers[1], true, expect.stringMatching(/^(database|stale)$/)],
      ],
    });
  });
});
