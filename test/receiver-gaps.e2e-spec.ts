/**
 * A renewal's start that Aqueduct could not deliver because the receiver was down (every instance
 * stopped, or Postgres unreachable) comes back only with Aqueduct's next retry: 1 hour after the
 * paid period's end, then 7, 19 and 43 hours after it. The receiver records its own gaps, and the
 * renewal window stretches over the attempts a gap swallowed, so a paying customer is neither
 * refused, deprovisioned nor told that anything ended. Real Postgres, real HTTP, real SMTP.
 */
import type { INestApplication } from '@nestjs/common';
import { AqueductAccessService, ExpiryJob } from 'nestjs-aqueduct';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { AccessCache } from '../libs/aqueduct/src/access/access-cache';
import { GAP_AFTER_MS, ReceiverUptime } from '../libs/aqueduct/src/access/receiver-uptime';
import { beat } from '../libs/aqueduct/src/access/receiver-uptime.sql';
import { createTestApp } from './support/app';
import { runCli } from './support/cli';
import { postAccepted } from './support/post';
import { adapterActions } from './support/recording-adapter';
import { TestSmtpServer } from './support/smtp';
import {
  deliveriesSettled,
  envelope,
  mailSubjects,
  period,
  sweepAt,
  subscriptionApp,
} from './support/subscription';
import { TcpProxy } from './support/tcp-proxy';
import { DAY, TestClock } from './support/test-clock';
import { useTestDatabase } from './support/use-test-database';
import { waitFor } from './support/wait';

const SECRET = 'receiver-gaps-secret';
const T0 = new Date('2026-01-01T09:30:00Z');
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
/** The first period's paid end: period 2's start and period 1's end fire then. */
const END = new Date(T0.getTime() + 30 * DAY);
const after = (ms: number) => new Date(END.getTime() + ms);
/** A Date at most a minute after `moment`: a gap lasts as long as it really did, test steps included. */
const closeTo = (moment: Date) => ({
  asymmetricMatch: (actual: Date) =>
    actual.getTime() >= moment.getTime() && actual.getTime() - moment.getTime() < MINUTE,
  toString: () => `a moment within a minute after ${moment.toISOString()}`,
});

describe('Renewal windows across an outage of the receiver', () => {
  const db = useTestDatabase();
  const clock = new TestClock(T0);
  const smtp = new TestSmtpServer();
  let proxy: TcpProxy;
  let app: INestApplication | undefined;

  beforeAll(async () => {
    await smtp.start();
    proxy = TcpProxy.inFrontOf(db.url);
    await proxy.start();
  });
  afterEach(async () => {
    if (!proxy.listening) {
      await proxy.start(proxy.port); // a test that failed while Postgres was cut
    }
    await app?.close();
    app = undefined;
  });
  afterAll(async () => {
    await proxy.stop();
    await smtp.stop();
  });

  const appOptions = () => ({
    databaseUrl: proxy.routed(db.url),
    ...subscriptionApp({ secret: SECRET, clock, smtp }),
  });
  const boot = async () => {
    app = await createTestApp(appOptions());
    return app;
  };
  /** Holds the heartbeat row's lock (a stuck session): only the beat waits, every other statement runs. */
  const lockHeartbeat = async () => {
    const holder = new Client({ connectionString: db.url });
    await holder.connect();
    await holder.query('BEGIN');
    await holder.query('SELECT * FROM aqueduct_receiver_heartbeat WHERE id = 1 FOR UPDATE');
    return holder;
  };
  const send = async (type: string, object: unknown, moment: Date) => {
    clock.set(moment);
    await postAccepted(app!, envelope(type, object, moment), SECRET);
    await deliveriesSettled(app!);
  };
  const mails = (customerId: string) => mailSubjects(smtp, customerId);
  const state = async (customerId: string) => ({
    hasAccess: await app!.get(AqueductAccessService).hasAccess(customerId, 'prod_pro', clock.now()),
    adapter: adapterActions(customerId),
    mails: mails(customerId),
  });
  /**
   * Moves the last beat back by `ms` on Postgres's clock, straight to the database (not through
   * the proxy): as if that much real time had passed since it.
   */
  const ageHeartbeat = async (ms: number) => {
    const client = new Client({ connectionString: db.url });
    await client.connect();
    try {
      await client.query(
        `UPDATE aqueduct_receiver_heartbeat SET beat_at = beat_at - $1 * interval '1 millisecond'`,
        [ms],
      );
    } finally {
      await client.end();
    }
  };
  /**
   * Boots, starts `customerId`'s trial (30 days from day `startDay`, no grace: only the renewal
   * window holds access after it), and beats 5 minutes before its end, the last beat before the
   * outage. Returns the moment `ms` after the end.
   */
  const trialBeatenBeforeEnd = async (customerId: string, startDay: number) => {
    const start = new Date(T0.getTime() + startDay * DAY);
    const end = new Date(start.getTime() + 30 * DAY);
    clock.set(start);
    await boot();
    await send('provisioning.start', period(customerId, { start, graceDays: null }), start);
    clock.set(new Date(end.getTime() - 5 * MINUTE));
    await app!.get(ReceiverUptime).refresh();
    return (ms: number) => new Date(end.getTime() + ms);
  };
  /** Cuts Postgres off the app until `moment`: its beat there fails, that long really passed. */
  const cutPostgresUntil = async (moment: Date, lastBeat: Date) => {
    await proxy.stop();
    clock.set(moment);
    await expect(app!.get(ReceiverUptime).refresh()).rejects.toThrow();
    await ageHeartbeat(moment.getTime() - lastBeat.getTime());
  };
  const gaps = async () =>
    (
      await app!
        .get(DataSource)
        .query(`SELECT from_at, until_at FROM aqueduct_receiver_gaps ORDER BY from_at`)
    ).map((g: { from_at: Date; until_at: Date }) => [g.from_at, g.until_at]);

  it('every instance down from before the renewal to past the first retry: access holds until the second retry brings the start', async () => {
    const renewing = 'owner_gap_renewing';
    const leaving = 'owner_gap_leaving';
    await boot();
    // Trials: no grace after the paid period, so only the renewal window holds access.
    for (const c of [renewing, leaving]) {
      await send('provisioning.start', period(c, { start: T0, graceDays: null }), T0);
    }
    // The last beat before the outage, then every instance stops.
    clock.set(after(-10 * MINUTE));
    await app!.get(ReceiverUptime).refresh();
    await app!.close();
    app = undefined;
    await ageHeartbeat(3 * HOUR + 10 * MINUTE);

    // Back 3 hours after the end: Aqueduct's attempt at the end and its first retry were refused.
    clock.set(after(3 * HOUR));
    await boot();
    // From the last beat, for as long as it really lasted (the seconds this test took, too).
    expect(await gaps()).toEqual([[after(-10 * MINUTE), closeTo(after(3 * HOUR))]]);
    await sweepAt(app!, clock, after(3 * HOUR));
    const held = {
      hasAccess: true,
      adapter: ['provision'],
      mails: ['Your access to prod_pro has started'],
    };
    expect(await state(renewing)).toEqual(held);
    expect(await state(leaving)).toEqual(held);
    await sweepAt(app!, clock, after(7 * HOUR - MINUTE));
    expect(await state(renewing)).toEqual(held);

    // The second retry brings period 2's start (and period 1's end): renewed, nothing ended.
    const next = period(renewing, { start: END, graceDays: null });
    await send('provisioning.start', next, after(7 * HOUR));
    await send(
      'provisioning.end',
      period(renewing, { start: T0, graceDays: null }),
      after(7 * HOUR),
    );

    // The customer who left loses access once that retry has passed, and only then.
    await sweepAt(app!, clock, after(7 * HOUR + 14 * MINUTE));
    expect((await state(leaving)).adapter).toEqual(['provision']);
    await sweepAt(app!, clock, after(7 * HOUR + 16 * MINUTE));
    expect(await state(leaving)).toEqual({
      hasAccess: false,
      adapter: ['provision', 'deprovision'],
      mails: ['Your access to prod_pro has started', 'Your access to prod_pro has ended'],
    });
    await sweepAt(app!, clock, after(2 * DAY));
    expect(await state(renewing)).toEqual(held);

    // The CLI reads the same record: it says what the app says.
    const check = async (moment: Date) => {
      const cli = await runCli(
        ['access', 'check', leaving, 'prod_pro', '--at', moment.toISOString(), '--json'],
        { DATABASE_URL: db.url },
      );
      return JSON.parse(cli.stdout);
    };
    expect(await check(after(5 * HOUR))).toMatchObject({ hasAccess: true, status: 'grace' });
    // `access show` says why: the window after the end, stretched by the gap.
    const shown = await runCli(['access', 'show', leaving, '--at', after(5 * HOUR).toISOString()], {
      DATABASE_URL: db.url,
    });
    expect(shown.stdout).toMatch(/window \(gap\)\s+<- now/);
    expect(await check(after(8 * HOUR))).toMatchObject({
      hasAccess: false,
      until: after(7 * HOUR + 15 * MINUTE).toISOString(),
    });
  });

  it('an instance that stays up through a Postgres outage records it, and its cached checks stretch too', async () => {
    const c = 'owner_gap_cached';
    const past = await trialBeatenBeforeEnd(c, 60);
    const access = app!.get(AqueductAccessService);
    expect(await access.hasAccess(c, 'prod_pro', past(2 * HOUR))).toBe(false); // cached

    // Postgres unreachable from before the end to past the first retry; the app stays up.
    await cutPostgresUntil(past(2 * HOUR), past(-5 * MINUTE));
    await proxy.start(proxy.port);
    await app!.get(ReceiverUptime).refresh();
    expect(await gaps()).toContainEqual([past(-5 * MINUTE), closeTo(past(2 * HOUR))]);

    expect(await access.hasAccess(c, 'prod_pro', past(2 * HOUR))).toBe(true);
    await sweepAt(app!, clock, past(2 * HOUR));
    expect(await state(c)).toMatchObject({ hasAccess: true, adapter: ['provision'] });
  });

  it('while Postgres is out of reach for longer than a gap, checks from memory hold a window the outage would stretch', async () => {
    const c = 'owner_gap_during';
    const earlier = 'owner_gap_earlier'; // its window closed before the outage began
    const past = await trialBeatenBeforeEnd(c, 120);
    const start = past(-30 * DAY);
    const shorter = period(earlier, { start, graceDays: null });
    shorter.endDate = past(-3 * HOUR).toISOString();
    shorter.contractEndDate = shorter.endDate;
    await send('provisioning.start', shorter, start);
    clock.set(past(-5 * MINUTE));
    const access = app!.get(AqueductAccessService);
    expect(await access.hasAccess(c, 'prod_pro', past(2 * HOUR))).toBe(false); // cached
    expect(await access.hasAccess(earlier, 'prod_pro', past(2 * HOUR))).toBe(false);

    await proxy.stop();
    try {
      clock.set(past(2 * HOUR));
      await expect(app!.get(ReceiverUptime).refresh()).rejects.toThrow();
      // Once the entry is no longer trusted (the notification connection is gone), the answer
      // comes from memory, stale, and the first retry (an hour after the end) fell in the outage.
      await waitFor(
        async () => (await access.check(c, { product: 'prod_pro' })).source === 'stale',
        10_000,
        'answers from memory',
      );
      expect(await access.check(c, { product: 'prod_pro' })).toMatchObject({
        allowed: true,
        stale: true,
        changesAt: past(7 * HOUR + 15 * MINUTE),
      });
      expect(await access.hasAccess(earlier, 'prod_pro')).toBe(false);
    } finally {
      await proxy.start(proxy.port);
    }
  });

  it('right after Postgres comes back, a check read from it still holds the window, before the next beat records the outage', async () => {
    const c = 'owner_gap_after';
    const past = await trialBeatenBeforeEnd(c, 250);
    const access = app!.get(AqueductAccessService);
    expect(await access.hasAccess(c, 'prod_pro', past(2 * HOUR))).toBe(false); // cached

    await cutPostgresUntil(past(2 * HOUR), past(-5 * MINUTE));
    await waitFor(
      async () => (await access.check(c, { product: 'prod_pro' })).source === 'stale',
      10_000,
      'answers from memory',
    );
    await proxy.start(proxy.port);
    await waitFor(
      async () => (await access.check(c, { product: 'prod_pro' })).source !== 'stale',
      10_000,
      'answers from Postgres again',
    );
    const beforeBeat = (await access.check(c, { product: 'prod_pro' })).allowed;
    await app!.get(ReceiverUptime).refresh(); // what the timer does, up to 30 s later
    const afterBeat = (await access.check(c, { product: 'prod_pro' })).allowed;
    expect({ beforeBeat, afterBeat }).toEqual({ beforeBeat: true, afterBeat: true });
  });

  it('two instances beating at once after an outage: the one that waited learns the gap the other recorded, and its sweep holds the customer', async () => {
    const c = 'owner_gap_race';
    const past = await trialBeatenBeforeEnd(c, 300);
    // Postgres unreachable for every instance from before the end to past the first retry.
    await cutPostgresUntil(past(2 * HOUR), past(-5 * MINUTE));
    await proxy.start(proxy.port);

    // Postgres back: another instance beats (its transaction still open) while this one's sweep
    // (every instance's cron fires at the same tick) beats first, waiting on the row lock.
    const other = new Client({ connectionString: db.url });
    await other.connect();
    try {
      await other.query('BEGIN');
      // Its beat, in the transaction left open (the library's runs in one of its own).
      const inOpenTransaction = {
        query: async (sql: string, params: unknown[]) => (await other.query(sql, params)).rows,
      };
      const asDataSource = {
        transaction: (work: (manager: unknown) => unknown) => work(inOpenTransaction),
      } as unknown as DataSource;
      expect(await beat(asDataSource, past(2 * HOUR), GAP_AFTER_MS, new Date(0))).not.toBeNull();
      const sweep = app!.get(ExpiryJob).sweep();
      await new Promise((resolve) => setTimeout(resolve, 500));
      await other.query('COMMIT');
      await sweep;
      await deliveriesSettled(app!);
    } finally {
      await other.end();
    }
    expect(app!.get(ReceiverUptime).known().gaps).toContainEqual(past(-5 * MINUTE).getTime());
    expect(await state(c)).toMatchObject({ hasAccess: true, adapter: ['provision'] });
  });

  it('the CLI counts an outage of every receiver still going on, as the ledger does', async () => {
    const c = 'owner_gap_cli_now';
    const end = new Date(Date.now() - 3 * HOUR); // the paid period ended 3 h ago, by the real clock
    const start = new Date(end.getTime() - 30 * DAY);
    clock.set(start);
    await boot();
    await send('provisioning.start', period(c, { start, graceDays: null }), start);
    // The last beat before every receiver stopped: 10 minutes before the end.
    clock.set(new Date(end.getTime() - 10 * MINUTE));
    await app!.get(ReceiverUptime).refresh();
    await app!.close();
    app = undefined;
    await ageHeartbeat(3 * HOUR + 10 * MINUTE);
    const cli = await runCli(['access', 'check', c, 'prod_pro', '--json'], {
      DATABASE_URL: db.url,
    });
    expect(JSON.parse(cli.stdout)).toMatchObject({ hasAccess: true, status: 'grace' });
  });

  it('an instance whose own Postgres was cut, while another beat throughout, drops the windows it read during the cut once it is over', async () => {
    const c = 'owner_gap_own_cut';
    const past = await trialBeatenBeforeEnd(c, 280);
    const a = app!;
    const access = a.get(AqueductAccessService);
    expect(await access.hasAccess(c, 'prod_pro', past(2 * HOUR))).toBe(false);
    // A loses Postgres; its beats fail, 2 hours by the module's clock.
    await proxy.stop();
    clock.set(past(2 * HOUR));
    await expect(a.get(ReceiverUptime).refresh()).rejects.toThrow();
    // B reaches Postgres throughout, beats and sweeps: the window closed 75 min after the end.
    const b = await createTestApp({ ...appOptions(), databaseUrl: db.url });
    try {
      await sweepAt(b, clock, past(2 * HOUR));
      expect(adapterActions(c)).toEqual(['provision', 'deprovision']);
      // A reaches Postgres again; a check reads the row before A's next beat, with A's outage.
      await proxy.start(proxy.port);
      await waitFor(
        async () => a.get(AccessCache).state().notifications === 'listening',
        15_000,
        'A listening again',
      );
      expect((await access.check(c, { product: 'prod_pro' })).source).toBe('database');
      // A's next beat: no gap (B beat all along), and the outage is over: its windows go.
      await a.get(ReceiverUptime).refresh();
      expect(await gaps()).not.toContainEqual([past(-5 * MINUTE), expect.anything()]);
      expect(await access.check(c, { product: 'prod_pro' })).toMatchObject({
        allowed: false,
        changesAt: null,
      });
    } finally {
      await b.close();
    }
  });

  it('while only the heartbeat cannot be written, webhooks are stored and a start is applied; no connection is kept by stuck beats', async () => {
    clock.set(new Date(Date.now() - DAY));
    app = await createTestApp({ ...appOptions(), databaseUrl: db.url, extra: { max: 3 } });
    const holder = await lockHeartbeat();
    try {
      for (let i = 0; i < 3; i++) {
        await expect(app.get(ReceiverUptime).refresh()).rejects.toThrow(); // Postgres gives up
      }
      const c = 'owner_gap_heartbeat_stuck';
      const start = new Date(Date.now() - HOUR);
      clock.set(start);
      await postAccepted(
        app,
        envelope('provisioning.start', period(c, { start, graceDays: null }), start),
        SECRET,
      );
      await waitFor(() => adapterActions(c).includes('provision'), 20_000, 'the start applied');
      const [{ n: waiting }] = await app
        .get(DataSource)
        .query(
          `SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%aqueduct_receiver_heartbeat%' AND pid <> pg_backend_pid()`,
        );
      expect(waiting).toBeLessThanOrEqual(1);
    } finally {
      await holder.query('ROLLBACK');
      await holder.end();
    }
  }, 60_000);

  it('a clock that moves records no gap: neither while an instance stays up, nor across a quick restart', async () => {
    clock.set(new Date(T0.getTime() + 200 * DAY));
    await boot();
    const before = await gaps();
    clock.advance(5 * HOUR);
    await app!.get(ReceiverUptime).refresh();
    expect(await gaps()).toEqual(before);
    // A test suite that boots a new app with its clock days ahead: seconds passed, not days.
    await app!.close();
    clock.advance(3 * DAY);
    await boot();
    expect(await gaps()).toEqual(before);

    // A test clock days ahead of the real one on a shared database, then a real outage: the gap
    // would end in the future, where it would hold windows far from now. Not recorded.
    clock.set(new Date(Date.now() + 30 * DAY));
    await app!.get(ReceiverUptime).refresh();
    await app!.close();
    app = undefined;
    await ageHeartbeat(3 * HOUR);
    await boot();
    expect(await gaps()).toEqual(before);
  });
});
