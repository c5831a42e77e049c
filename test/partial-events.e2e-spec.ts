import type { AqueductModuleOptions } from 'nestjs-aqueduct';
/**
 * Events that name less than their provisioning has (no orgs, no grace), applied before the
 * older event that named it (refused at its moment, then retried by Aqueduct): the users still get
 * access and are told, seats count people, and a left-out invoice is still waited for and paid.
 * Found by adversarial reviews of the ledger; each test failed on the code it was written against.
 * Real Postgres, real HTTP, real SMTP, a controlled clock.
 */
import type { INestApplication } from '@nestjs/common';
import { AqueductAccessService, ExpiryJob } from 'nestjs-aqueduct';
import { DataSource } from 'typeorm';
import { postAccepted } from './support/post';
import { TestSmtpServer } from './support/smtp';
import {
  deliveriesSettled,
  domainOf,
  envelope,
  mailSubjects,
  period,
  subscriptionApp,
} from './support/subscription';
import { DAY, TestClock, T0, at } from './support/test-clock';
import { adapterCalls } from './support/recording-adapter';
import { useTestApp } from './support/use-test-app';

const SECRET = 'partial-events-secret';
const SETTLED = 76;

const STARTED = 'Your access to prod_pro has started';

function lifeHost(extra: Partial<AqueductModuleOptions> = {}) {
  const clock = new TestClock(T0);
  const smtp = new TestSmtpServer();
  const host = useTestApp(() => subscriptionApp({ secret: SECRET, clock, smtp, aqueduct: extra }), {
    servers: [smtp],
  });
  const app = () => host.app as INestApplication;
  const settled = () => deliveriesSettled(app());
  /** Sends an event at the clock's moment `moment` (created at `createdAt`), and waits. */
  const send = async (type: string, object: unknown, createdAt: Date, moment = createdAt) => {
    clock.set(moment);
    await postAccepted(app(), envelope(type, object, createdAt), SECRET);
    await settled();
  };
  const tick = async (moment: Date) => {
    clock.set(moment);
    await app().get(ExpiryJob).sweep();
    await settled();
  };
  const has = (c: string, moment: Date, productId = 'prod_pro') =>
    app().get(AqueductAccessService).hasAccess(c, productId, moment);
  const mails = (c: string) => mailSubjects(smtp, c);
  /** What the customer has of prod_pro at `moment`, what the adapter was told, the mails. */
  const outcome = async (c: string, moment: Date) => {
    const check = await app().get(AqueductAccessService).check(c, { product: 'prod_pro' }, moment);
    return {
      allowed: check.allowed,
      seats: check.seats,
      calls: adapterCalls.filter((x) => x.customerId === c).map((x) => [x.action, x.emails]),
      mails: mails(c),
    };
  };
  return { clock, smtp, host, app, send, tick, has, mails, settled, outcome };
}

/**
 * An update or end that names no orgs, applied before its own start (refused at its moment, then
 * retried by Aqueduct up to 43 h later): access begins with nobody in it; the start, older, still
 * gives its users (no newer event named any), who are then provisioned and welcomed.
 */
describe('Partial events arriving before their start', () => {
  const h = lifeHost();
  it('an update naming no orgs applied before its own (retried) start: the users are still provisioned', async () => {
    const c = 'owner_update_first';
    const p = period(c, { start: at(0) });
    const { provisioningOrgs: _o, ...noOrgs } = p;
    // The start is refused at its moment (a deploy); an update 30 minutes later (new metadata,
    // no orgs named) arrives first; the start comes with Aqueduct's retry an hour after it.
    await h.send(
      'provisioning.update',
      { ...noOrgs, metadata: { plan: 'x' } },
      at(0, 30),
      at(0, 30),
    );
    await h.send('provisioning.start', p, at(0), at(0, 60));
    expect(await h.outcome(c, at(1))).toEqual({
      allowed: true,
      seats: 1,
      // The access began with the update, its users came with the start.
      calls: [
        ['provision', []],
        ['update', [`ada@${domainOf(c)}`]],
      ],
      mails: [STARTED],
    });
  });
});

describe('An early end naming no orgs before its own start', () => {
  const h = lifeHost();
  it('a cancellation an hour after purchase, its start retried: the users keep the grace and are told', async () => {
    const c = 'owner_quick_cancel';
    const p = period(c, { start: at(0) });
    const { provisioningOrgs: _o, ...noOrgs } = p;
    // Bought at 00:00 (the start refused: a deploy), cancelled at 00:20 with a 7-day grace; the
    // end names no orgs (README: such an end keeps the users through the grace, and mails them).
    await h.send(
      'provisioning.end',
      { ...noOrgs, endDate: at(0, 20).toISOString(), gracePeriodEndDate: at(7, 20).toISOString() },
      at(0, 20),
    );
    await h.send('provisioning.start', p, at(0), at(0, 60)); // Aqueduct's retry
    await h.tick(at(0, 20 + SETTLED + 60));
    expect(await h.outcome(c, at(3))).toEqual({
      allowed: true,
      seats: 1,
      calls: [
        ['provision', []],
        ['update', [`ada@${domainOf(c)}`]],
      ],
      // Access began in its grace period (its paid part was over when it became known): the
      // user who joins is welcomed, with the date it lasts until, not told a period ended.
      mails: [STARTED],
    });
  });
});

describe('Two older events with one envelope time, after an end that names neither', () => {
  const h = lifeHost();
  it('the update (rank above the start, same createdAt) wins over the start, as applied in order', async () => {
    const c = 'owner_fill_tie';
    const p = period(c, { start: at(0) }); // grace: 7 days after its end
    const endOfPaid = at(30);
    // Same second as the start: an update shortening the grace to 1 day and naming Bob instead.
    const update = {
      ...p,
      gracePeriodEndDate: new Date(endOfPaid.getTime() + DAY).toISOString(),
      provisioningOrgs: { name: 'Acme', users: [{ name: 'Bob', email: 'bob@tie.test' }] },
    };
    const { provisioningOrgs: _o, gracePeriodEndDate: _g, ...bare } = p;
    // A cancellation 20 min later naming neither grace nor orgs arrives first; then the retried
    // start, then the retried update (both created at at(0)).
    await h.send(
      'provisioning.end',
      { ...bare, endDate: at(0, 20).toISOString() },
      at(0, 20),
      at(0, 20),
    );
    await h.send('provisioning.start', p, at(0), at(0, 60));
    await h.send('provisioning.update', update, at(0), at(0, 90));

    const [row] = await h
      .app()
      .get(DataSource)
      .query(
        `SELECT grace_period_end_date AS grace, orgs FROM aqueduct_provisionings WHERE customer_id = $1`,
        [c],
      );
    // In order (start, update, end): the update's 1-day grace, kept from the end's own end date,
    // and the update's users.
    expect({
      grace: new Date(row.grace).toISOString(),
      users: (row.orgs as { users: { email: string }[] }[]).flatMap((o) =>
        o.users.map((u) => u.email),
      ),
      accessOnDay3: await h.app().get(AqueductAccessService).hasAccess(c, 'prod_pro', at(3)),
    }).toEqual({
      grace: new Date(at(0, 20).getTime() + DAY).toISOString(),
      users: ['bob@tie.test'],
      accessOnDay3: false,
    });
  });
});

describe('Seats across products', () => {
  const h = lifeHost({ features: { prod_basic: ['reports'], prod_pro: ['reports', 'api'] } });
  it('an upgrade whose old product keeps its grace: one person counts one seat, not one per product', async () => {
    const c = 'owner_upgrade_grace_seats';
    const basic = period(c, { start: at(0), productId: 'prod_basic' });
    await h.send('provisioning.start', basic, at(0));
    // Upgrade on day 15: basic ends early with a 7-day grace, pro starts, the same one user.
    await h.send(
      'provisioning.end',
      { ...basic, endDate: at(15).toISOString(), gracePeriodEndDate: at(22).toISOString() },
      at(15),
    );
    await h.send('provisioning.start', period(c, { start: at(15), productId: 'prod_pro' }), at(15));
    const access = h.app().get(AqueductAccessService);
    const moment = at(16);
    expect({
      reports: (await access.check(c, { feature: 'reports' }, moment)).seats,
      features: (await access.getFeatures(c, moment)).seats,
    }).toEqual({ reports: 1, features: 1 });
  });

  it('two different people, one in each product granting at once, count two seats', async () => {
    const c = 'owner_seat_hash';
    // Addresses whose 32-bit FNV-1a hashes (the first way people were kept) are equal.
    const basic = period(c, {
      start: at(0),
      productId: 'prod_basic',
      subscriptionId: 'sub_basic',
      users: [['A', 'user495118@owner-seat-hash.test']],
    });
    const pro = period(c, {
      start: at(0),
      productId: 'prod_pro',
      subscriptionId: 'sub_pro',
      users: [['B', 'user1341036@owner-seat-hash.test']],
    });
    await h.send('provisioning.start', basic, at(0));
    await h.send('provisioning.start', pro, at(0));
    const access = h.app().get(AqueductAccessService);
    expect({
      reports: (await access.check(c, { feature: 'reports' }, at(1))).seats,
      features: (await access.getFeatures(c, at(1))).seats,
    }).toEqual({ reports: 2, features: 2 });
  });
});

describe('requirePayment: an update that leaves out invoiceId, racing its invoice.paid', () => {
  const h = lifeHost({ access: { requirePayment: true } });
  const run = async (c: string, nameInvoice: boolean, hold = true) => {
    const ds = h.app().get(DataSource);
    const invoiceId = `inv_${c}`;
    const basic = period(c, { start: at(0), id: `prov_${c}`, productId: 'prod_basic', invoiceId });
    await h.send('provisioning.start', basic, at(0), at(0, 1));
    // The upgrade in place: the same provisioning moves to prod_pro (its invoice left out).
    const { invoiceId: _i, ...withoutInvoice } = basic;
    const upgrade = { ...(nameInvoice ? basic : withoutInvoice), productId: 'prod_pro' };
    // Something holds the basic access row for a moment (another event of that customer): the
    // update waits there, and the payment arrives meanwhile.
    const runner = ds.createQueryRunner();
    await runner.connect();
    await runner.startTransaction();
    if (hold) {
      await runner.query(`SELECT 1 FROM aqueduct_access WHERE customer_id = $1 FOR UPDATE`, [c]);
    }
    const waiting = async (n: number) => {
      for (let i = 0; i < 200; i++) {
        const [{ count }] = await ds.query(
          `SELECT count(*)::int AS count FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()`,
        );
        if (count >= n) return;
        await new Promise((r) => setTimeout(r, 25));
      }
      throw new Error(`not ${n} waiting`);
    };
    h.clock.set(at(0, 5));
    await postAccepted(h.app(), envelope('provisioning.update', upgrade, at(0, 5)), SECRET);
    if (hold) await waiting(1);
    else await deliveriesSettled(h.app());
    await postAccepted(h.app(), envelope('invoice.paid', { id: invoiceId }, at(0, 5)), SECRET);
    if (hold) await waiting(2).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 200));
    await runner.commitTransaction();
    await runner.release();
    await deliveriesSettled(h.app());
    const access = h.app().get(AqueductAccessService);
    return {
      pro: await access.hasAccess(c, 'prod_pro', at(1)),
      basic: await access.hasAccess(c, 'prod_basic', at(1)),
    };
  };
  it('control: no race, the update leaves invoiceId out: the paid upgrade grants prod_pro', async () => {
    expect(await run('owner_race_none', false, false)).toEqual({ pro: true, basic: false });
  });
  it('control: the update names its invoice: the paid upgrade grants prod_pro', async () => {
    expect(await run('owner_race_named', true)).toEqual({ pro: true, basic: false });
  });
  it('the update leaves invoiceId out (keeps it) and races the payment: the paid upgrade grants prod_pro', async () => {
    expect(await run('owner_race_omitted', false)).toEqual({ pro: true, basic: false });
  });
});
