import { killHard } from '../support/child-process';
import { waitFor } from '../support/wait';
import { checkLedger } from './support/ledger-check';
import {
  FaultBed,
  freePort,
  logSummary,
  simulate,
  sleep,
  webhookUrl,
} from './support/fault-harness';

const EVENTS = 2000;
const KILLS = 3;

describe('Fault: SIGKILL of the app at random moments under load', () => {
  const bed = new FaultBed();
  beforeAll(() => bed.setUp());
  afterAll(() => bed.tearDown());

  it('2,000 events with duplicates and retries: every 2xx stored, every effect once, ledger exact', async () => {
    const started = Date.now();
    const port = await freePort();
    let app = await bed.start({ PORT: String(port) });
    const run = simulate([webhookUrl(port)], {
      events: EVENTS,
      duplicates: 0.1,
      customers: 200, // ten events per customer, start and end alternating: the ledger must order them
      concurrency: 8,
      'max-attempts': 8, // Aqueduct's 5, plus margin for a slow restart on a busy machine
    });

    const pauses: number[] = [];
    let kills = 0;
    while (kills < KILLS && !run.finished()) {
      // Kill under load: after the restarted app has stored a few more events, at a random moment.
      const before = await bed.storedEvents();
      await waitFor(
        async () => run.finished() || (await bed.storedEvents()) >= before + 100,
        120_000,
        'events to flow again',
      );
      const pause = Math.round(Math.random() * 1500);
      pauses.push(pause);
      await sleep(pause);
      if (run.finished()) {
        break;
      }
      await killHard(app);
      kills++;
      app = await bed.start({ PORT: String(port) }); // same port: the sender's URL stays valid
    }

    const report = await run.report;
    expect(kills).toBe(KILLS); // the kills landed while the sender was still sending
    expect(report.givenUp).toBe(0);
    // Refused while an app was down, else 200: never a 5xx from an app that was up.
    expect(Object.keys(report.answers).filter((a) => a !== '200' && a !== 'unreachable')).toEqual(
      [],
    );
    expect(report.acceptedIds).toHaveLength(EVENTS);
    await bed.settled();
    const ledger = await checkLedger(bed.client, report, ['aqueduct.provisioning', 'effect']);
    expect(ledger.events).toBe(EVENTS);
    logSummary('kill-restart', {
      sent: report.sent,
      requests: report.requests,
      answers: report.answers,
      accepted: report.acceptedIds.length,
      duplicatesAbsorbed: report.duplicatesAbsorbed,
      kills,
      killPausesMs: pauses,
      ...ledger,
      seconds: Math.round((Date.now() - started) / 1000),
    });
  });
});
