import { AqueductHealthIndicator } from 'nestjs-aqueduct';
import { DataSource } from 'typeorm';
import { SilenceMonitor } from '../libs/aqueduct/src/access/silence.monitor';
import { DeadDeliveryAlert } from '../libs/aqueduct/src/dispatch/dead-delivery.alert';
import type { ClaimedDelivery } from '../libs/aqueduct/src/storage/delivery-queue.interface';
import { postAccepted } from './support/post';
import { TestSmtpServer } from './support/smtp';
import { deliveriesSettled, envelope, period } from './support/subscription';
import { DAY, TestClock } from './support/test-clock';
import { useTestApp } from './support/use-test-app';
import { waitFor } from './support/wait';

const SECRET = 'silence-secret';
const OPERATOR = 'oncall@host.test';
const HOUR = 3_600_000;
const MINUTE = 60_000;

/**
 * Aqueduct stops delivering (it disabled the endpoint after a proxy's 502s, say: nothing this app
 * ever saw). Deliveries happen in real time and Postgres stamps their arrival: a test moves that
 * past back (`arrivedAgo`) rather than a clock forward.
 */
describe('The silence alert: Aqueduct stopped delivering (HTTP, real Postgres, real SMTP)', () => {
  const smtp = new TestSmtpServer();
  const clock = new TestClock(new Date());
  const host = useTestApp(
    () => ({
      clock,
      aqueduct: {
        secrets: [SECRET],
        expiry: { enabled: false },
        dispatch: { pollIntervalMs: 50 },
        email: {
          transport: smtp.transport,
          from: 'Billing <billing@host.test>',
          alertTo: OPERATOR,
        },
      },
    }),
    { servers: [smtp] },
  );

  const db = () => host.app.get(DataSource);
  const monitor = () => host.app.get(SilenceMonitor);
  const alert = async () =>
    (await db().query(`SELECT status, reason FROM aqueduct_alerts WHERE kind = 'silence'`))[0] as
      { status: string; reason: string } | undefined;
  /** A monthly period of the customer whose paid period ends `endsIn` ms from now (real time). */
  const endingIn = (customerId: string, endsIn: number) =>
    period(customerId, { start: new Date(Date.now() + endsIn - 30 * DAY) });
  const send = async (type: string, object: Record<string, unknown>, createdAt = new Date()) => {
    await postAccepted(host.app, envelope(type, object, createdAt), SECRET);
    await deliveriesSettled(host.app);
  };
  /** Every arrival so far happened `ms` earlier than it did. */
  const arrivedAgo = (ms: number) =>
    db().query(
      `UPDATE aqueduct_events SET received_at = received_at - $1 * interval '1 millisecond'`,
      [ms],
    );

  beforeEach(async () => {
    // Each test's ledger knows its own periods only: an earlier test's end would be due too.
    await db().query(`DELETE FROM aqueduct_provisionings`);
    await db().query(`DELETE FROM aqueduct_alerts`);
  });

  it('opens when a known period ended hours ago, its end and everything else missing; one mail; resolved by the next event', async () => {
    // A start that arrived a month ago; its paid period ended an hour ago: Aqueduct may be retrying.
    await send('provisioning.start', endingIn('owner_recent', -HOUR));
    await arrivedAgo(31 * DAY);
    expect((await monitor().check()).overdue).toBe(0);
    expect(await alert()).toBeUndefined();

    // Another customer's period ended three hours ago; nothing came since either.
    await send('provisioning.start', endingIn('owner_silent', -3 * HOUR));
    await arrivedAgo(31 * DAY);
    const found = await monitor().check();
    expect(found.overdue).toBe(1);
    expect(await alert()).toMatchObject({ status: 'open' });
    expect((await alert())!.reason).toContain('disabled this endpoint');
    await waitFor(() => smtp.to(OPERATOR).length === 1, 15_000, 'the alert mail');
    expect(smtp.to(OPERATOR)[0].subject).toBe('[Aqueduct] Action needed: silence');
    const health = (await host.app.get(AqueductHealthIndicator).isHealthy('aqueduct')).aqueduct;
    expect(health).toMatchObject({ state: 'degraded' });

    await monitor().check(); // every look while silent counts, and mails nobody again
    await deliveriesSettled(host.app);
    expect(smtp.to(OPERATOR)).toHaveLength(1);

    // A delivery dying (the module writes delivery.dead itself) is not Aqueduct speaking.
    await host.app.get(DeadDeliveryAlert, { strict: false }).raise(
      {
        eventId: '00000000-0000-0000-0000-000000000001',
        listener: 'aqueduct.email',
        attempts: 8,
        firstRun: false,
        type: 'alert.raised',
        createdAt: new Date(),
        receivedAt: new Date(),
        payload: {},
      } as ClaimedDelivery,
      'connect ECONNREFUSED 127.0.0.1:25',
    );
    expect((await monitor().check()).overdue).toBe(1);
    expect(await alert()).toMatchObject({ status: 'open' });

    // Someone turned the endpoint back on: the next event Aqueduct sends resolves it.
    await send('provisioning.start', endingIn('owner_next', 30 * DAY));
    expect((await monitor().check()).overdue).toBe(0);
    expect(await alert()).toMatchObject({ status: 'resolved' });
  });

  it('stays shut when the renewal arrived with the end, from a sender whose clock runs 5 minutes ahead', async () => {
    await send('provisioning.start', endingIn('owner_renewing', -3 * HOUR));
    await send('provisioning.start', endingIn('owner_renewing', -3 * HOUR + 30 * DAY)); // the renewal
    await arrivedAgo(3 * HOUR + 5 * MINUTE); // both "before" the end, by Aqueduct's clock
    expect((await monitor().check()).overdue).toBe(0);
    expect(await alert()).toBeUndefined();
  });

  it('stays shut when the end itself arrived, stamped 20 minutes before its end date, on a quiet host', async () => {
    const object = endingIn('owner_delivered', -3 * HOUR);
    await send('provisioning.start', object);
    await send('provisioning.end', object);
    await arrivedAgo(3 * HOUR + 20 * MINUTE); // the sender's clock 20 minutes ahead of Postgres's
    expect((await monitor().check()).overdue).toBe(0);
    expect(await alert()).toBeUndefined();
  });

  it("ignores a host's test clock: a suite dating its events 40 days ahead raises nothing", async () => {
    clock.set(new Date(Date.now() + 40 * DAY));
    const start = clock.now();
    await send('provisioning.start', period('owner_time_travel', { start }), start);
    clock.set(new Date(start.getTime() + 30 * DAY + 3 * HOUR)); // past its end: no end was sent
    expect((await monitor().check()).overdue).toBe(0);
    expect(await alert()).toBeUndefined();
  });
});
