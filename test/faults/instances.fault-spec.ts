import { killHard } from '../support/child-process';
import { waitFor } from '../support/wait';
import { checkLedger } from './support/ledger-check';
import { FaultBed, logSummary, simulate, sleep, webhookUrl } from './support/fault-harness';

const EVENTS = 1200;

describe('Fault: three instances on one database, one killed midway', () => {
  const bed = new FaultBed();
  beforeAll(() => bed.setUp());
  afterAll(() => bed.tearDown());

  it('the two survivors take over its requests and its claimed deliveries; the ledger is exact', async () => {
    const started = Date.now();
    const first = await bed.start(); // runs the migrations before the others start
    const [second, third] = await Promise.all([bed.start(), bed.start()]);
    const instances = [first, second, third];
    const run = simulate(
      instances.map((app) => webhookUrl(app.port)),
      { events: EVENTS, duplicates: 0.1, customers: 150, concurrency: 15, 'max-attempts': 8 },
    );

    await waitFor(async () => (await bed.storedEvents()) >= 400, 60_000, 'load on all three');
    await sleep(Math.round(Math.random() * 1000));
    expect(run.finished()).toBe(false);
    await killHard(second);

    const report = await run.report;
    expect(report.givenUp).toBe(0);
    // Refused while an app was down, else 200: never a 5xx from an app that was up.
    expect(Object.keys(report.answers).filter((a) => a !== '200' && a !== 'unreachable')).toEqual(
      [],
    );
    expect(report.answers.unreachable).toBeGreaterThan(0); // requests did hit the dead one
    expect(report.acceptedIds).toHaveLength(EVENTS);
    await bed.settled();
    const ledger = await checkLedger(bed.client, report, ['aqueduct.provisioning', 'effect']);
    expect(ledger.events).toBe(EVENTS);

    const { rows } = await bed.client.query<{ pid: number; n: number }>(
      `SELECT pid, count(*)::int AS n FROM test_effects GROUP BY pid`,
    );
    const effectsBy = Object.fromEntries(rows.map((r) => [r.pid, r.n]));
    const pids = instances.map((app) => app.process.pid!);
    expect(effectsBy[pids[1]]).toBeGreaterThan(0); // the killed one worked before it died
    expect(effectsBy[pids[0]]).toBeGreaterThan(0);
    expect(effectsBy[pids[2]]).toBeGreaterThan(0);
    logSummary('three-instances', {
      sent: report.sent,
      requests: report.requests,
      answers: report.answers,
      accepted: report.acceptedIds.length,
      duplicatesAbsorbed: report.duplicatesAbsorbed,
      kills: 1,
      effectsByInstance: pids.map((pid) => effectsBy[pid] ?? 0),
      ...ledger,
      seconds: Math.round((Date.now() - started) / 1000),
    });
  });
});
