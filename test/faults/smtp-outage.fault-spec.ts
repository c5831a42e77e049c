import { TestSmtpServer } from '../support/smtp';
import { waitFor } from '../support/wait';
import { checkLedger } from './support/ledger-check';
import { FaultBed, logSummary, simulate, sleep, webhookUrl } from './support/fault-harness';

// Each event a new customer's provisioning.start: one `access.started` each, mailed to its users.
const EVENTS = 300;
const RECIPIENTS = ['ada@acme.test', 'alan@acme.test']; // the users of every generated event

describe('Fault: the SMTP server down for a while', () => {
  const bed = new FaultBed();
  const smtp = new TestSmtpServer();
  beforeAll(() => bed.setUp());
  afterAll(async () => {
    await smtp.stop();
    await bed.tearDown();
  });

  it('events arrive while it is down, mails are retried with backoff and each arrives exactly once', async () => {
    const started = Date.now();
    await smtp.start();
    const smtpPort = smtp.port;
    await smtp.stop(); // down: connections to its port are refused
    const app = await bed.start({
      SMTP_PORT: String(smtpPort),
      // Nothing is killed here: a lease long enough that a stall of the loaded machine (the pool
      // busy for seconds, renewals queued behind it) does not lapse one and re-run a listener,
      // which is not what this scenario is about (kill-restart covers lapsed leases).
      LEASE_MS: '10000',
      // Backoff 0.5 s doubling to 8 s: 8 attempts span at least ~16 s, longer than the outage.
      RETRY_BASE_MS: '500',
      RETRY_MAX_MS: '8000',
    });

    const report = await simulate([webhookUrl(app.port)], {
      events: EVENTS,
      duplicates: 0.1,
      concurrency: 8,
    }).report;
    expect(report.givenUp).toBe(0);
    // Mails hang off the `access.started` events the ledger writes, one per new customer.
    const emailAttempts = `SELECT count(*)::int AS n FROM aqueduct_deliveries d
      JOIN aqueduct_events e ON e.id = d.event_id
      WHERE d.listener = 'aqueduct.email' AND e.type = 'access.started'
        AND d.attempts >= 2 AND d.state <> 'done'`;
    await waitFor(
      async () => (await bed.count(emailAttempts)) === EVENTS,
      60_000,
      'every mail delivery to have failed at least twice',
    );
    await sleep(2000); // down a little longer: retries keep failing and backing off
    expect(smtp.received).toHaveLength(0);

    await smtp.start(smtpPort); // back, on the same port
    await bed.settled();
    const ledger = await checkLedger(bed.client, report, [
      'aqueduct.email',
      'aqueduct.provisioning',
      'effect',
    ]);
    // The mail listener's failures re-ran no other listener (the details say why one did).
    expect({ reruns: ledger.reruns, details: ledger.rerunDetails }).toEqual({
      reruns: 0,
      details: [],
    });

    const { rows: startedEvents } = await bed.client.query<{ id: string }>(
      `SELECT id FROM aqueduct_events WHERE type = 'access.started'`,
    );
    expect(startedEvents).toHaveLength(EVENTS);
    const mails = new Map<string, number>();
    for (const mail of smtp.received) {
      expect(mail.to).toHaveLength(1);
      const key = `${mail.eventId} ${mail.to[0]}`;
      mails.set(key, (mails.get(key) ?? 0) + 1);
    }
    const expected = startedEvents.flatMap((e) => RECIPIENTS.map((to) => `${e.id} ${to}`));
    expect([...mails.keys()].sort()).toEqual(expected.sort()); // every mail arrived...
    expect([...mails.values()].filter((n) => n !== 1)).toEqual([]); // ...exactly once
    const { rows: attempts } = await bed.client.query(
      `SELECT min(attempts) AS min, max(attempts) AS max FROM aqueduct_deliveries
       WHERE listener = 'aqueduct.email'`,
    );
    logSummary('smtp-outage', {
      sent: report.sent,
      accepted: report.acceptedIds.length,
      duplicatesAbsorbed: report.duplicatesAbsorbed,
      mails: smtp.received.length,
      mailAttempts: attempts[0],
      ...ledger,
      seconds: Math.round((Date.now() - started) / 1000),
    });
  });
});
