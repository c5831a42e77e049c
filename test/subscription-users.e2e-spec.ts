/**
 * The users a product's access keeps while its subscriptions renew: the adapter and the mails
 * follow the people who are paid for, and nobody is removed while a renewal may still arrive.
 * Real Postgres, real HTTP, real SMTP.
 */
import { AqueductAccessService } from 'nestjs-aqueduct';
import { postAccepted } from './support/post';
import { TestSmtpServer } from './support/smtp';
import {
  deliveriesSettled,
  domainOf,
  envelope,
  period,
  sweepAt,
  subscriptionApp,
  twoSubscriptions,
} from './support/subscription';
import { TestClock, T0, at } from './support/test-clock';
import { adapterCalls } from './support/recording-adapter';
import { useTestApp } from './support/use-test-app';

const SECRET = 'subscription-users-secret';
/** Minutes after a paid end by which the default renewal window (75 min) has closed. */
const SETTLED = 76;

describe('Users while another subscription keeps the product', () => {
  let access: AqueductAccessService;
  const clock = new TestClock(T0);
  const smtp = new TestSmtpServer();
  const host = useTestApp(() => subscriptionApp({ secret: SECRET, clock, smtp }), {
    servers: [smtp],
  });
  beforeAll(() => {
    access = host.app.get(AqueductAccessService);
  });
  beforeEach(() => clock.set(T0));

  const send = async (type: string, object: Record<string, unknown>, createdAt: Date) => {
    await postAccepted(host.app, envelope(type, object, createdAt), SECRET);
    await deliveriesSettled(host.app);
  };
  const tick = (moment: Date) => sweepAt(host.app, clock, moment);
  const calls = (c: string, productId = 'prod_pro') =>
    adapterCalls
      .filter((call) => call.customerId === c && call.productId === productId)
      .map((call) => `${call.action}:${[...call.emails].sort().join(',')}`);
  const mailsTo = (email: string) =>
    smtp.received.filter((mail) => mail.to.includes(email)).map((mail) => mail.subject);
  /** `twoSubscriptions`, both started. */
  const twoStarted = async (c: string, teamA: [string, string][], teamB: [string, string][]) => {
    const { a1, a2, b1 } = twoSubscriptions(c, teamA, teamB);
    await send('provisioning.start', a1, at(0));
    await send('provisioning.start', b1, at(0));
    return { a1, a2 };
  };

  // A customer holds two subscriptions of the same product (two teams, two billing cycles).
  // Team A's subscription renews without a grace period: Aqueduct fires period 1's end and period
  // 2's start at the same moment, the end a minute first. The renewal window holds Team A's users
  // as it holds a renewing customer's access: they were removed from the host (adapter.update)
  // and added back a minute later, with a second "Your access has started" mail.
  it('two subscriptions of one product, one renews (end a minute before start): its users are never removed', async () => {
    const c = 'owner_two_subs';
    const d = domainOf(c);
    const teamA: [string, string][] = [
      ['Ada', `ada@${d}`],
      ['Bob', `bob@${d}`],
    ];
    const { a1, a2 } = await twoStarted(c, teamA, [['Cy', `cy@${d}`]]);
    clock.set(at(30));
    await send('provisioning.end', a1, at(30));
    clock.set(at(30, 1));
    await send('provisioning.start', a2, at(30));
    await tick(at(30, SETTLED));
    for (const minute of [0, 1, 2, SETTLED]) {
      expect(await access.hasAccess(c, 'prod_pro', at(30, minute))).toBe(true);
    }
    // What the host was told: Team A and Team B provisioned once, nobody removed, nobody re-welcomed.
    expect({ calls: calls(c), adaMails: mailsTo(`ada@${d}`) }).toEqual({
      calls: [`provision:ada@${d},bob@${d}`, `update:ada@${d},bob@${d},cy@${d}`],
      adaMails: ['Your access to prod_pro has started'],
    });
  });
  // The order Aqueduct cannot control: the expiry job's cron runs on the minute, at the very
  // moment period 1 ends, seconds before Aqueduct's two events arrive (here: the start first).
  it('the same when the expiry job runs at the end moment, before the renewal start arrives', async () => {
    const c = 'owner_two_subs_cron';
    const d = domainOf(c);
    const teamA: [string, string][] = [['Ada', `ada@${d}`]];
    const { a1, a2 } = await twoStarted(c, teamA, [['Cy', `cy@${d}`]]);
    await tick(at(30)); // the cron, on the minute
    clock.set(new Date(at(30).getTime() + 5_000));
    await send('provisioning.start', a2, at(30));
    await send('provisioning.end', a1, at(30));
    await tick(at(30, SETTLED));
    expect(calls(c)).toEqual([`provision:ada@${d}`, `update:ada@${d},cy@${d}`]);
  });
  it('a subscription that does not renew: its users leave once its renewal window has closed, once', async () => {
    const c = 'owner_two_subs_leaving';
    const d = domainOf(c);
    const { a1 } = await twoStarted(c, [['Ada', `ada@${d}`]], [['Cy', `cy@${d}`]]);
    clock.set(at(30));
    await send('provisioning.end', a1, at(30));
    await tick(at(30, 30));
    expect(calls(c)).toEqual([`provision:ada@${d}`, `update:ada@${d},cy@${d}`]);
    await tick(at(30, SETTLED));
    await tick(at(31));
    expect(calls(c)).toEqual([`provision:ada@${d}`, `update:ada@${d},cy@${d}`, `update:cy@${d}`]);
    expect(await access.hasAccess(c, 'prod_pro', at(31))).toBe(true);
  });
  // The renewal lists the same two users in another order (Aqueduct promises no order): the
  // adapter was called to update to exactly the users it already had.
  it('a renewal listing the same users in another order calls no update', async () => {
    const c = 'owner_user_order';
    const d = domainOf(c);
    const ada: [string, string] = ['Ada', `ada@${d}`];
    const bob: [string, string] = ['Bob', `bob@${d}`];
    await send('provisioning.start', period(c, { start: at(0), users: [ada, bob] }), at(0));
    clock.set(at(30));
    await send('provisioning.start', period(c, { start: at(30), users: [bob, ada] }), at(30));
    await send('provisioning.end', period(c, { start: at(0), users: [ada, bob] }), at(30));
    await tick(at(37, SETTLED));
    expect(adapterCalls.filter((call) => call.customerId === c).map((call) => call.action)).toEqual(
      ['provision'],
    );
  });
});
