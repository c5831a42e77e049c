/**
 * Where a subscription's events leave something out or say it loosely: what the paying customer
 * keeps, what the adapter and the mails are told. Real Postgres, real HTTP, real SMTP.
 */
import { AqueductAccessService } from 'nestjs-aqueduct';
import { DataSource } from 'typeorm';
import { postAccepted } from './support/post';
import { TestSmtpServer } from './support/smtp';
import {
  deliveriesSettled,
  domainOf,
  envelope,
  mailSubjects,
  period,
  sweepAt,
  subscriptionApp,
} from './support/subscription';
import { TestClock, T0, at } from './support/test-clock';
import { adapterActions, adapterCalls } from './support/recording-adapter';
import { LogCapture } from './support/log-capture';
import { useTestApp } from './support/use-test-app';

const SECRET = 'subscription-edges-secret';

const actions = adapterActions;

describe('An end that leaves out the grace period the start announced', () => {
  let access: AqueductAccessService;
  const clock = new TestClock(T0);
  const smtp = new TestSmtpServer();
  const host = useTestApp(() => subscriptionApp({ secret: SECRET, clock, smtp }), {
    servers: [smtp],
  });
  beforeAll(() => {
    access = host.app.get(AqueductAccessService);
  });
  const send = async (type: string, object: unknown, moment: Date) => {
    clock.set(moment);
    await postAccepted(host.app, envelope(type, object, moment), SECRET);
    await deliveriesSettled(host.app);
  };
  const mails = (customerId: string) => mailSubjects(smtp, customerId);

  it('keeps the 7-day grace when provisioning.end omits gracePeriodEndDate (as it keeps omitted orgs)', async () => {
    const c = 'owner_grace_omitted';
    const p = period(c, { start: at(0) }); // paid 30 days, grace until day 37
    await send('provisioning.start', p, at(0));
    const { gracePeriodEndDate: _omitted, ...endObject } = p;
    await send('provisioning.end', endObject, at(30));
    await sweepAt(host.app, clock, at(30, 80));
    await sweepAt(host.app, clock, at(31));

    // The customer is in the grace period the start announced: access until day 37, told so.
    expect({
      hasAccess: await access.hasAccess(c, 'prod_pro', at(31)),
      adapter: actions(c),
      mails: mails(c),
    }).toEqual({
      hasAccess: true,
      adapter: ['provision'],
      mails: ['Your access to prod_pro has started', 'Your paid period for prod_pro has ended'],
    });
  });
  it("the guide's layout (grace inside provisioningOrgs) with an end that names no orgs: the grace survives", async () => {
    // The start as the guide draws it: the contract dates and gracePeriodEndDate inside the
    // provisioningOrgs braces (hoisted by normaliseProvisioning). The end names no orgs, a case
    // the module supports on purpose ("an end that names no orgs keeps the users through the
    // grace period"), so it names no grace either.
    const c = 'owner_grace_nested';
    const p = period(c, { start: at(0) });
    const { gracePeriodEndDate, contractStartDate, contractEndDate, provisioningOrgs, ...rest } = p;
    const start = {
      ...rest,
      provisioningOrgs: {
        ...(provisioningOrgs as Record<string, unknown>),
        contractStartDate,
        contractEndDate,
        gracePeriodEndDate,
      },
    };
    await send('provisioning.start', start, at(0));
    expect(await access.hasAccess(c, 'prod_pro', at(36))).toBe(true); // grace read from the start
    await send('provisioning.end', rest, at(30));
    await sweepAt(host.app, clock, at(30, 80));
    await sweepAt(host.app, clock, at(31));
    expect({
      hasAccess: await access.hasAccess(c, 'prod_pro', at(31)),
      adapter: actions(c),
      mails: mails(c),
    }).toEqual({
      hasAccess: true,
      adapter: ['provision'],
      mails: ['Your access to prod_pro has started', 'Your paid period for prod_pro has ended'],
    });
  });

  it('an early end that leaves out the grace keeps its length from the new end; an explicit null removes it', async () => {
    const early = 'owner_grace_early_end';
    const p = period(early, { start: at(0) }); // paid 30 days, grace 7 more
    await send('provisioning.start', p, at(0));
    const { gracePeriodEndDate: _omitted, ...endObject } = p;
    await send('provisioning.end', { ...endObject, endDate: at(10) }, at(10));
    expect(await access.hasAccess(early, 'prod_pro', at(16, 23 * 60))).toBe(true);
    expect(await access.hasAccess(early, 'prod_pro', at(17, 1))).toBe(false);

    const none = 'owner_grace_removed';
    const q = period(none, { start: at(0) });
    await send('provisioning.start', q, at(0));
    await send('provisioning.end', { ...q, gracePeriodEndDate: null }, at(30));
    expect(await access.hasAccess(none, 'prod_pro', at(31))).toBe(false);
  });

  it('the same early end arriving before its start (retried 6 hours late): the start still gives the grace and the users', async () => {
    // Our endpoint missed the start; Aqueduct retries it after the cancellation's end, which left
    // out the grace period and the orgs. Applied in the other order, the customer would keep the
    // users' access until day 17 (the end keeps what it leaves out): the order must not matter.
    const c = 'owner_grace_end_first';
    const p = period(c, { start: at(0) }); // paid 30 days, grace 7 more
    const { gracePeriodEndDate: _grace, provisioningOrgs: _orgs, ...endObject } = p;
    await send('provisioning.end', { ...endObject, endDate: at(10).toISOString() }, at(10));
    // Access ended with the paid period (and the settling time after it, 75 minutes).
    expect(await access.hasAccess(c, 'prod_pro', at(10, 80))).toBe(false);

    clock.set(at(10, 6 * 60));
    await postAccepted(host.app, envelope('provisioning.start', p, at(0)), SECRET);
    await deliveriesSettled(host.app);
    const entitlement = await access.getEntitlement(c, 'prod_pro', at(10, 6 * 60));
    expect({
      hasAccess: entitlement?.hasAccess,
      status: entitlement?.status,
      accessUntil: entitlement?.accessUntil,
      provisioned: adapterCalls
        .filter((call) => call.customerId === c)
        .map(({ action, emails }) => ({ action, emails })),
    }).toEqual({
      hasAccess: true,
      status: 'grace',
      accessUntil: at(17),
      provisioned: [{ action: 'provision', emails: [`ada@${domainOf(c)}`] }],
    });
    await sweepAt(host.app, clock, at(17, 1));
    await sweepAt(host.app, clock, at(17, 90)); // the loss has held for settleMs
    expect(actions(c)).toEqual(['provision', 'deprovision']);
  });

  it('an older event that names the grace does not override a newer one that named it too', async () => {
    const c = 'owner_grace_newer_named';
    const p = period(c, { start: at(0) }); // grace 7 days
    await send(
      'provisioning.end',
      { ...p, endDate: at(10).toISOString(), gracePeriodEndDate: null },
      at(10),
    );
    clock.set(at(10, 100));
    await postAccepted(host.app, envelope('provisioning.start', p, at(0)), SECRET);
    await deliveriesSettled(host.app);
    expect(await access.hasAccess(c, 'prod_pro', at(10, 101))).toBe(false);
  });

  it('a provisioning stored before omissions were tracked is never filled in by an older event', async () => {
    const c = 'owner_grace_row_from_0_5';
    const p = period(c, { start: at(0) });
    const { gracePeriodEndDate: _grace, ...endObject } = p;
    await send('provisioning.end', { ...endObject, endDate: at(10).toISOString() }, at(10));
    // As 0.5 left its rows: nothing says what their events left out.
    await host.app
      .get(DataSource)
      .query(
        `UPDATE aqueduct_provisionings SET grace_named_at = NULL, orgs_named_at = NULL WHERE customer_id = $1`,
        [c],
      );
    clock.set(at(10, 100));
    await postAccepted(host.app, envelope('provisioning.start', p, at(0)), SECRET);
    await deliveriesSettled(host.app);
    expect(await access.hasAccess(c, 'prod_pro', at(10, 101))).toBe(false);
  });
});

describe('Periods given as dates alone (Jan 1 – Jan 31, then Feb 1 – Feb 28)', () => {
  let access: AqueductAccessService;
  const clock = new TestClock(T0);
  const smtp = new TestSmtpServer();
  const host = useTestApp(() => subscriptionApp({ secret: SECRET, clock, smtp }), {
    servers: [smtp],
  });
  beforeAll(() => {
    access = host.app.get(AqueductAccessService);
  });
  const send = async (type: string, object: unknown, moment: Date) => {
    clock.set(moment);
    await postAccepted(host.app, envelope(type, object, moment), SECRET);
    await deliveriesSettled(host.app);
  };
  const mails = (customerId: string) => mailSubjects(smtp, customerId);
  const monthly = (c: string, start: string, end: string, invoiceId: string) => ({
    customerId: c,
    productId: 'prod_pro',
    startDate: start,
    endDate: end,
    contractStartDate: start,
    contractEndDate: end,
    gracePeriodEndDate: end,
    invoiceId,
    subscriptionId: `sub_${c}`,
    metadata: {},
    provisioningOrgs: { name: 'Acme', users: [{ name: 'Ada', email: `ada@${domainOf(c)}` }] },
  });

  it('a monthly renewal given as date-only service periods: the paying customer keeps access on Jan 31', async () => {
    const c = 'owner_date_only';
    await send('provisioning.start', monthly(c, '2026-01-01', '2026-01-31', 'inv_jan'), T0);
    const jan31 = new Date('2026-01-31T00:00:00Z');
    const feb1 = new Date('2026-02-01T00:00:00Z');
    await send('provisioning.end', monthly(c, '2026-01-01', '2026-01-31', 'inv_jan'), jan31);
    await sweepAt(host.app, clock, new Date('2026-01-31T12:00:00Z'));
    // Jan 31 is a day the customer paid for (service period Jan 1 – Jan 31).
    const noon = await access.hasAccess(c, 'prod_pro', new Date('2026-01-31T12:00:00Z'));
    await send('provisioning.start', monthly(c, '2026-02-01', '2026-02-28', 'inv_feb'), feb1);
    await sweepAt(host.app, clock, new Date('2026-02-01T12:00:00Z'));
    expect({ noon, actions: actions(c), mails: mails(c) }).toEqual({
      noon: true,
      actions: ['provision'],
      mails: ['Your access to prod_pro has started'],
    });
  });
});

describe('An event older than the last one applied to its provisioning', () => {
  const clock = new TestClock(T0);
  const log = new LogCapture();
  const host = useTestApp(() => ({ ...subscriptionApp({ secret: SECRET, clock }), logger: log }));

  it('changes nothing, and says so in the log (the newest event wins)', async () => {
    const c = 'owner_older_end';
    const p = period(c, { start: at(0) });
    await postAccepted(host.app, envelope('provisioning.start', p, at(0, 10)), SECRET);
    // An end created before the start that was applied: stale (a test's data, a sender's mix-up).
    const end = await postAccepted(host.app, envelope('provisioning.end', p, at(0, 5)), SECRET);
    await deliveriesSettled(host.app);
    expect(actions(c)).toEqual(['provision']);
    expect(log.matching(new RegExp(`provisioning\\.end ${end} changed nothing`))).toHaveLength(1);
  });
});
