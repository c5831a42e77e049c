import { TestSmtpServer } from '../support/smtp';
import { waitFor } from '../support/wait';
import { checkLedger } from './support/ledger-check';
import { FaultBed, health, logSummary, simulate, sleep, webhookUrl } from './support/fault-harness';

const OPS = 'ops@host.test';
/** A Standard Webhooks secret, but not the one the apps are configured with. */
const WRONG_SECRET = `whsec_${Buffer.from('a-secret-the-app-has-never-seen!').toString('base64')}`;
const ALERT_SUBJECT = '[Aqueduct] Action needed: verification';
const MINUTE_MS = 60_000;
/** Each storm sender: 6 deliveries, 2 at a time, 5 attempts each (Aqueduct's), all refused. */
const STORM = { events: 6, duplicates: 0, concurrency: 2, 'time-scale': 36_000 };
const ATTEMPTS = 5;

describe('Fault: a storm of 401s (wrong secret, wrong scheme) on two instances', () => {
  const bed = new FaultBed();
  const smtp = new TestSmtpServer();
  beforeAll(async () => {
    await bed.setUp();
    await smtp.start();
  });
  afterAll(async () => {
    await smtp.stop();
    await bed.tearDown();
  });

  it('degrades health within a minute, mails the alert exactly once, and a verified request resolves it', async () => {
    const started = Date.now();
    // Email on, operator alerts to OPS; alerts.verificationFailures left at its default (5).
    const env = { SMTP_PORT: String(smtp.port), ALERT_EMAIL: OPS };
    const first = await bed.start(env); // runs the migrations before the other starts
    const second = await bed.start(env);
    const apps = [first, second];
    const urls = apps.map((app) => webhookUrl(app.port));
    const states = async () =>
      (await Promise.all(apps.map((app) => health(app.port)))).map((h) => h.aqueduct);
    expect((await states()).map((s) => s.state)).toEqual(['healthy', 'healthy']);

    // Two misconfigured senders behind the load balancer: Aqueduct signing with a secret the
    // apps do not have, and one signing the HMAC way with the right secret. Every request is
    // refused; each delivery is retried on Aqueduct's schedule (compressed 36000×: 0.1 s, 0.6 s,
    // 1.2 s, 2.4 s), then given up: 60 401s over ~13 s, half on each instance.
    const stormStarted = Date.now();
    const storm = [
      simulate(urls, { ...STORM, secret: WRONG_SECRET }),
      simulate(urls, { ...STORM, scheme: 'hmac' }),
    ];

    // Both instances degraded by the alert (not only by their own refusals), and one mail.
    const degraded = await waitFor(
      async () => {
        const now = await states();
        return now.every((s) => s.state === 'degraded' && hasAlert(s, 'verification')) && now;
      },
      MINUTE_MS,
      'both instances to report the verification alert',
    );
    const degradedAfterMs = Date.now() - stormStarted;
    const alertMails = () => smtp.to(OPS).filter((mail) => mail.subject === ALERT_SUBJECT);
    await waitFor(() => alertMails().length > 0, MINUTE_MS, 'the alert mail');
    const mailedAfterMs = Date.now() - stormStarted;
    expect(mailedAfterMs).toBeLessThan(MINUTE_MS);
    expect(storm.every((run) => !run.finished())).toBe(true); // the storm goes on

    const reports = await Promise.all(storm.map((run) => run.report));
    const stormSeconds = Math.round((Date.now() - stormStarted) / 1000);
    for (const report of reports) {
      expect(report).toMatchObject({
        delivered: 0,
        givenUp: STORM.events,
        requests: STORM.events * ATTEMPTS,
        answers: { 401: STORM.events * ATTEMPTS },
      });
    }
    await sleep(1500); // a second mail, if any, would have been sent by now
    // One mail for the incident, whatever the number of refusals and instances.
    expect(alertMails()).toHaveLength(1);
    expect(smtp.received).toHaveLength(1);
    const [mail] = alertMails();
    // A streak, or a delivery's retry meeting an instance that refused it before: whichever first.
    expect(mail.text).toMatch(/failed verification|The same webhook request was refused again/);

    const alertRow = () =>
      bed.client
        .query<{ kind: string; status: string; occurrences: number; details: any }>(
          `SELECT kind, status, occurrences, details FROM aqueduct_alerts`,
        )
        .then(({ rows }) => rows);
    const [open] = await alertRow();
    expect(open).toMatchObject({ kind: 'verification', status: 'open' });
    // Raised by each instance at most once (its own streak), opened once.
    expect(open.occurrences).toBeGreaterThanOrEqual(1);
    expect(open.occurrences).toBeLessThanOrEqual(apps.length);
    const { rows: raised } = await bed.client.query<{ id: string }>(
      `SELECT id FROM aqueduct_events WHERE type = 'alert.raised'`,
    );
    expect(raised.map((r) => r.id)).toEqual([mail.eventId]);
    // Nothing refused was stored.
    const refusedIds = reports.flatMap((r) => r.givenUpIds.map((g) => g.id));
    expect(
      await bed.count(
        `SELECT count(*)::int AS n FROM aqueduct_events WHERE delivery_id = ANY('{${refusedIds.join(',')}}')`,
      ),
    ).toBe(0);
    expect((await states()).map((s) => s.state)).toEqual(['degraded', 'degraded']);

    // The secret is fixed: Aqueduct's next deliveries, one to each instance, are verified.
    const fix = await simulate(urls, { events: 2, duplicates: 0, concurrency: 1 }).report;
    expect(fix).toMatchObject({ delivered: 2, answers: { 200: 2 } });
    await waitFor(
      async () => (await alertRow())[0].status === 'resolved',
      10_000,
      'the alert to be resolved',
    );
    const healed = await waitFor(
      async () => {
        const now = await states();
        return now.every((s) => s.state === 'healthy') && now;
      },
      10_000,
      'both instances healthy again',
    );
    expect(healed.map((s) => s.warnings)).toEqual([undefined, undefined]);

    await bed.settled();
    const ledger = await checkLedger(
      bed.client,
      fix,
      ['aqueduct.email', 'aqueduct.provisioning', 'effect'],
      { alerts: ['verification'], alertTo: true },
    );
    expect(alertMails()).toHaveLength(1); // the access mails of the fix came, no other alert

    logSummary('unauthorized-storm', {
      refused: reports.reduce((sum, r) => sum + (r.answers['401'] ?? 0), 0),
      stormSeconds,
      degradedAfterMs,
      mailedAfterMs,
      alertMails: alertMails().length,
      occurrences: open.occurrences,
      byReason: open.details.byReason,
      refusedRecently: degraded.map((s) => s.refusedRecently),
      verified: fix.delivered,
      ...ledger,
      seconds: Math.round((Date.now() - started) / 1000),
    });
  });
});

const hasAlert = (state: Record<string, unknown>, kind: string) =>
  Array.isArray(state.alerts) && state.alerts.some((alert) => alert.kind === kind);
