/**
 * The testing kit as a host uses it (this is the package README's Jest example, run for real):
 * a movable clock in the running app, a subscription's consistent lifecycle, signed posts, and
 * waiting for the deliveries an event caused instead of polling.
 */
import { Injectable, type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { TypeOrmModule } from '@nestjs/typeorm';
import {
  AQUEDUCT_CLOCK,
  AqueductAccessService,
  AqueductModule,
  ExpiryJob,
  type ProvisioningAdapter,
  type ProvisioningGrant,
  aqueductMigrations,
} from 'nestjs-aqueduct';
import {
  AqueductTestClock,
  aqueductSubscription,
  postAqueductEvent,
  waitForDeliveries,
} from 'nestjs-aqueduct/testing';
import { createTestDatabase, type TestDatabase } from './support/database';

@Injectable()
class Accounts implements ProvisioningAdapter {
  readonly calls: string[] = [];
  /** While set, provisioning waits for it: a test holds a delivery running. */
  private held?: Promise<void>;

  /** Holds every provisioning until the returned function is called. */
  hold(): () => void {
    let release = () => {};
    this.held = new Promise((resolve) => (release = resolve));
    return () => {
      this.held = undefined;
      release();
    };
  }

  async provision(grant: ProvisioningGrant) {
    await this.held;
    this.calls.push(`provision ${grant.customerId}`);
  }
  update(grant: ProvisioningGrant) {
    this.calls.push(`update ${grant.customerId}`);
  }
  deprovision(grant: ProvisioningGrant) {
    this.calls.push(`deprovision ${grant.customerId}`);
  }
}

describe('The testing kit, as in the package README', () => {
  let db: TestDatabase;
  let app: INestApplication;
  const clock = new AqueductTestClock('2026-01-01T00:00:00Z');
  const secret = 'test-secret';
  const post = (payload: unknown) =>
    postAqueductEvent(app, payload, { scheme: 'shared-secret', secret });

  beforeAll(async () => {
    db = await createTestDatabase();
    const moduleRef = await Test.createTestingModule({
      imports: [
        TypeOrmModule.forRoot({
          type: 'postgres',
          url: db.url,
          autoLoadEntities: true,
          migrations: [...aqueductMigrations],
          migrationsRun: true,
        }),
        AqueductModule.forRoot({
          secrets: [secret],
          provisioningAdapter: Accounts,
          expiry: { enabled: false }, // the test runs the job itself, with the clock it moves
        }),
      ],
      providers: [Accounts],
    })
      .overrideProvider(AQUEDUCT_CLOCK)
      .useValue(clock)
      .compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.init();
  });
  afterAll(async () => {
    await app?.close();
    await db?.drop();
  });

  // The package README's example, as printed there.
  it('keeps access across a renewal, and ends it after the last grace period', async () => {
    const subscription = aqueductSubscription({ customerId: 'owner_1', clock });
    const access = app.get(AqueductAccessService);

    const { body } = await post(subscription.start(0));
    await waitForDeliveries(app, { eventId: body.id });
    expect(await access.hasAccess('owner_1', 'prod_pro')).toBe(true);

    clock.advance({ days: 30 }); // period 0 ends as period 1 starts
    await post(subscription.end(0));
    await post(subscription.start(1));
    await waitForDeliveries(app, { customerId: 'owner_1' });

    clock.advance({ days: 30 }); // period 1 ends: Aqueduct sends its end
    await post(subscription.end(1));
    await waitForDeliveries(app, { customerId: 'owner_1' });
    clock.advance({ days: 8 }); // past its grace: the job ends access
    await app.get(ExpiryJob).sweep();
    await waitForDeliveries(app, { customerId: 'owner_1' });
    expect(await access.hasAccess('owner_1', 'prod_pro')).toBe(false);
    // And what the adapter saw: one start, one end, never a renewal's end.
    expect(app.get(Accounts).calls).toEqual(['provision owner_1', 'deprovision owner_1']);
  });

  it('waitForDeliveries counts what an event caused: its own delivery and its access.started', async () => {
    const { body } = await post(aqueductSubscription({ clock }).start(0));
    expect(await waitForDeliveries(app, { eventId: body.id })).toEqual({ done: 2, dead: [] });
  });

  it('rejects after its timeout, naming what still waits', async () => {
    // The adapter holds the event's delivery running: it cannot finish before the check (the fast
    // path runs deliveries right after the 2xx, often before a test's next line).
    const release = app.get(Accounts).hold();
    const subscription = aqueductSubscription({ clock });
    const { body } = await post(subscription.start(0));
    await expect(waitForDeliveries(app, { eventId: body.id, timeoutMs: 0 })).rejects.toThrow(
      /still waiting/,
    );
    release();
    await waitForDeliveries(app, { eventId: body.id });
  });
});

describe('waitForDeliveries after an invoice.paid (access.requirePayment)', () => {
  let db: TestDatabase;
  let app: INestApplication;
  const clock = new AqueductTestClock('2026-01-01T00:00:00Z');
  const post = (payload: unknown) =>
    postAqueductEvent(app, payload, { scheme: 'shared-secret', secret: 'test-secret' });

  beforeAll(async () => {
    db = await createTestDatabase();
    const moduleRef = await Test.createTestingModule({
      imports: [
        TypeOrmModule.forRoot({
          type: 'postgres',
          url: db.url,
          autoLoadEntities: true,
          migrations: [...aqueductMigrations],
          migrationsRun: true,
        }),
        AqueductModule.forRoot({
          secrets: ['test-secret'],
          provisioningAdapter: Accounts,
          expiry: { enabled: false },
          access: { requirePayment: true },
        }),
      ],
      providers: [Accounts],
    })
      .overrideProvider(AQUEDUCT_CLOCK)
      .useValue(clock)
      .compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.init();
  });
  afterAll(async () => {
    await app?.close();
    await db?.drop();
  });

  // The payment names no customer: waiting for it must follow its invoice to the access it opens.
  it('waits for the access.started the payment caused, and its adapter call', async () => {
    const subscription = aqueductSubscription({ customerId: 'owner_paying', clock });
    const start = await post(subscription.start(0));
    await waitForDeliveries(app, { eventId: start.body.id });
    const release = app.get(Accounts).hold(); // the provision call runs until released
    const paid = await post(subscription.paid(0));
    await expect(waitForDeliveries(app, { eventId: paid.body.id, timeoutMs: 300 })).rejects.toThrow(
      /still waiting/,
    );
    release();
    await waitForDeliveries(app, { eventId: paid.body.id });
    expect(app.get(Accounts).calls).toEqual(['provision owner_paying']);
  });
});
