/**
 * The seats a check counts (`check().seats`, `getFeatures().seats`): the people the provisionings
 * covering the moment asked carry, by their dates, as access itself is. Once, they were those of
 * the ledger's last evaluation: a start known ahead of its date answered "allowed, 0 seats" until
 * the expiry job ran, and a person in two orgs counted twice. Real Postgres, real HTTP.
 */
import type { INestApplication } from '@nestjs/common';
import { AqueductAccessService } from 'nestjs-aqueduct';
import { postAccepted } from './support/post';
import { deliveriesSettled, envelope, period } from './support/subscription';
import { DAY, TestClock } from './support/test-clock';
import { useTestApp } from './support/use-test-app';

const SECRET = 'access-seats-secret';
const T0 = new Date('2026-03-01T00:00:00Z');
const at = (days: number) => new Date(T0.getTime() + days * DAY);
const people = (n: number, domain: string): [string, string][] =>
  Array.from({ length: n }, (_, i) => [`User ${i}`, `user${i}@${domain}`]);

describe.each([
  ['from the cache', {}],
  ['without the cache', { cache: false as const }],
])('Seats %s', (_label, access) => {
  const clock = new TestClock(T0);
  const host = useTestApp({
    clock,
    aqueduct: {
      secrets: [SECRET],
      // No expiry job: what a check says must not wait for its sweep.
      expiry: { enabled: false },
      features: { prod_pro: ['reports'] },
      access,
    },
  });
  let checks: AqueductAccessService;
  beforeAll(() => {
    checks = host.app.get(AqueductAccessService);
  });
  const send = async (app: INestApplication, object: unknown, moment: Date) => {
    clock.set(moment);
    await postAccepted(app, envelope('provisioning.start', object, moment), SECRET);
    await deliveriesSettled(app);
  };

  it('a start known ahead of its date: allowed with its seats at the start, not 0', async () => {
    const c = 'owner_seats_ahead';
    await send(host.app, period(c, { start: at(1), users: people(3, 'ahead.test') }), at(0));
    expect(await checks.check(c, { product: 'prod_pro' }, at(0))).toMatchObject({
      allowed: false,
    });
    clock.set(at(1));
    expect(await checks.check(c, { product: 'prod_pro' })).toMatchObject({
      allowed: true,
      seats: 3,
    });
    expect((await checks.getFeatures(c)).seats).toBe(3);
  });

  it('a renewal with more users, known ahead: the seats change at its start, and only then', async () => {
    const c = 'owner_seats_renewal';
    await send(host.app, period(c, { start: at(0), users: people(2, 'renewal.test') }), at(0));
    await send(host.app, period(c, { start: at(30), users: people(5, 'renewal.test') }), at(29));
    expect((await checks.check(c, { product: 'prod_pro' }, at(29))).seats).toBe(2);
    // Period 1's grace and period 2 overlap: the people of both, counted once each.
    expect((await checks.check(c, { product: 'prod_pro' }, at(31))).seats).toBe(5);
  });

  it('counts a person once, not once per org (emails compared case-insensitively)', async () => {
    const c = 'owner_seats_two_orgs';
    const p = period(c, { start: at(0) });
    p.provisioningOrgs = [
      { name: 'Engineering', users: [{ name: 'Ada', email: 'ada@x.test' }] },
      {
        name: 'Finance',
        users: [
          { name: 'Ada', email: 'ADA@x.test' },
          { name: 'Bob', email: 'bob@x.test' },
        ],
      },
    ];
    await send(host.app, p, at(0));
    expect(await checks.check(c, { feature: 'reports' }, at(1))).toMatchObject({
      allowed: true,
      seats: 2,
    });
  });
});
