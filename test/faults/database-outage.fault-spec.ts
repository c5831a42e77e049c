import { TcpProxy } from '../support/tcp-proxy';
import { waitFor } from '../support/wait';
import { checkLedger } from './support/ledger-check';
import { FaultBed, logSummary, simulate, sleep, webhookUrl } from './support/fault-harness';

const EVENTS = 1000;
const OUTAGE_MS = 20_000;

describe('Fault: Postgres unreachable for 20 s under load', () => {
  const bed = new FaultBed();
  let proxy: TcpProxy;
  beforeAll(async () => {
    await bed.setUp();
    const target = new URL(bed.db.url);
    proxy = new TcpProxy(target.hostname, Number(target.port || 5432));
    await proxy.start();
  });
  afterAll(async () => {
    await proxy?.stop();
    await bed.tearDown();
  });

  it('answers 503 (never a 2xx without a row) during the outage, recovers without a restart, loses nothing', async () => {
    const started = Date.now();
    // The app reaches Postgres only through the proxy; the test's own client goes direct.
    const viaProxy = new URL(bed.db.url);
    viaProxy.hostname = '127.0.0.1';
    viaProxy.port = String(proxy.port);
    const app = await bed.start({
      DATABASE_URL: viaProxy.toString(),
      PG_CONNECT_TIMEOUT_MS: '1000',
      STORE_TIMEOUT_MS: '2000',
    });
    const run = simulate([webhookUrl(app.port)], {
      events: EVENTS,
      duplicates: 0.1,
      customers: 100,
      concurrency: 8,
      'max-attempts': 8,
    });

    await waitFor(async () => (await bed.storedEvents()) >= 200, 60_000, 'load before the outage');
    expect(run.finished()).toBe(false);
    const port = proxy.port;
    await proxy.stop();
    const atCut = await bed.storedEvents();
    await sleep(OUTAGE_MS);
    // Nothing reached the database meanwhile (at most a commit that was already on the wire).
    expect(await bed.storedEvents()).toBeLessThanOrEqual(atCut + 8);
    await proxy.start(port);

    const report = await run.report;
    expect(app.process.exitCode).toBeNull(); // the same process recovered by itself
    expect(app.process.signalCode).toBeNull();
    expect(report.answers['503']).toBeGreaterThan(0);
    // 503 while the database was away; nothing else but 200 (no 500, no dropped connection).
    expect(Object.keys(report.answers).sort()).toEqual(['200', '503']);
    expect(report.givenUp).toBe(0);
    expect(report.acceptedIds).toHaveLength(EVENTS);
    await bed.settled();
    const ledger = await checkLedger(bed.client, report, ['aqueduct.provisioning', 'effect']);
    expect(ledger.events).toBe(EVENTS);
    logSummary('database-outage', {
      outageMs: OUTAGE_MS,
      sent: report.sent,
      requests: report.requests,
      answers: report.answers,
      accepted: report.acceptedIds.length,
      duplicatesAbsorbed: report.duplicatesAbsorbed,
      deliveredByAttempts: report.deliveredByAttempts,
      ...ledger,
      seconds: Math.round((Date.now() - started) / 1000),
    });
  });
});
