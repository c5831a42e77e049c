import type { InvalidKind } from '../../libs/aqueduct/src/cli/simulation';
import { killHard } from '../support/child-process';
import { waitFor } from '../support/wait';
import { checkLedger } from './support/ledger-check';
import { FaultBed, health, logSummary, simulate, sleep, webhookUrl } from './support/fault-harness';

const EVENTS = 600;
/** Signed, but impossible to understand: 16 %, 24 of each kind the simulator makes. */
const INVALID = 96;

/** What the stored errors of each kind of invalid event name. */
const ERROR_OF: Record<InvalidKind, RegExp> = {
  'numeric-email': /^object\.provisioningOrgs\.0\.users\.0\.email must be a string$/,
  'missing-product-id': /^object\.productId /,
  'not-json': /^body must be valid JSON$/,
  'no-object': /^object must be a JSON object$/,
};

describe('Fault: authentic events that cannot be understood, under load, on two instances', () => {
  const bed = new FaultBed();
  beforeAll(() => bed.setUp());
  afterAll(() => bed.tearDown());

  it('answers every request 2xx, quarantines each invalid event once, runs no listener for them, alerts once', async () => {
    const started = Date.now();
    const first = await bed.start(); // runs the migrations before the other starts
    const second = await bed.start();
    const run = simulate([webhookUrl(first.port), webhookUrl(second.port)], {
      events: EVENTS,
      duplicates: 0.1, // the first 60 twice, same bytes (some ten of them invalid)
      customers: 100,
      invalid: INVALID / EVENTS,
      concurrency: 12,
      'max-attempts': 8,
    });

    // Midway, one instance dies: requests cut off or refused are retried on Aqueduct's schedule
    // with the same id and bytes (the survivor answers a retry of a stored one as a duplicate).
    await waitFor(async () => (await bed.storedEvents()) >= EVENTS / 2, 60_000, 'load on both');
    await sleep(Math.round(Math.random() * 500));
    expect(run.finished()).toBe(false);
    await killHard(second);

    const report = await run.report;
    expect(report.givenUp).toBe(0);
    // An authentic request is never answered with an error, whatever its body: 200, or no
    // answer at all from the killed instance.
    expect(Object.keys(report.answers).filter((a) => a !== '200' && a !== 'unreachable')).toEqual(
      [],
    );
    expect(report.answers.unreachable).toBeGreaterThan(0); // the kill landed under load
    expect(report.acceptedIds).toHaveLength(EVENTS);
    const perKind = INVALID / 4;
    expect(report.invalidByKind).toEqual({
      'numeric-email': perKind,
      'missing-product-id': perKind,
      'not-json': perKind,
      'no-object': perKind,
    });
    expect(report.quarantinedIds).toHaveLength(INVALID);
    // Of each pair of copies, one (at least: a retry after the kill may be another) was told it
    // was a duplicate, quarantined or not.
    expect(report.duplicatesAbsorbed).toBeGreaterThanOrEqual(report.duplicatesSent);

    await bed.settled();
    // Stored once each; quarantined exactly for the ids sent invalid (bytes and errors kept, no
    // delivery, no effect), every valid one accepted and delivered; one `alert.raised`.
    const ledger = await checkLedger(bed.client, report, ['aqueduct.provisioning', 'effect'], {
      alerts: ['quarantine'],
    });
    expect(ledger.events).toBe(EVENTS);
    expect(ledger.quarantined).toBe(INVALID);

    // Each one quarantined for what was wrong with it.
    const kindOf = new Map(report.invalidIds.map(({ id, kind }) => [id, kind]));
    const { rows: quarantined } = await bed.client.query<{ delivery_id: string; errors: string[] }>(
      `SELECT delivery_id, errors FROM aqueduct_events WHERE status = 'quarantined'`,
    );
    const unexpected = quarantined.filter((row) => {
      const pattern = ERROR_OF[kindOf.get(row.delivery_id)!];
      return row.errors.length === 0 || !row.errors.every((error) => pattern.test(error));
    });
    expect(unexpected).toEqual([]);

    // One alert across both instances, open (nothing reprocessed or dismissed yet), about one
    // of those events.
    const { rows: alerts } = await bed.client.query<{
      kind: string;
      status: string;
      occurrences: number;
      details: { eventId: string };
    }>(`SELECT kind, status, occurrences, details FROM aqueduct_alerts`);
    expect(alerts.map(({ kind, status }) => ({ kind, status }))).toEqual([
      { kind: 'quarantine', status: 'open' },
    ]);
    const { rows: raised } = await bed.client.query<{ id: string; payload: any }>(
      `SELECT id, payload FROM aqueduct_events WHERE type = 'alert.raised'`,
    );
    expect(raised).toHaveLength(1);
    const quarantinedIds = await bed.client.query<{ id: string }>(
      `SELECT id FROM aqueduct_events WHERE status = 'quarantined'`,
    );
    expect(quarantinedIds.rows.map((r) => r.id)).toContain(
      raised[0].payload.object.details.eventId,
    );

    // The survivor is up, degraded by the open alert, and counts what waits in quarantine.
    const state = (await health(first.port)).aqueduct;
    expect(state).toMatchObject({
      status: 'up',
      state: 'degraded',
      quarantined: INVALID,
      alerts: [expect.objectContaining({ kind: 'quarantine' })],
    });

    logSummary('invalid-events', {
      sent: report.sent,
      requests: report.requests,
      answers: report.answers,
      accepted: report.acceptedIds.length,
      invalidSent: report.invalidSent,
      quarantinedAnswers: report.quarantinedIds.length,
      duplicatesAbsorbed: report.duplicatesAbsorbed,
      retried: report.retried,
      kills: 1,
      alertOccurrences: alerts[0].occurrences,
      health: state.state,
      ...ledger,
      seconds: Math.round((Date.now() - started) / 1000),
    });
  });
});
