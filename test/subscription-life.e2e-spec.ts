import { Injectable } from '@nestjs/common';
import {
  AqueductAccessService,
  ExpiryJob,
  type ProvisioningAdapter,
  type ProvisioningGrant,
} from 'nestjs-aqueduct';
import { DataSource } from 'typeorm';
import { postAccepted } from './support/post';
import { TestSmtpServer } from './support/smtp';
import {
  accessEvents,
  deliveriesSettled,
  domainOf,
  envelope,
  period,
  mailSubjects,
  sweepAt,
  subscriptionApp,
} from './support/subscription';
import { TestClock, MINUTE, T0, at } from './support/test-clock';
import {
  RecordingAdapter,
  adapterActions,
  adapterCalls,
  personAccounts,
  recordingAdapterModule,
} from './support/recording-adapter';
import { LogCapture } from './support/log-capture';
import { useTestApp } from './support/use-test-app';
import { waitFor } from './support/wait';

const SECRET = 'life-secret';
/** Days (and minutes) after T0. */
/** Past the default settle time (75 minutes) of a loss that happened on the hour. */
const SETTLED = 76;

/** Moves the clock, runs the expiry job as its cron would, and waits for what it caused. */
const actions = adapterActions;

describe('A subscription’s whole life (HTTP, real Postgres, real SMTP, controlled clock)', () => {
  let access: AqueductAccessService;
  const clock = new TestClock(T0);
  const smtp = new TestSmtpServer();

  // Two instances on the one database; a function: the SMTP server has its port only once started.
  const host = useTestApp(() => subscriptionApp({ secret: SECRET, clock, smtp }), {
    instances: 2,
    servers: [smtp],
  });
  beforeAll(() => {
    access = host.app.get(AqueductAccessService);
  });

  const send = (type: string, object: unknown, createdAt: Date, to = host.app) =>
    postAccepted(to, envelope(type, object, createdAt), SECRET);
  const settled = () => deliveriesSettled(host.app);
  /**
   * Sends an event of `type`, created at the provisioning's `dateField` unless told otherwise, and
   * waits for everything it causes, so the clock cannot move under it.
   */
  const settledSend =
    (type: string, dateField: 'startDate' | 'endDate') =>
    async (object: Record<string, unknown>, createdAt = new Date(String(object[dateField]))) => {
      await send(type, object, createdAt);
      await settled();
    };
  const start = settledSend('provisioning.start', 'startDate');
  const end = settledSend('provisioning.end', 'endDate');
  const tick = (moment: Date) => sweepAt(host.app, clock, moment);
  const has = (customerId: string, moment: Date, productId = 'prod_pro') =>
    access.hasAccess(customerId, productId, moment);
  const mails = (customerId: string) => mailSubjects(smtp, customerId);

  const STARTED = 'Your access to prod_pro has started';
  const PERIOD_ENDED = 'Your paid period for prod_pro has ended';
  const ENDED = 'Your access to prod_pro has ended';
  /** A renewal the customer never noticed: provisioned once, told once (started), renewed. */
  const expectRenewedUntold = async (c: string) => {
    expect(actions(c)).toEqual(['provision']);
    expect(mails(c)).toEqual([STARTED]);
    expect(await accessEvents(host.app, c)).toEqual(['access.started', 'access.renewed']);
  };

  beforeEach(() => clock.set(T0));

  it('a renewal whose start arrives first: access never stops, one provision, one mail, nothing ended', async () => {
    const c = 'owner_renew_first';
    const p1 = period(c, { start: at(0) });
    const p2 = period(c, { start: at(30) });
    await start(p1);
    await settled();
    expect(actions(c)).toEqual(['provision']);

    clock.set(at(30));
    await start(p2, at(30));
    await end(p1, at(30)); // the same instant: an end outranks a start, but they are two provisionings
    await settled();
    for (const moment of [at(29), at(30), at(35), at(37, 1), at(59)]) {
      expect(await has(c, moment)).toBe(true);
    }
    await tick(at(30, SETTLED));
    await tick(at(37, SETTLED)); // period 1's grace is over; period 2 carries on
    await expectRenewedUntold(c);

    // The subscription is not renewed again: the period ends, then the grace, then access.
    clock.set(at(60));
    await end(p2, at(60));
    await settled();
    expect(mails(c)).toEqual([STARTED]); // not yet: a renewal may still arrive
    await tick(at(60, SETTLED));
    expect(mails(c)).toEqual([STARTED, PERIOD_ENDED]);
    await tick(at(67, SETTLED));
    expect(actions(c)).toEqual(['provision', 'deprovision']);
    expect(mails(c)).toEqual([STARTED, PERIOD_ENDED, ENDED]);
    expect(await accessEvents(host.app, c)).toEqual([
      'access.started',
      'access.renewed',
      'access.grace',
      'access.expired',
    ]);
    expect(await has(c, at(66, 59 * 24))).toBe(true);
    expect(await has(c, at(67))).toBe(false);
  });

  it('a renewal whose start arrives minutes after the end, then again as a retry a day late', async () => {
    const c = 'owner_renew_second';
    const p1 = period(c, { start: at(0) });
    const p2 = period(c, { start: at(30) });
    await start(p1);
    await settled();
    clock.set(at(30));
    await end(p1, at(30));
    await tick(at(30, 1)); // the job runs between the two
    clock.set(at(30, 3));
    await start(p2, at(30));
    await tick(at(30, SETTLED));
    await tick(at(38));
    clock.set(at(31));
    // Aqueduct's retry of period 2's start (other bytes, same event): older than nothing, changes nothing.
    await postAccepted(
      host.app,
      { ...envelope('provisioning.start', p2, at(30)), retry: 1 },
      SECRET,
    );
    await settled();
    expect(await has(c, at(31))).toBe(true);
    expect(await has(c, at(45))).toBe(true);
    await expectRenewedUntold(c);
  });

  it('a renewal without grace, end first: access checks hold through the renewal window, nobody is deprovisioned', async () => {
    const c = 'owner_no_grace';
    const p1 = period(c, { start: at(0), graceDays: null });
    const p2 = period(c, { start: at(30), graceDays: null });
    await start(p1);
    await settled();
    clock.set(at(30));
    await end(p1, at(30));
    await tick(at(30, 1));
    expect(await has(c, at(30, 1))).toBe(true); // the renewal window: the start is on its way
    clock.set(at(30, 2));
    await start(p2, at(30));
    await settled();
    expect(await has(c, at(30, 1))).toBe(true);
    await tick(at(30, SETTLED));
    expect(actions(c)).toEqual(['provision']);
    expect(mails(c)).toEqual([STARTED]);
  });

  it('provisionings with their own ids: each period is its own record', async () => {
    const c = 'owner_ids';
    const p1 = period(c, { start: at(0), id: 'prov_1', invoiceId: null });
    const p2 = period(c, { start: at(30), id: 'prov_2', invoiceId: null });
    await start(p1);
    clock.set(at(30));
    await end(p1, at(30));
    await start(p2, at(30));
    await tick(at(38));
    expect(actions(c)).toEqual(['provision']);
    const keys = (await access.getProvisionings(c)).map((p) => p.key);
    expect(keys).toEqual(['id:prov_1', 'id:prov_2']);
  });

  it('a renewal and an end on two instances at once, for 20 customers: nobody loses anything', async () => {
    const customers = Array.from({ length: 20 }, (_, i) => `owner_race${i}`);
    for (const c of customers) {
      await start(period(c, { start: at(0) }));
    }
    await settled();
    clock.set(at(30));
    await Promise.all(
      customers.flatMap((c) => [
        send('provisioning.end', period(c, { start: at(0) }), at(30), host.app),
        send('provisioning.start', period(c, { start: at(30) }), at(30), host.instances[1]),
      ]),
    );
    await settled();
    await tick(at(40));
    for (const c of customers) {
      expect(actions(c)).toEqual(['provision']);
      expect(await has(c, at(40))).toBe(true);
      expect(mails(c)).toEqual([STARTED]);
    }
  });

  it('an end applied while the job sweeps a later moment on another instance: never a second start', async () => {
    const customers = Array.from({ length: 15 }, (_, i) => `owner_sweep_race${i}`);
    for (const c of customers) {
      await start(period(c, { start: at(0) }));
    }
    clock.set(at(30));
    // The ends are stored, and the clock jumps past their grace before (or while) they are applied.
    await Promise.all(
      customers.map((c) => send('provisioning.end', period(c, { start: at(0) }), at(30))),
    );
    clock.set(at(40));
    await host.instances[1].get(ExpiryJob).sweep();
    await settled();
    // An end applied before the sweep saw the loss makes it news: it settles from then.
    await tick(at(40, SETTLED));
    for (const c of customers) {
      expect(actions(c)).toEqual(['provision', 'deprovision']);
      expect(await accessEvents(host.app, c)).toEqual(['access.started', 'access.expired']);
    }
  });

  it('an early cancellation ends access at the new end date, tells the users, then deprovisions', async () => {
    const c = 'owner_cancel';
    const p = period(c, { start: at(0) }); // paid until day 30, grace until 37
    await start(p);
    await settled();
    expect(await has(c, at(20))).toBe(true);
    clock.set(at(10));
    await end(
      { ...p, endDate: at(10).toISOString(), gracePeriodEndDate: at(13).toISOString() },
      at(10),
    );
    await settled();
    expect(await has(c, at(12))).toBe(true);
    expect(await has(c, at(13))).toBe(false);
    expect(await has(c, at(20))).toBe(false);
    await tick(at(10, SETTLED));
    expect(mails(c)).toEqual([STARTED, PERIOD_ENDED]);
    const [, notice] = smtp.received.filter((m) => m.to.includes(`ada@${domainOf(c)}`));
    expect(notice.text).toContain('continues until January 14, 2026'); // day 13
    await tick(at(13, SETTLED));
    expect(actions(c)).toEqual(['provision', 'deprovision']);
    expect(mails(c)).toEqual([STARTED, PERIOD_ENDED, ENDED]);
  });

  it('an upgrade from one product to another mid-period: each provisioned and deprovisioned once', async () => {
    const c = 'owner_upgrade';
    const basic = period(c, { start: at(0), productId: 'prod_basic' });
    await start(basic);
    await settled();
    clock.set(at(15));
    await end(
      { ...basic, endDate: at(15).toISOString(), gracePeriodEndDate: at(15).toISOString() },
      at(15),
    );
    await start(period(c, { start: at(15), productId: 'prod_pro' }), at(15));
    await tick(at(15, SETTLED));
    expect(actions(c, 'prod_basic')).toEqual(['provision', 'deprovision']);
    expect(actions(c, 'prod_pro')).toEqual(['provision']);
    expect(await has(c, at(16), 'prod_basic')).toBe(false);
    expect(await has(c, at(16), 'prod_pro')).toBe(true);
    // A switch, not a loss: the new product's welcome says what they have; nothing "ended".
    expect(mails(c)).toEqual(['Your access to prod_basic has started', STARTED]);
  });

  it('an upgrade that keeps a grace period: nobody who moved is told to renew; a seat left behind is told it ended', async () => {
    const c = 'owner_upgrade_grace';
    const ada: [string, string] = ['Ada', `ada@${domainOf(c)}`];
    const bob: [string, string] = ['Bob', `bob@${domainOf(c)}`];
    const basic = period(c, { start: at(0), productId: 'prod_basic', users: [ada, bob] });
    await start(basic);
    clock.set(at(15));
    // Basic ends early with a week's grace; pro starts for Ada alone.
    await end({
      ...basic,
      endDate: at(15).toISOString(),
      gracePeriodEndDate: at(22).toISOString(),
    });
    await start(period(c, { start: at(15), productId: 'prod_pro', users: [ada] }));
    await tick(at(15, SETTLED));
    await tick(at(22, SETTLED));
    expect(actions(c, 'prod_basic')).toEqual(['provision', 'deprovision']);
    const to = (address: string) =>
      smtp.received.filter((mail) => mail.to.includes(address)).map((mail) => mail.subject);
    // Basic's deprovision knows Pro holds Ada: one account per person keeps her, disables Bob.
    const deprovision = adapterCalls.find(
      (call) => call.customerId === c && call.action === 'deprovision',
    );
    expect(deprovision?.otherProducts).toEqual({ prod_pro: [ada[1]] });
    expect(personAccounts(c)).toEqual({ [ada[1]]: true, [bob[1]]: false });
    expect(to(ada[1])).toEqual(['Your access to prod_basic has started', STARTED]);
    expect(to(bob[1])).toEqual([
      'Your access to prod_basic has started',
      'Your paid period for prod_basic has ended',
      'Your access to prod_basic has ended',
    ]);
    expect(await accessEvents(host.app, c, 'prod_basic')).toEqual([
      'access.started',
      'access.changed', // the early end
      'access.grace',
      'access.expired',
    ]);
  });

  it('a renewal that comes after access was announced ended: started again now, not on the old span’s first day', async () => {
    const c = 'owner_lapse_renewal';
    const p1 = period(c, { start: at(0) });
    await start(p1);
    clock.set(at(30));
    await end(p1, at(30));
    await tick(at(30, SETTLED));
    await tick(at(37, SETTLED));
    expect(mails(c)).toEqual([STARTED, PERIOD_ENDED, ENDED]);
    // Days later the renewal arrives at last (an invoice paid late): its period began at day 30.
    clock.set(at(40));
    await start(period(c, { start: at(30) }), at(40));
    await settled();
    expect(actions(c)).toEqual(['provision', 'deprovision', 'provision']);
    const started: { at: string; startDate: string }[] = await host.app.get(DataSource).query(
      `SELECT payload->'object'->>'at' AS at, payload->'object'->>'startDate' AS "startDate"
         FROM aqueduct_events WHERE type = 'access.started' AND payload->'object'->>'customerId' = $1
        ORDER BY received_at`,
      [c],
    );
    expect(started.map((row) => row.at)).toEqual([at(0).toISOString(), at(40).toISOString()]);
    expect(started[1].startDate).toBe(at(0).toISOString()); // the span, joined over the lapse
    const welcomeBack = smtp.received.filter(
      (mail) => mail.subject === STARTED && mail.to[0].endsWith(domainOf(c)),
    );
    expect(welcomeBack).toHaveLength(2);
    expect(welcomeBack[1].text).toContain('started on February 10, 2026 at 9:30 AM UTC'); // day 40
  });

  it('two products of one person that end at once: the last deprovision finds the other gone, so nobody keeps an account', async () => {
    const c = 'owner_two_end';
    for (const productId of ['prod_basic', 'prod_pro']) {
      await start(period(c, { start: at(0), productId, graceDays: null }));
    }
    clock.set(at(30));
    for (const productId of ['prod_basic', 'prod_pro']) {
      await end(period(c, { start: at(0), productId, graceDays: null }), at(30));
    }
    await tick(at(30, SETTLED));
    expect(actions(c, 'prod_basic')).toEqual(['provision', 'deprovision']);
    expect(actions(c, 'prod_pro')).toEqual(['provision', 'deprovision']);
    expect(personAccounts(c)).toEqual({ [`ada@${domainOf(c)}`]: false });
  });

  it('a gap, then a new subscription: deprovisioned in the gap, provisioned again', async () => {
    const c = 'owner_gap';
    const first = period(c, { start: at(0), subscriptionId: 'sub_a' });
    await start(first);
    clock.set(at(30));
    await end(first, at(30));
    await tick(at(30, SETTLED));
    await tick(at(37, SETTLED));
    clock.set(at(50));
    await start(period(c, { start: at(50), subscriptionId: 'sub_b' }), at(50));
    await settled();
    expect(await has(c, at(40))).toBe(false);
    expect(await has(c, at(55))).toBe(true);
    expect(actions(c)).toEqual(['provision', 'deprovision', 'provision']);
    expect(mails(c)).toEqual([STARTED, PERIOD_ENDED, ENDED, STARTED]);
  });

  it('a new subscription after a gap, known before the grace: the grace is still announced, and the gap kept', async () => {
    const c = 'owner_gap_known';
    const first = period(c, { start: at(0), subscriptionId: 'sub_a' });
    await start(first);
    clock.set(at(20));
    await start(period(c, { start: at(45), subscriptionId: 'sub_b' }), at(20));
    clock.set(at(30));
    await end(first, at(30));
    await tick(at(30, SETTLED));
    expect(mails(c)).toEqual([STARTED, PERIOD_ENDED]);
    await tick(at(37, SETTLED));
    await tick(at(45));
    expect(actions(c)).toEqual(['provision', 'deprovision', 'provision']);
    expect(mails(c)).toEqual([STARTED, PERIOD_ENDED, ENDED, STARTED]);
  });

  it('two products at once are independent', async () => {
    const c = 'owner_two';
    const pro = period(c, { start: at(0) });
    await start(pro);
    await start(period(c, { start: at(0), productId: 'prod_team', days: 60 }));
    clock.set(at(30));
    await end(pro, at(30));
    await tick(at(37, SETTLED));
    expect(actions(c, 'prod_pro')).toEqual(['provision', 'deprovision']);
    expect(actions(c, 'prod_team')).toEqual(['provision']);
    expect(await has(c, at(40), 'prod_team')).toBe(true);
    expect(await has(c, at(40), 'prod_pro')).toBe(false);
  });

  it('a trial without grace ends its settle time after its end date, with no "period ended" mail', async () => {
    const c = 'owner_trial';
    const trial = period(c, {
      start: at(0),
      days: 14,
      graceDays: null,
      invoiceId: null,
      subscriptionId: null,
    });
    await start(trial);
    clock.set(at(14));
    await end(trial, at(14));
    await settled();
    expect(await has(c, at(13))).toBe(true);
    expect(await has(c, at(14))).toBe(true);
    await tick(at(14, SETTLED));
    expect(await has(c, at(14, SETTLED))).toBe(false);
    expect(actions(c)).toEqual(['provision', 'deprovision']);
    expect(mails(c)).toEqual([STARTED, ENDED]);
  });

  it('an end whose grace is already over when it arrives expires access once the loss has settled; a stale start then changes nothing', async () => {
    const c = 'owner_late_end';
    const p = period(c, { start: at(0) });
    await start(p);
    clock.set(at(40)); // no job ran since day 0
    await end(p, at(30));
    expect(await has(c, at(40))).toBe(false); // access checks follow the dates at once
    expect(actions(c)).toEqual(['provision']);
    await tick(at(40, SETTLED));
    expect(actions(c)).toEqual(['provision', 'deprovision']);
    expect(mails(c)).toEqual([STARTED, ENDED]);
    expect(await accessEvents(host.app, c)).toEqual(['access.started', 'access.expired']);
    await postAccepted(host.app, { ...envelope('provisioning.start', p, at(0)), retry: 2 }, SECRET);
    await tick(at(41));
    expect(actions(c)).toEqual(['provision', 'deprovision']);
    expect(mails(c)).toEqual([STARTED, ENDED]); // never a mail about an event the ledger ignored
  });

  // Both events of a renewal failed at its moment (a deploy, the database down: 503) and Aqueduct
  // retries each on its own timer, about an hour later, period 1's end first.
  it('a renewal whose two events are retried an hour late, the end first: never deprovisioned, nothing ended', async () => {
    const c = 'owner_renew_late';
    const p1 = period(c, { start: at(0), graceDays: null });
    const p2 = period(c, { start: at(30), graceDays: null });
    await start(p1);
    clock.set(at(30, 60));
    await end(p1, at(30));
    expect(await has(c, at(30, 60))).toBe(true); // the renewal window covers the hour
    clock.set(at(30, 61));
    await start(p2, at(30));
    await tick(at(30, 60 + SETTLED));
    expect(await has(c, at(30, 70))).toBe(true);
    await expectRenewedUntold(c);
  });

  it('the same with a grace period: no "paid period ended" to a customer who renewed', async () => {
    const c = 'owner_renew_late_grace';
    await start(period(c, { start: at(0) }));
    clock.set(at(30, 60));
    await end(period(c, { start: at(0) }), at(30));
    clock.set(at(30, 61));
    await start(period(c, { start: at(30) }), at(30));
    await tick(at(30, 60 + SETTLED));
    expect(await accessEvents(host.app, c)).toEqual(['access.started', 'access.renewed']);
    expect(mails(c)).toEqual([STARTED]);
  });

  it('an end that names no orgs keeps the users through the grace period, and mails them', async () => {
    const c = 'owner_end_without_orgs';
    const p = period(c, { start: at(0) });
    await start(p);
    clock.set(at(30));
    const { provisioningOrgs: _omitted, ...withoutOrgs } = p;
    await end(withoutOrgs, at(30));
    await tick(at(30, SETTLED));
    expect(await has(c, at(31))).toBe(true);
    expect(actions(c)).toEqual(['provision']); // no update that takes every user away
    expect(mails(c)).toEqual([STARTED, PERIOD_ENDED]);
    await tick(at(37, SETTLED));
    const last = adapterCalls.filter((call) => call.customerId === c).at(-1)!;
    expect([last.action, last.emails]).toEqual(['deprovision', [`ada@${domainOf(c)}`]]);
    expect(mails(c)).toEqual([STARTED, PERIOD_ENDED, ENDED]);
  });

  /** Runs the expiry job every `step` minutes from `from` to `to` (minutes past day `day`), as its cron would. */
  const ticksEvery = async (day: number, from: number, to: number, step: number) => {
    for (let minute = from; minute <= to; minute += step) {
      await tick(at(day, minute));
    }
  };

  // Renewal day as it happens when the endpoint refused the renewal's start at its moment (a
  // deploy, a database blip: 503): Aqueduct retries it an hour later, while the expiry job runs
  // every minute meanwhile. A paying customer must keep access, and hear nothing ended.
  it('a renewal without grace whose start is retried an hour late, the job running meanwhile: checks allow throughout, nothing ended', async () => {
    const c = 'owner_retried_start';
    const p1 = period(c, { start: at(0), graceDays: null });
    const p2 = period(c, { start: at(30), graceDays: null });
    await start(p1);
    clock.set(at(30));
    await end(p1, at(30));
    for (let minute = 0; minute <= 60; minute += 5) {
      await tick(at(30, minute));
      expect([minute, await has(c, at(30, minute))]).toEqual([minute, true]);
      const check = await access.check(c, { product: 'prod_pro' }, at(30, minute));
      expect(check.seats).toBe(1); // Ada is still provisioned: a seat limit keeps her in
    }
    expect((await access.getEntitlement(c, 'prod_pro', at(30, 30)))!.status).toBe('grace');
    clock.set(at(30, 61));
    await start(p2, at(30)); // Aqueduct's first retry
    await ticksEvery(30, 62, 62 + SETTLED, 20);
    expect(await has(c, at(30, 90))).toBe(true);
    await expectRenewedUntold(c);
  });

  it('the same with a grace period: no "paid period ended" mail while the retry is on its way', async () => {
    const c = 'owner_retried_start_grace';
    const p1 = period(c, { start: at(0) });
    await start(p1);
    clock.set(at(30));
    await end(p1, at(30));
    await ticksEvery(30, 0, 60, 5);
    clock.set(at(30, 61));
    await start(period(c, { start: at(30) }), at(30));
    await ticksEvery(30, 62, 62 + SETTLED, 20);
    await expectRenewedUntold(c);
  });

  it('a genuine end without grace: access lasts its settle time, then the customer is deprovisioned and told', async () => {
    const c = 'owner_genuine_end';
    const p = period(c, { start: at(0), graceDays: null });
    await start(p);
    clock.set(at(30));
    await end(p, at(30));
    await tick(at(30, 1));
    expect(await has(c, at(30, SETTLED - 2))).toBe(true);
    const inWindow = await access.getEntitlement(c, 'prod_pro', at(30, 1));
    expect(inWindow).toMatchObject({ status: 'grace', hasAccess: true, paidUntil: at(30) });
    expect(inWindow!.orgs.flatMap((org) => org.users.map((u) => u.name))).toEqual(['Ada']);
    expect(actions(c)).toEqual(['provision']);
    await tick(at(30, SETTLED));
    expect(await has(c, at(30, SETTLED))).toBe(false);
    expect(actions(c)).toEqual(['provision', 'deprovision']);
    expect(mails(c)).toEqual([STARTED, ENDED]);
    expect(await accessEvents(host.app, c)).toEqual(['access.started', 'access.expired']);
  });

  it('seats added on renewal are provisioned at once; seats only the old period had go with its grace', async () => {
    const c = 'owner_seats';
    const [ada, bob, cy] = ['ada', 'bob', 'cy'].map(
      (n) => [n, `${n}@${domainOf(c)}`] as [string, string],
    );
    await start(period(c, { start: at(0), users: [ada, bob] }));
    clock.set(at(30));
    await start(period(c, { start: at(30), users: [ada, cy] }), at(30));
    await end(period(c, { start: at(0), users: [ada, bob] }), at(30));
    await settled();
    await tick(at(37, SETTLED));
    const mine = adapterCalls.filter((call) => call.customerId === c);
    expect(mine.map((call) => [call.action, call.emails, call.reason])).toEqual([
      ['provision', [ada[1], bob[1]], 'access.started'],
      ['update', [ada[1], cy[1], bob[1]], 'access.renewed'],
      ['update', [ada[1], cy[1]], 'access.changed'],
    ]);
    expect(new Set(mine.map((call) => call.idempotencyKey)).size).toBe(3);
  });
});

describe('Access after payment (access.requirePayment)', () => {
  let access: AqueductAccessService;
  const clock = new TestClock(T0);
  const log = new LogCapture();

  const host = useTestApp({
    clock,
    logger: log,
    aqueduct: {
      secrets: [SECRET],
      provisioningAdapter: RecordingAdapter,
      expiry: { enabled: false },
      access: { requirePayment: true },
      dispatch: { pollIntervalMs: 50 },
    },
    imports: [recordingAdapterModule()],
  });
  beforeAll(() => {
    access = host.app.get(AqueductAccessService);
  });

  const send = (type: string, object: unknown, createdAt: Date) =>
    postAccepted(host.app, envelope(type, object, createdAt), SECRET);
  const paid = async (invoiceId: unknown, moment: Date) => {
    clock.set(moment);
    await send('invoice.paid', { id: invoiceId, status: 'paid' }, moment);
    await deliveriesSettled(host.app);
  };
  const started = async (object: Record<string, unknown>, moment: Date) => {
    clock.set(moment);
    await send('provisioning.start', object, moment);
    await deliveriesSettled(host.app);
  };

  it('an update that leaves out invoiceId keeps the provisioning waiting for its invoice', async () => {
    const c = 'owner_pay_invoice_omitted';
    const p = period(c, { start: at(0), id: 'prov_invoice_omitted' });
    await started(p, at(0));
    const { invoiceId: _omitted, ...update } = p;
    clock.set(at(1));
    await send('provisioning.update', { ...update, metadata: { seats: 'more' } }, at(1));
    await deliveriesSettled(host.app);
    expect(await access.hasAccess(c, 'prod_pro', at(2))).toBe(false);
    await paid(p.invoiceId, at(3));
    expect(await access.hasAccess(c, 'prod_pro', at(3, 1))).toBe(true);
  });

  it('waits for the payment; a late payment grants access from the moment it arrives', async () => {
    const c = 'owner_pay_late';
    const p = period(c, { start: at(0) });
    await started(p, at(0));
    expect(await access.hasAccess(c, 'prod_pro', at(1))).toBe(false);
    expect(await access.getEntitlement(c, 'prod_pro')).toMatchObject({
      status: 'scheduled',
      awaitingPayment: true,
    });
    expect(actions(c)).toEqual([]);
    await paid(p.invoiceId, at(2));
    expect(await access.hasAccess(c, 'prod_pro', at(1))).toBe(false);
    expect(await access.hasAccess(c, 'prod_pro', at(2))).toBe(true);
    expect(actions(c)).toEqual(['provision']);
    const [provisioning] = await access.getProvisionings(c);
    expect(provisioning.paidAt).toEqual(at(2));
  });

  it('a payment that arrives before its provisioning: access from the start date', async () => {
    const c = 'owner_pay_first';
    const p = period(c, { start: at(1) });
    await paid(p.invoiceId, at(0));
    await started(p, at(1));
    expect(await access.hasAccess(c, 'prod_pro', at(1))).toBe(true);
    expect(actions(c)).toEqual(['provision']);
  });

  it('an invoice never paid: once its period and grace are over, access is expired, not awaiting payment', async () => {
    const c = 'owner_never_paid';
    await started(period(c, { start: at(0) }), at(0));
    clock.set(at(60));
    await host.app.get(ExpiryJob).sweep();
    await deliveriesSettled(host.app);
    expect(await access.getEntitlement(c, 'prod_pro', at(60))).toMatchObject({
      status: 'expired',
      awaitingPayment: false,
    });
  });

  it('an invoice id two customers share: a payment naming its customer pays only that customer', async () => {
    const [a, b] = ['owner_pay_share_a', 'owner_pay_share_b'];
    await started(period(a, { start: at(0), invoiceId: 'INV-0001' }), at(0));
    await started(period(b, { start: at(0), invoiceId: 'INV-0001' }), at(0));
    clock.set(at(1));
    await send('invoice.paid', { id: 'INV-0001', customerId: a, status: 'paid' }, at(1));
    await deliveriesSettled(host.app);
    expect(await access.hasAccess(a, 'prod_pro', at(2))).toBe(true);
    expect(await access.hasAccess(b, 'prod_pro', at(2))).toBe(false);
    expect(actions(b)).toEqual([]);
    const [unpaid] = await access.getProvisionings(b);
    expect(unpaid.paidAt).toBeNull();
    // B's own payment of its invoice.
    clock.set(at(3));
    await send('invoice.paid', { id: 'INV-0001', customerId: b, status: 'paid' }, at(3));
    await deliveriesSettled(host.app);
    expect(await access.hasAccess(b, 'prod_pro', at(3))).toBe(true);
    expect((await access.getProvisionings(b))[0].paidAt).toEqual(at(3));
    expect((await access.getProvisionings(a))[0].paidAt).toEqual(at(1));
  });

  it('a payment naming a customer who has no provisioning of the invoice pays those it has, and says so', async () => {
    // The Invoice object is not documented: its customerId may be another kind of id.
    const c = 'owner_pay_other_id';
    await started(period(c, { start: at(0), invoiceId: 'INV-0003' }), at(0));
    clock.set(at(1));
    await send('invoice.paid', { id: 'INV-0003', customerId: 'cus_9f2', status: 'paid' }, at(1));
    await deliveriesSettled(host.app);
    expect(await access.hasAccess(c, 'prod_pro', at(1))).toBe(true);
    expect(log.matching(/invoice.paid for INV-0003 names customer cus_9f2/)).toHaveLength(1);
  });

  it('a payment that names no customer pays every provisioning of its invoice id, as before', async () => {
    const [a, b] = ['owner_pay_anon_a', 'owner_pay_anon_b'];
    await started(period(a, { start: at(0), invoiceId: 'INV-0002' }), at(0));
    await started(period(b, { start: at(0), invoiceId: 'INV-0002' }), at(0));
    await paid('INV-0002', at(1));
    expect(await access.hasAccess(a, 'prod_pro', at(1))).toBe(true);
    expect(await access.hasAccess(b, 'prod_pro', at(1))).toBe(true);
  });

  it('a provisioning without an invoice has nothing to wait for', async () => {
    const c = 'owner_pay_none';
    await started(period(c, { start: at(0), invoiceId: null }), at(0));
    expect(await access.hasAccess(c, 'prod_pro', at(0))).toBe(true);
  });

  it('an unpaid renewal lets access end after the grace; its payment brings it back', async () => {
    const c = 'owner_pay_renew';
    const p1 = period(c, { start: at(0) });
    const p2 = period(c, { start: at(30) });
    await paid(p1.invoiceId, at(0));
    await started(p1, at(0));
    await started(p2, at(30));
    clock.set(at(37, SETTLED));
    await host.app.get(ExpiryJob).sweep();
    await deliveriesSettled(host.app);
    expect(await access.hasAccess(c, 'prod_pro', at(37, SETTLED))).toBe(false);
    await paid(p2.invoiceId, at(40));
    expect(await access.hasAccess(c, 'prod_pro', at(40))).toBe(true);
    expect(actions(c)).toEqual(['provision', 'deprovision', 'provision']);
  });
});

/** A user service that honours idempotency keys, and can time out after applying a request. */
const userService = {
  seen: new Map<string, string[]>(),
  users: new Map<string, Set<string>>(),
  timesOut: new Set<string>(),
  keys: [] as { key: string; emails: string[] }[],
};

@Injectable()
class KeyedAdapter implements ProvisioningAdapter {
  private apply(grant: ProvisioningGrant) {
    const emails = grant.orgs.flatMap((org) => org.users.map((user) => String(user.email))).sort();
    userService.keys.push({ key: grant.idempotencyKey, emails });
    if (!userService.seen.has(grant.idempotencyKey)) {
      userService.seen.set(grant.idempotencyKey, emails);
      userService.users.set(grant.customerId, new Set(emails));
    }
    if (userService.timesOut.has(grant.customerId)) {
      throw new Error('the user service timed out (the request was applied)');
    }
  }
  provision(grant: ProvisioningGrant) {
    this.apply(grant);
  }
  update(grant: ProvisioningGrant) {
    this.apply(grant);
  }
  deprovision() {}
}

describe('The adapter’s idempotency keys', () => {
  const clock = new TestClock(T0);
  const host = useTestApp({
    clock,
    aqueduct: {
      secrets: [SECRET],
      provisioningAdapter: KeyedAdapter,
      expiry: { enabled: false },
      dispatch: {
        pollIntervalMs: 50,
        retryBaseDelayMs: 100,
        retryMaxDelayMs: 200,
        maxAttempts: 50,
      },
    },
    imports: [{ module: class KeyedAdapterModule {}, providers: [KeyedAdapter] }],
  });
  const send = (type: string, object: unknown, createdAt: Date) =>
    postAccepted(host.app, envelope(type, object, createdAt), SECRET);

  it('a call retried after the users changed carries a new key: a service that honours keys gets the new users', async () => {
    const c = 'owner_key_per_request';
    userService.timesOut.add(c);
    await send(
      'provisioning.start',
      period(c, { start: at(0), users: [['Ada', 'ada@x.test']] }),
      at(0),
    );
    await waitFor(() => userService.keys.length > 0, 10_000, 'a first provision attempt');
    clock.set(at(1));
    const both: [string, string][] = [
      ['Ada', 'ada@x.test'],
      ['Bob', 'bob@x.test'],
    ];
    await send('provisioning.update', period(c, { start: at(0), users: both }), at(1));
    await waitFor(
      () => userService.keys.some((call) => call.emails.includes('bob@x.test')),
      10_000,
      'an attempt with Bob',
    );
    userService.timesOut.delete(c);
    await deliveriesSettled(host.app);
    expect([...(userService.users.get(c) ?? [])].sort()).toEqual(['ada@x.test', 'bob@x.test']);
    const requestsPerKey = new Map<string, Set<string>>();
    for (const { key, emails } of userService.keys) {
      requestsPerKey.set(key, (requestsPerKey.get(key) ?? new Set()).add(emails.join(',')));
    }
    expect([...requestsPerKey.values()].every((requests) => requests.size === 1)).toBe(true);
  });
});

describe('A payment applied by an instance whose clock is behind the last evaluation', () => {
  const clock = new TestClock(T0);
  const host = useTestApp({
    clock,
    aqueduct: {
      secrets: [SECRET],
      expiry: { enabled: false },
      access: { requirePayment: true },
      dispatch: { pollIntervalMs: 50 },
    },
  });
  const send = (type: string, object: unknown, createdAt: Date) =>
    postAccepted(host.app, envelope(type, object, createdAt), SECRET);

  it('keeps the users of the paid provisioning that grants access at the evaluated moment', async () => {
    const c = 'owner_clock_behind';
    await send(
      'provisioning.start',
      period(c, { start: at(0), invoiceId: null, users: [['Ada', 'ada@x.test']] }),
      at(0),
    );
    clock.set(at(10));
    const later = period(c, {
      start: at(8),
      invoiceId: 'inv_behind',
      subscriptionId: 'sub_b',
      users: [['Bob', 'bob@x.test']],
    });
    await send('provisioning.start', later, at(10));
    await deliveriesSettled(host.app);
    clock.set(at(7)); // this instance's clock is behind the one that evaluated last
    await send('invoice.paid', { id: 'inv_behind', status: 'paid' }, at(7));
    await deliveriesSettled(host.app);
    const entitlement = await host.app
      .get(AqueductAccessService)
      .getEntitlement(c, 'prod_pro', at(10));
    const emails = (entitlement?.orgs ?? []).flatMap((org) => org.users.map((u) => u.email));
    expect(emails.sort()).toEqual(['ada@x.test', 'bob@x.test']);
  });
});

describe('The renewal window with short grace periods and upgrades', () => {
  const clock = new TestClock(T0);
  const host = useTestApp({
    clock,
    aqueduct: {
      secrets: [SECRET],
      provisioningAdapter: RecordingAdapter,
      expiry: { enabled: false },
      dispatch: { pollIntervalMs: 50, retryBaseDelayMs: 50, retryMaxDelayMs: 100 },
      features: { prod_basic: ['reports'], prod_pro: ['reports', 'api'] },
    },
    imports: [recordingAdapterModule()],
  });
  const access = () => host.app.get(AqueductAccessService);
  const send = async (type: string, object: Record<string, unknown>, createdAt: Date) => {
    await postAccepted(host.app, envelope(type, object, createdAt), SECRET);
    await deliveriesSettled(host.app);
  };
  const tick = (moment: Date) => sweepAt(host.app, clock, moment);
  beforeEach(() => clock.set(T0));

  it('a 30-minute grace protects a renewal retried an hour late as well as no grace does', async () => {
    const withGrace = (c: string, start: Date) => {
      const p = period(c, { start, graceDays: null });
      const end = Date.parse(String(p.endDate));
      return { ...p, gracePeriodEndDate: new Date(end + 30 * MINUTE).toISOString() };
    };
    const customers = {
      owner_short_grace: (start: Date) => withGrace('owner_short_grace', start),
      owner_no_grace_ref: (start: Date) => period('owner_no_grace_ref', { start, graceDays: null }),
    };
    for (const make of Object.values(customers)) {
      await send('provisioning.start', make(at(0)), at(0));
    }
    clock.set(at(30));
    for (const make of Object.values(customers)) {
      await send('provisioning.end', make(at(0)), at(30));
    }
    const seen: Record<string, boolean[]> = { owner_short_grace: [], owner_no_grace_ref: [] };
    for (let minute = 0; minute <= 60; minute += 15) {
      await tick(at(30, minute));
      for (const c of Object.keys(customers)) {
        seen[c].push(await access().hasAccess(c, 'prod_pro', at(30, minute)));
      }
    }
    clock.set(at(30, 61)); // Aqueduct's first retry brings both renewals' starts
    for (const make of Object.values(customers)) {
      await send('provisioning.start', make(at(30)), at(30));
    }
    await tick(at(30, 62 + SETTLED));
    expect(seen).toEqual({
      owner_short_grace: [true, true, true, true, true],
      owner_no_grace_ref: [true, true, true, true, true],
    });
    for (const c of Object.keys(customers)) {
      expect(actions(c)).toEqual(['provision']);
    }
  });

  it('an upgrade without grace counts the one user once while the old product is held', async () => {
    const c = 'owner_upgrade_seats';
    const basic = period(c, { start: at(0), productId: 'prod_basic' });
    await send('provisioning.start', basic, at(0));
    clock.set(at(15));
    // The README's upgrade: basic ends early (its grace with it), pro starts.
    await send(
      'provisioning.end',
      { ...basic, endDate: at(15).toISOString(), gracePeriodEndDate: at(15).toISOString() },
      at(15),
    );
    await send('provisioning.start', period(c, { start: at(15), productId: 'prod_pro' }), at(15));
    const moment = at(15, 10);
    expect(await access().hasAccess(c, 'prod_basic', moment)).toBe(true); // held until its deprovision
    const features = await access().getFeatures(c, moment);
    const reports = await access().check(c, { feature: 'reports' }, moment);
    expect({ features: features.seats, reports: reports.seats }).toEqual({
      features: 1,
      reports: 1,
    });
    // Only the held product grants it: its seats count (a renewal may still come).
    expect((await access().check(c, { product: 'prod_basic' }, moment)).seats).toBe(1);
  });
});

describe('The "access ended" mail when the mailing instance’s clock is a moment behind', () => {
  const clocks = [new TestClock(T0), new TestClock(T0)];
  const smtp = new TestSmtpServer();
  // Instance 0 sweeps and dispatches nothing; instance 1 runs every delivery: ledger, adapter, mail.
  const host = useTestApp(
    (instance) => ({
      clock: clocks[instance],
      aqueduct: {
        secrets: [SECRET],
        provisioningAdapter: RecordingAdapter,
        expiry: { enabled: false },
        dispatch:
          instance === 0
            ? { enabled: false }
            : { pollIntervalMs: 50, retryBaseDelayMs: 50, retryMaxDelayMs: 100 },
        email: { transport: smtp.transport, from: 'Billing <billing@acme.test>' },
      },
      imports: [recordingAdapterModule()],
    }),
    { instances: 2, servers: [smtp] },
  );
  const setBoth = (moment: Date) => clocks.forEach((clock) => clock.set(moment));
  const settled = () => deliveriesSettled(host.instances[1]);
  const send = (type: string, object: unknown, createdAt: Date) =>
    postAccepted(host.instances[0], envelope(type, object, createdAt), SECRET);

  it('a genuine end without grace is mailed though the mailer runs 200 ms behind the sweeper', async () => {
    const c = 'owner_skew';
    const p = period(c, { start: at(0), graceDays: null });
    setBoth(at(0));
    await send('provisioning.start', p, at(0));
    await settled();
    setBoth(at(30));
    await send('provisioning.end', p, at(30));
    await settled();
    // The cron fires on the minute the loss settles; the mailer's clock is 200 ms behind (NTP).
    clocks[0].set(new Date(at(30, SETTLED - 1).getTime() + 100));
    clocks[1].set(new Date(at(30, SETTLED - 1).getTime() - 100));
    await host.instances[0].get(ExpiryJob).sweep();
    await settled();
    expect(actions(c)).toEqual(['provision', 'deprovision']);
    const subjects = smtp.received
      .filter((mail) => mail.to.some((to) => to.endsWith(`@${domainOf(c)}`)))
      .map((mail) => mail.subject);
    expect(subjects).toEqual([
      'Your access to prod_pro has started',
      'Your access to prod_pro has ended',
    ]);
  });
});
