/**
 * Periods given as days ("2026-01-01" – "2026-01-31", then "2026-02-01" – "2026-02-28"), with no
 * grace period. A day ends at a different instant in each time zone, and Aqueduct fires the
 * renewal's `provisioning.start` when the day begins in its own zone: at 08:00 UTC for an account
 * in California, up to 12:00 UTC. The renewal window after a paid end at midnight (UTC) waits for
 * that; a customer who leaves keeps access 12 hours more. Real HTTP, Postgres and expiry job.
 */
import { AqueductAccessService } from 'nestjs-aqueduct';
import { postAccepted } from './support/post';
import { adapterActions } from './support/recording-adapter';
import {
  deliveriesSettled,
  domainOf,
  envelope,
  subscriptionApp,
  sweepAt,
} from './support/subscription';
import { T0, TestClock } from './support/test-clock';
import { useTestApp } from './support/use-test-app';

const SECRET = 'day-dates-secret';

describe('Periods given as days, the renewal fired when the day begins in Aqueduct’s zone', () => {
  const clock = new TestClock(T0);
  const host = useTestApp(() => subscriptionApp({ secret: SECRET, clock }));
  const access = () => host.app.get(AqueductAccessService);
  const send = async (type: string, object: unknown, moment: string) => {
    clock.set(new Date(moment));
    await postAccepted(host.app, envelope(type, object, new Date(moment)), SECRET);
    await deliveriesSettled(host.app);
  };
  const month = (customerId: string, start: string, end: string, invoiceId: string) => ({
    customerId,
    productId: 'prod_pro',
    startDate: start,
    endDate: end,
    invoiceId,
    subscriptionId: `sub_${customerId}`,
    metadata: {},
    provisioningOrgs: {
      name: 'Acme',
      users: [{ name: 'Ada', email: `ada@${domainOf(customerId)}` }],
    },
  });
  const sweeps = async (...moments: string[]) => {
    for (const moment of moments) {
      await sweepAt(host.app, clock, new Date(moment));
    }
  };
  /** January, paid: its start and its end, each sent at 08:00 UTC (midnight in California). */
  const january = async (customerId: string) => {
    const period = month(customerId, '2026-01-01', '2026-01-31', 'inv_jan');
    await send('provisioning.start', period, '2026-01-01T08:00:00Z');
    await send('provisioning.end', period, '2026-01-31T08:00:00Z');
  };
  const has = (customerId: string, moment: string) =>
    access().hasAccess(customerId, 'prod_pro', new Date(moment));

  it('a renewal whose start comes at 08:00 UTC on its day keeps the customer provisioned', async () => {
    const c = 'owner_days_renewing';
    await january(c);
    // The expiry job runs through the night (UTC); checks go on granting.
    await sweeps('2026-02-01T00:30:00Z', '2026-02-01T01:16:00Z', '2026-02-01T04:00:00Z');
    expect(await has(c, '2026-02-01T04:00:00Z')).toBe(true);
    await send(
      'provisioning.start',
      month(c, '2026-02-01', '2026-02-28', 'inv_feb'),
      '2026-02-01T08:00:00Z',
    );
    await sweeps('2026-02-01T14:00:00Z');
    expect(adapterActions(c)).toEqual(['provision']);
    expect(await has(c, '2026-02-15T00:00:00Z')).toBe(true);
  });

  it('a customer who does not renew leaves 12 hours and the settle time after the day, once', async () => {
    const c = 'owner_days_leaving';
    await january(c);
    await sweeps('2026-02-01T12:00:00Z', '2026-02-01T13:14:00Z');
    expect(adapterActions(c)).toEqual(['provision']);
    expect(await has(c, '2026-02-01T13:14:59Z')).toBe(true);
    expect(await has(c, '2026-02-01T13:15:00Z')).toBe(false);
    await sweeps('2026-02-01T13:15:00Z', '2026-02-01T14:00:00Z');
    await deliveriesSettled(host.app);
    expect(adapterActions(c)).toEqual(['provision', 'deprovision']);
  });

  it('a paid end with a time of day other than midnight keeps the settle time alone', async () => {
    const c = 'owner_days_exact';
    const period = month(c, '2026-01-01T10:00:00Z', '2026-01-31T10:00:00Z', 'inv_jan');
    await send('provisioning.start', period, '2026-01-01T10:00:00Z');
    await send('provisioning.end', period, '2026-01-31T10:00:00Z');
    expect(await has(c, '2026-01-31T11:14:59Z')).toBe(true);
    expect(await has(c, '2026-01-31T11:15:00Z')).toBe(false);
  });
});
