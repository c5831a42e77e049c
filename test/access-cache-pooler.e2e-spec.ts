/**
 * Access checks on an instance that reaches Postgres through a real PgBouncer in transaction
 * mode (the deployment `preparedStatements: false` is documented for): its LISTEN lands on a
 * server connection it only borrowed, so no change notification reaches it. The echo each
 * heartbeat sends through the pool does not come back either, so the instance knows: its cache
 * stops trusting entries, and a change made by another instance shows within a second or so.
 *
 * Needs a pgbouncer binary (PGBOUNCER_BIN, /usr/sbin/pgbouncer, or Debian's package unpacked into
 * .data/pgbouncer as `.ci/run` does); skipped without one, unless REQUIRE_PGBOUNCER=1 (CI).
 */
import type { INestApplication } from '@nestjs/common';
import { AqueductAccessService, AqueductHealthIndicator } from 'nestjs-aqueduct';
import { waitForDeliveries } from 'nestjs-aqueduct/testing';
import { AccessCache } from '../libs/aqueduct/src/access/access-cache';
import { createTestApp } from './support/app';
import { createTestDatabase, type TestDatabase } from './support/database';
import { LogCapture } from './support/log-capture';
import { PgBouncer, pgbouncerBinary } from './support/pgbouncer';
import { postAccepted } from './support/post';
import { envelope, period } from './support/subscription';
import { TestClock } from './support/test-clock';
import { waitFor } from './support/wait';

const SECRET = 'access-cache-pooler-secret';
const T0 = new Date('2026-03-01T00:00:00Z');
const available = pgbouncerBinary() !== undefined;

if (!available) {
  const message =
    "no pgbouncer binary: unpack Debian's (see .ci/run) or set PGBOUNCER_BIN to run the pooler test";
  if (process.env.REQUIRE_PGBOUNCER === '1') {
    throw new Error(`REQUIRE_PGBOUNCER=1 but ${message}`);
  }
  console.warn(`Skipping the access cache behind PgBouncer: ${message}.`);
}

(available ? describe : describe.skip)('Access checks behind PgBouncer (transaction mode)', () => {
  let db: TestDatabase;
  let bouncer: PgBouncer;
  let writer: INestApplication;
  let reader: INestApplication;
  let access: AqueductAccessService;
  const logs = new LogCapture();
  const clock = new TestClock(T0);

  beforeAll(async () => {
    db = await createTestDatabase();
    bouncer = new PgBouncer(db.url);
    await bouncer.start();
    writer = await createTestApp({
      databaseUrl: db.url,
      clock,
      aqueduct: { secrets: [SECRET], expiry: { enabled: false } },
    });
    reader = await createTestApp({
      databaseUrl: bouncer.url,
      clock,
      logger: logs,
      aqueduct: {
        secrets: [SECRET],
        preparedStatements: false,
        dispatch: { enabled: false },
        expiry: { enabled: false },
      },
    });
    access = reader.get(AqueductAccessService);
  });

  afterAll(async () => {
    await reader?.close();
    await writer?.close();
    await bouncer?.stop();
    await db?.drop();
  });

  it('knows notifications do not arrive: says so, and a customer denied before paying gets access once another instance records the start', async () => {
    await waitFor(
      () => reader.get(AccessCache).state().notifications === 'disconnected',
      10_000,
      'the reader to find its echo never comes back',
    );
    expect(logs.matching(/Notifications do not reach this instance/)).toEqual([
      expect.stringContaining('Is a pooler in transaction or statement mode'),
    ]);
    expect(await reader.get(AqueductHealthIndicator).isHealthy()).toMatchObject({
      aqueduct: { state: 'degraded' },
    });

    const customer = 'owner_behind_bouncer';
    expect(await access.check(customer, { product: 'prod_pro' })).toMatchObject({
      allowed: false,
    });
    const id = await postAccepted(
      writer,
      envelope('provisioning.start', period(customer, { start: T0 }), T0),
      SECRET,
    );
    expect((await waitForDeliveries(writer, { eventId: id })).dead).toEqual([]);
    // Once, the entry stayed trusted (the heartbeat's SELECT 1 answered): 403 until a restart.
    await waitFor(
      async () => (await access.check(customer, { product: 'prod_pro' })).allowed,
      5000,
      'the reader to see the access',
    );
  });
});
