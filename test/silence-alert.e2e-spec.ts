import { AqueductHealthIndicator } from 'nestjs-aqueduct';
import { DataSource } from 'typeorm';
import { SilenceMonitor } from '../libs/aqueduct/src/access/silence.monitor';
import { postAccepted } from './support/post';
import { TestSmtpServer } from './support/smtp';
import { deliveriesSettled, envelope, period } from './support/subscription';
import { DAY, TestClock } from './support/test-clock';
import { useTestApp } from './support/use-test-app';
import { waitFor } from './support/wait';

const SECRET = 'silence-secret';
const OPERATOR = 'oncall@host.test';
const HOUR = 3_600_000;

/**
 * Aqueduct stops delivering (it disabled the endpoint after a proxy's 502s, say: nothing this app
 * ever saw). Postgres stamps arrivals with its own, real, time; the module's clock is moved past
 * a known paid period's end.
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

  const monitor = () => host.app.get(SilenceMonitor);
  const alert = async () =>
    (
      await host.app
        .get(DataSource)
        .query(`SELECT status, reason FROM aqueduct_alerts WHERE kind = 'silence'`)
    )[0] as { status: string; reason: string } | undefined;
  /** A monthly period of the customer that ends `endsIn` ms from the real now. */
  const endingIn = (customerId: string, endsIn: number) =>
    period(customerId, { start: new Date(Date.now() + endsIn - 30 * DAY) });
  const send = async (type: string, object: Record<string, unknown>) => {
    await postAccepted(host.app, envelope(type, object, new Date()), SECRET);
    await deliveriesSettled(host.app);
  };

  beforeEach(async () => {
    clock.set(new Date());
    // Each test's ledger knows its own periods only: an earlier test's end would be due too.
    await host.app.get(DataSource).query(`DELETE FROM aqueduct_provisionings`);
  });

  it('opens when a known period ended hours ago and nothing arrived since; one mail; resolved by the next event', async () => {
    // The period's start arrived a month ago (its stored arrival is moved back to then); its paid
    // period ended an hour ago, and Aqueduct's provisioning.end never came.
    await send('provisioning.start', endingIn('owner_silent', -HOUR));
    await host.app
      .get(DataSource)
      .query(`UPDATE aqueduct_events SET received_at = received_at - interval '31 days'`);
    expect((await monitor().check()).overdue).toBe(0); // an hour: Aqueduct may be retrying it
    expect(await alert()).toBeUndefined();

    clock.set(new Date(Date.now() + HOUR + 60_000)); // two hours past the end, still nothing
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

    // Someone turned the endpoint back on: the next event Aqueduct sends resolves it.
    await send('provisioning.start', endingIn('owner_next', 30 * DAY));
    expect((await monitor().check()).overdue).toBe(0);
    expect(await alert()).toMatchObject({ status: 'resolved' });
  });

  it('stays shut when the renewal arrived with the end, even from a sender whose clock runs ahead', async () => {
    // Period 1 "ends" 5 minutes from our now by Aqueduct's clock, which is ahead: the renewal's
    // start, fired at that end, is what arrives now.
    await send('provisioning.start', endingIn('owner_renewing', 5 * 60_000));
    clock.set(new Date(Date.now() + 4 * HOUR));
    expect((await monitor().check()).overdue).toBe(0);
    expect(await alert()).toMatchObject({ status: 'resolved' });
  });
});
