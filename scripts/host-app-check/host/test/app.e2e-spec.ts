// The package README's "complete Jest e2e test", run against this app's own AppModule: its
// TypeORM, AqueductModule.forRoot, its ScheduleModule and cron, its listener and its adapter.
// Only the package's public API and nestjs-aqueduct/testing are used.
import type { INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { AQUEDUCT_CLOCK, AqueductAccessService, ExpiryJob } from 'nestjs-aqueduct';
import {
  AqueductTestClock,
  aqueductSubscription,
  postAqueductEvent,
  waitForDeliveries,
} from 'nestjs-aqueduct/testing';
import { Accounts } from '../src/accounts';
import { AppModule } from '../src/app.module';
import { Billing } from '../src/billing';
import { Ticker } from '../src/ticker';

const secret = process.env.AQUEDUCT_WEBHOOK_SECRET!;

describe('a Nest 11 app with nestjs-aqueduct', () => {
  const clock = new AqueductTestClock('2026-01-01T00:00:00Z');
  let app: INestApplication;

  beforeAll(async () => {
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] })
      .overrideProvider(AQUEDUCT_CLOCK)
      .useValue(clock)
      .compile();
    app = moduleRef.createNestApplication();
    await app.init();
  });
  afterAll(() => app?.close());

  const post = async (payload: unknown) => {
    const response = await postAqueductEvent(app, payload, { scheme: 'shared-secret', secret });
    expect(response).toMatchObject({ status: 200, body: { received: true } });
    return response;
  };

  it('keeps access across a renewal, and ends it after the last grace period', async () => {
    const subscription = aqueductSubscription({ customerId: 'owner_1', clock });
    const access = app.get(AqueductAccessService);
    const accounts = app.get(Accounts);
    const billing = app.get(Billing);
    const calls = () =>
      accounts.calls.map(({ call, customerId, productId }) => `${call} ${customerId} ${productId}`);
    const runs = (listener: string) =>
      billing.runs.filter((run) => run.listener === listener && run.customerId === 'owner_1');

    const { body } = await post(subscription.start(0));
    expect((await waitForDeliveries(app, { eventId: body.id })).dead).toEqual([]);
    expect(await access.hasAccess('owner_1', 'prod_pro')).toBe(true);
    expect(calls()).toEqual(['provision owner_1 prod_pro']);
    expect(accounts.calls[0].users).toEqual(['ada@acme.test', 'alan@acme.test']);

    clock.advance({ days: 30 }); // period 0 ends as period 1 starts
    await post(subscription.end(0));
    await post(subscription.start(1));
    expect((await waitForDeliveries(app, { customerId: 'owner_1' })).dead).toEqual([]);
    expect(await access.hasAccess('owner_1', 'prod_pro')).toBe(true);
    expect(calls()).toEqual(['provision owner_1 prod_pro']); // a renewal costs no access

    clock.advance({ days: 30 }); // period 1 ends: Aqueduct sends its end
    await post(subscription.end(1));
    expect((await waitForDeliveries(app, { customerId: 'owner_1' })).dead).toEqual([]);
    clock.advance({ days: 8 }); // past its grace: the job ends access
    await app.get(ExpiryJob).sweep();
    expect((await waitForDeliveries(app, { customerId: 'owner_1' })).dead).toEqual([]);
    expect(await access.hasAccess('owner_1', 'prod_pro')).toBe(false);
    expect(calls()).toEqual(['provision owner_1 prod_pro', 'deprovision owner_1 prod_pro']);
    expect(accounts.calls[1].users).toEqual(['ada@acme.test', 'alan@acme.test']);
    expect(accounts.calls[1].idempotencyKey).not.toEqual(accounts.calls[0].idempotencyKey);

    // The app's own @OnAqueductEvent listeners ran, once per event.
    expect(runs('provisioningStarted')).toHaveLength(2);
    expect(runs('accessStarted')).toHaveLength(1);
    expect(runs('accessExpired')).toHaveLength(1);
  });

  it("fires the app's own @Cron once per tick", async () => {
    const ticker = app.get(Ticker);
    const from = Date.now();
    await new Promise((resolve) => setTimeout(resolve, 3200));
    const ticks = ticker.ticks.filter((at) => at >= from);
    const seconds = ticks.map((at) => Math.floor(at / 1000));
    expect(ticks.length).toBeGreaterThanOrEqual(2);
    expect(seconds).toEqual([...new Set(seconds)]); // no two ticks in the same second
  }, 10_000);
});
