import { Controller, Get, Injectable, Param } from '@nestjs/common';
import {
  AqueductAccessService,
  AqueductEventsService,
  ExpiryJob,
  type ProvisioningAdapter,
  type ProvisioningGrant,
  RequiresEntitlement,
} from 'nestjs-aqueduct';
import { provisioningEndEvent, provisioningStartEvent } from 'nestjs-aqueduct/testing';
import { PROVISIONING_LOCK_CLASS } from '../libs/aqueduct/src/access/aqueduct-ledger.constants';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { postAccepted } from './support/post';
import { deliveriesSettled } from './support/subscription';
import { DAY, TestClock } from './support/test-clock';
import { useTestApp } from './support/use-test-app';
import { waitFor } from './support/wait';

const SECRET = 'access-secret';
const T0 = new Date('2026-01-01T00:00:00Z');
const at = (days: number) => new Date(T0.getTime() + days * DAY);

/** Every adapter call of every instance, in the order they happened. */
const adapterCalls: { action: string; grant: ProvisioningGrant }[] = [];

/** The host's user system, as seen by the module: every call recorded. */
@Injectable()
class RecordingAdapter implements ProvisioningAdapter {
  calls = adapterCalls;
  /** Provisions of these customers fail once (a user system that is briefly down). */
  failOnce = new Set<string>();
  provision(grant: ProvisioningGrant) {
    if (this.failOnce.delete(grant.customerId)) {
      throw new Error('user system unavailable');
    }
    this.calls.push({ action: 'provision', grant });
  }
  deprovision(grant: ProvisioningGrant) {
    this.calls.push({ action: 'deprovision', grant });
  }
  update(grant: ProvisioningGrant) {
    this.calls.push({ action: 'update', grant });
  }
  of(customerId: string) {
    return this.calls
      .filter((call) => call.grant.customerId === customerId)
      .map((call) => call.action);
  }
}

@Controller('customers/:customerId/reports')
@RequiresEntitlement('prod_pro')
class ReportsController {
  @Get()
  list(@Param('customerId') customerId: string) {
    return { customerId, reports: [] };
  }
}

/** A 30-day paid period from day 0 with 7 days of grace, as Aqueduct would describe it. */
const period = (customerId: string, overrides: Record<string, unknown> = {}) => ({
  customerId,
  productId: 'prod_pro',
  subscriptionId: `sub_${customerId}`,
  invoiceId: `inv_${customerId}`, // one provisioning: its start and its end share the invoice
  startDate: at(0).toISOString(),
  endDate: at(30).toISOString(),
  contractStartDate: at(0).toISOString(),
  contractEndDate: at(30).toISOString(),
  gracePeriodEndDate: at(37).toISOString(),
  ...overrides,
});

/** Waits until `count` sessions wait for a lock that `where` (on `pg_locks`) names. */
const lockWaiters = (dataSource: DataSource, where: string, values: unknown[], count: number) =>
  waitFor(
    async () => {
      const [{ waiting }] = await dataSource.query(
        `SELECT count(*)::int AS waiting FROM pg_locks WHERE NOT granted AND ${where}`,
        values,
      );
      return waiting >= count;
    },
    10_000,
    `${count} session(s) waiting for a lock`,
  );

describe('Provisioning ledger, access checks and expiry (controlled clock)', () => {
  const clock = new TestClock(T0);
  let adapter: RecordingAdapter;
  let access: AqueductAccessService;

  const host = useTestApp(
    (instance) => ({
      clock,
      aqueduct: {
        secrets: [SECRET],
        provisioningAdapter: RecordingAdapter,
        expiry: { enabled: false, batchSize: 3 },
        dispatch: { pollIntervalMs: 50, retryBaseDelayMs: 50, retryMaxDelayMs: 100 },
      },
      controllers: instance === 0 ? [ReportsController] : [],
      imports: [{ module: class AdapterModule {}, providers: [RecordingAdapter] }],
    }),
    { instances: 3 },
  );
  beforeAll(() => {
    adapter = host.app.get(RecordingAdapter);
    access = host.app.get(AqueductAccessService);
  });

  const post = (payload: unknown) => postAccepted(host.app, payload, SECRET);
  const idle = () => deliveriesSettled(host.app);
  const calls = (customerId: string) => adapter.of(customerId);
  const status = async (customerId: string) =>
    (await access.getEntitlement(customerId, 'prod_pro'))?.status;

  beforeEach(() => clock.set(T0));

  it('start, then end, then grace expiry: provision once, deprovision once, access follows the dates', async () => {
    await post(provisioningStartEvent(period('owner_a'), at(0)));
    await idle();
    expect(calls('owner_a')).toEqual(['provision']);
    expect(await access.hasAccess('owner_a', 'prod_pro')).toBe(true);
    expect(await status('owner_a')).toBe('active');

    clock.set(at(30));
    await post(provisioningEndEvent(period('owner_a'), at(30)));
    await idle();
    expect(calls('owner_a')).toEqual(['provision']);
    expect(await status('owner_a')).toBe('grace');
    expect(await access.hasAccess('owner_a', 'prod_pro')).toBe(true);

    clock.set(new Date(at(37).getTime() - 1));
    expect((await host.app.get(ExpiryJob).sweep()).expired).toBe(0);
    clock.set(at(37));
    expect(await access.hasAccess('owner_a', 'prod_pro')).toBe(false); // the dates decide, before the job runs
    // A 7-day grace period outlasts the renewal window (75 min past the paid end): the loss is
    // announced (deprovision, mails) at its end, when checks stop granting it.
    expect((await host.app.get(ExpiryJob).sweep()).expired).toBeGreaterThanOrEqual(1);
    await idle();
    expect(calls('owner_a')).toEqual(['provision', 'deprovision']);
    expect(await status('owner_a')).toBe('expired');
    const grant = adapter.calls.find(
      (c) => c.grant.customerId === 'owner_a' && c.action === 'deprovision',
    )!.grant;
    expect(grant).toMatchObject({
      reason: 'access.expired',
      productId: 'prod_pro',
      accessUntil: at(37),
    });
    expect(grant.orgs[0].users.map((u) => u.email)).toEqual(['ada@acme.test', 'alan@acme.test']);
  });

  it("a failing adapter fails access.started's delivery, which retries; the start's ledger delivery is done with its write", async () => {
    adapter.failOnce.add('owner_tx');
    const eventId = await post(provisioningStartEvent(period('owner_tx'), at(0)));
    await idle();
    // Access is granted from the write, whatever the adapter did meanwhile.
    expect(await status('owner_tx')).toBe('active');
    expect(calls('owner_tx')).toEqual(['provision']);

    const events = host.app.get(AqueductEventsService);
    const { deliveries } = await events.getEvent(eventId);
    const ledger = deliveries.find((d) => d.listener === 'aqueduct.provisioning')!;
    expect(ledger.state).toBe('done');
    expect(ledger.attempts).toBe(1);
    expect(ledger.attemptLog.map((entry) => entry.outcome)).toEqual(['done']);

    const [started]: { id: string; type: string }[] = await host.app
      .get(DataSource)
      .query(
        `SELECT id, type FROM aqueduct_events WHERE payload->'object'->>'customerId' = 'owner_tx' AND type LIKE 'access.%'`,
      );
    expect(started.type).toBe('access.started');
    const reconcile = (await events.getEvent(started.id)).deliveries.find(
      (d) => d.listener === 'aqueduct.provisioning',
    )!;
    expect(reconcile.state).toBe('done');
    expect(reconcile.attemptLog.map((entry) => entry.outcome)).toEqual(['failed', 'done']);
  });

  it('two events for one new provisioning under two customers at once: its lock serialises them, and the customer it left has no access', async () => {
    const dataSource = host.app.get(DataSource);
    const holder = dataSource.createQueryRunner();
    await holder.connect();
    try {
      // Its id is the provisioning's key; no invoice serialises the two.
      const shared = { id: 'prov_moved', invoiceId: undefined };
      await holder.query('START TRANSACTION');
      await holder.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [
        PROVISIONING_LOCK_CLASS,
        'id:prov_moved',
      ]);
      await post(provisioningStartEvent(period('owner_left', shared), at(0)));
      // Newer: the provisioning ends under this customer.
      await post(provisioningStartEvent(period('owner_took', shared), at(1)));
      await lockWaiters(
        dataSource,
        `locktype = 'advisory' AND classid = $1`,
        [PROVISIONING_LOCK_CLASS],
        2,
      );
      await holder.query('COMMIT');
    } finally {
      await holder.release();
    }
    await idle();
    const [moved] = await dataSource.query(
      `SELECT customer_id FROM aqueduct_provisionings WHERE key = 'id:prov_moved'`,
    );
    expect(moved.customer_id).toBe('owner_took');
    expect(await access.hasAccess('owner_took', 'prod_pro')).toBe(true);
    expect(await access.hasAccess('owner_left', 'prod_pro')).toBe(false);
  });

  it('a customer whose access row another transaction creates meanwhile: the write waits, locks it again and grants access', async () => {
    const dataSource = host.app.get(DataSource);
    const other = dataSource.createQueryRunner();
    await other.connect();
    let eventId: string;
    try {
      await other.query('START TRANSACTION');
      await other.query(
        `INSERT INTO aqueduct_access (customer_id, product_id) VALUES ('owner_raced', 'prod_pro')`,
      );
      eventId = await post(provisioningStartEvent(period('owner_raced'), at(0)));
      // The ledger's insert of the same row waits for this transaction.
      await lockWaiters(dataSource, `locktype = 'transactionid'`, [], 1);
      await other.query('COMMIT');
    } finally {
      await other.release();
    }
    await idle();
    expect(await access.hasAccess('owner_raced', 'prod_pro')).toBe(true);
    expect(await status('owner_raced')).toBe('active');
    expect(calls('owner_raced')).toEqual(['provision']);
    // In that one write, not in a retry.
    const { deliveries } = await host.app.get(AqueductEventsService).getEvent(eventId);
    expect(deliveries.find((d) => d.listener === 'aqueduct.provisioning')).toMatchObject({
      state: 'done',
      attempts: 1,
    });
  });

  it('end arriving before start: the late start changes nothing and the final state is right', async () => {
    clock.set(at(30));
    await post(provisioningEndEvent(period('owner_b'), at(30)));
    await post(provisioningStartEvent(period('owner_b'), at(0)));
    await idle();
    expect(await status('owner_b')).toBe('grace');
    expect((await access.getProvisionings('owner_b', 'prod_pro'))[0]?.lastEventType).toBe(
      'provisioning.end',
    );
    expect(calls('owner_b')).toEqual(['provision']);
  });

  it('a start retried 24 h late, after the end and after expiry, does not resurrect access', async () => {
    await post(provisioningStartEvent(period('owner_c'), at(0)));
    await idle();
    clock.set(at(30));
    await post(provisioningEndEvent(period('owner_c'), at(30)));
    await idle();
    clock.set(at(38));
    await host.app.get(ExpiryJob).sweep();
    await idle();
    // Aqueduct's retry of the very first delivery (same body), then a re-send of the start a day late.
    await post(provisioningStartEvent(period('owner_c'), at(0)));
    await post({ ...provisioningStartEvent(period('owner_c'), at(0)), retried: true });
    await idle();
    expect(await access.hasAccess('owner_c', 'prod_pro')).toBe(false);
    expect(calls('owner_c')).toEqual(['provision', 'deprovision']);
  });

  it('a genuinely newer start (a renewal) does give access again', async () => {
    await post(provisioningStartEvent(period('owner_r'), at(0)));
    await idle();
    clock.set(at(40));
    await host.app.get(ExpiryJob).sweep();
    await idle();
    await post(
      provisioningStartEvent(
        period('owner_r', {
          invoiceId: 'inv_owner_r_2', // a new period is a new invoice, so a new provisioning
          startDate: at(40).toISOString(),
          endDate: at(70).toISOString(),
          gracePeriodEndDate: at(77).toISOString(),
        }),
        at(40),
      ),
    );
    await idle();
    expect(await access.hasAccess('owner_r', 'prod_pro')).toBe(true);
    expect(calls('owner_r')).toEqual(['provision', 'deprovision', 'provision']);
  });

  it('duplicate starts provision once; a start with new users updates them', async () => {
    const start = provisioningStartEvent(period('owner_d'), at(0));
    await Promise.all([post(start), post(start), post({ ...start, copy: 2 })]);
    await idle();
    expect(calls('owner_d')).toEqual(['provision']);
    clock.set(at(1));
    await post(
      provisioningStartEvent(
        period('owner_d', {
          provisioningOrgs: { name: 'Acme', users: [{ name: 'Grace', email: 'grace@acme.test' }] },
        }),
        at(1),
      ),
    );
    await idle();
    expect(calls('owner_d')).toEqual(['provision', 'update']);
  });

  it('three instances sweeping at the same tick expire each row once', async () => {
    for (let i = 0; i < 10; i++) {
      await post(provisioningStartEvent(period(`owner_m${i}`), at(0)));
    }
    await idle();
    clock.set(at(38));
    const results = await Promise.all(host.instances.map((a) => a.get(ExpiryJob).sweep()));
    await idle();
    const dataSource = host.app.get(DataSource);
    const [{ n }] = await dataSource.query(
      `SELECT count(*)::int AS n FROM aqueduct_events WHERE type = 'access.expired' AND payload->'object'->>'customerId' LIKE 'owner_m%'`,
    );
    expect(n).toBe(10);
    expect(results.reduce((sum, r) => sum + r.expired, 0)).toBeGreaterThanOrEqual(10);
    for (let i = 0; i < 10; i++) {
      expect(calls(`owner_m${i}`)).toEqual(['provision', 'deprovision']);
    }
  });

  it('catches up after downtime: everything due while the app was down expires in one sweep, in batches', async () => {
    for (let i = 0; i < 7; i++) {
      await post(
        provisioningStartEvent(
          period(`owner_down${i}`, { gracePeriodEndDate: at(31 + i).toISOString() }),
          at(0),
        ),
      );
    }
    await idle();
    clock.set(at(60)); // the app was down from day 30 to day 60
    const result = await host.app.get(ExpiryJob).sweep();
    expect(result.batches).toBeGreaterThan(1);
    await idle();
    for (let i = 0; i < 7; i++) {
      expect(await status(`owner_down${i}`)).toBe('expired');
      expect(calls(`owner_down${i}`)).toEqual(['provision', 'deprovision']);
    }
    expect((await host.app.get(ExpiryJob).sweep()).expired).toBe(0);
  });

  it('a start whose date is still ahead is scheduled, then started by the job', async () => {
    await post(
      provisioningStartEvent(period('owner_s', { startDate: at(2).toISOString() }), at(0)),
    );
    await idle();
    expect(await status('owner_s')).toBe('scheduled');
    expect(calls('owner_s')).toEqual([]);
    clock.set(at(2));
    expect((await host.app.get(ExpiryJob).sweep()).started).toBeGreaterThanOrEqual(1);
    await idle();
    expect(calls('owner_s')).toEqual(['provision']);
  });

  it('@RequiresEntitlement answers 200 with access and 403 without', async () => {
    await post(provisioningStartEvent(period('owner_g'), at(0)));
    await idle();
    clock.set(at(5));
    const ok = await request(host.app.getHttpServer())
      .get('/customers/owner_g/reports')
      .expect(200);
    expect(ok.body).toEqual({ customerId: 'owner_g', reports: [] });
    const denied = await request(host.app.getHttpServer())
      .get('/customers/owner_nobody/reports')
      .expect(403);
    expect(denied.body.message).toBe('Customer owner_nobody has no active entitlement to prod_pro');
    clock.set(at(40));
    await request(host.app.getHttpServer()).get('/customers/owner_g/reports').expect(403);
  });

  it('check() with a query that is neither { product } nor { feature } throws, naming both', async () => {
    for (const query of ['prod_pro', { productId: 'prod_pro' }, null]) {
      await expect(access.check('owner_a', query as never)).rejects.toThrow(
        /query must be \{ product: string \} or \{ feature: string \}/,
      );
    }
  });

  it('getEntitlements lists a customer with a status per entitlement', async () => {
    clock.set(at(31));
    const list = await access.getEntitlements('owner_a', at(10));
    expect(list).toEqual([
      expect.objectContaining({ productId: 'prod_pro', status: 'active', hasAccess: true }),
    ]);
  });
});
