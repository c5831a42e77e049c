import { provisioningStartEvent, signAqueductRequest } from 'nestjs-aqueduct/testing';
import { TcpProxy } from '../support/tcp-proxy';
import { waitFor } from '../support/wait';
import { checkLedger } from './support/ledger-check';
import { logSummary, SECRET, simulate, sleep, webhookUrl } from './support/fault-harness';
import { ProxiedFaultBed } from './support/proxied-fault-bed';

const EVENTS = 1000;
const OUTAGE_MS = 20_000;
const LISTENERS = ['aqueduct.provisioning', 'effect'];

/**
 * Two ways a database goes away: its host is down (connections refused and reset at once), or the
 * network between drops everything silently (queries in flight hang; nothing is closed).
 */
const OUTAGES = {
  refused: {
    cut: (proxy: TcpProxy) => proxy.stop(),
    heal: (proxy: TcpProxy, port: number) => proxy.start(port),
  },
  partition: {
    cut: async (proxy: TcpProxy) => proxy.blackhole(),
    heal: async (proxy: TcpProxy) => proxy.restore(),
  },
};

describe.each(Object.keys(OUTAGES) as (keyof typeof OUTAGES)[])(
  'Fault: Postgres unreachable for 20 s under load (%s)',
  (kind) => {
    const bed = new ProxiedFaultBed();
    beforeAll(() => bed.setUp());
    afterAll(() => bed.tearDown());

    it('answers 503 (never a 2xx without a row) during the outage, recovers without a restart, loses nothing', async () => {
      const started = Date.now();
      const app = await bed.startBehindProxy();
      const run = simulate([webhookUrl(app.port)], {
        events: EVENTS,
        duplicates: 0.1,
        customers: 100,
        concurrency: 8,
        'max-attempts': 8,
      });

      await waitFor(async () => (await bed.storedEvents()) >= 200, 60_000, 'load first');
      expect(run.finished()).toBe(false);
      const port = bed.proxy.port;
      await OUTAGES[kind].cut(bed.proxy);
      const atCut = await bed.storedEvents();
      const probes = await probeDuring(OUTAGE_MS, app.port);
      // Nothing reached the database meanwhile (at most a commit that was already on the wire).
      expect(await bed.storedEvents()).toBeLessThanOrEqual(atCut + 8);
      expect(probes.length).toBeGreaterThan(3);
      expect(probes.filter((p) => p.status !== 503 || !p.retryAfter)).toEqual([]);
      await OUTAGES[kind].heal(bed.proxy, port);

      const report = await run.report;
      expect(app.process.exitCode).toBeNull(); // the same process recovered by itself
      expect(app.process.signalCode).toBeNull();
      expect(report.answers['503']).toBeGreaterThan(0);
      // 503 while the database was away; nothing else but 200 (no 500, no dropped connection).
      expect(Object.keys(report.answers).sort()).toEqual(['200', '503']);
      expect(report.givenUp).toBe(0);
      expect(report.acceptedIds).toHaveLength(EVENTS);
      await bed.settled();
      // A probe's 503 may come from the store timeout while its INSERT waits on a stalled
      // connection; such a row may commit later (the sender would retry and get a duplicate 2xx).
      const probeIds = probes.map((p) => p.id);
      const ledger = await checkLedger(bed.client, report, LISTENERS, { alsoSent: probeIds });
      const lateProbeRows = await bed.count(
        `SELECT count(*)::int AS n FROM aqueduct_events WHERE delivery_id = ANY('{${probeIds.join(',')}}')`,
      );
      expect(ledger.events).toBe(EVENTS + lateProbeRows);
      logSummary(`database-outage (${kind})`, {
        outageMs: OUTAGE_MS,
        probes503: probes.length,
        sent: report.sent,
        requests: report.requests,
        answers: report.answers,
        accepted: report.acceptedIds.length,
        duplicatesAbsorbed: report.duplicatesAbsorbed,
        deliveredByAttempts: report.deliveredByAttempts,
        lateProbeRows,
        ...ledger,
        seconds: Math.round((Date.now() - started) / 1000),
      });
    });
  },
);

/**
 * Besides the sender (whose workers soon all sit in retry delays), one fresh event a second: the
 * endpoint must keep answering 503 with Retry-After for the whole outage, never hang.
 */
async function probeDuring(ms: number, port: number) {
  const probes: { id: string; status: number; retryAfter: string | null }[] = [];
  for (const deadline = Date.now() + ms; Date.now() < deadline;) {
    const signed = signAqueductRequest(JSON.stringify(provisioningStartEvent()), {
      scheme: 'standard-webhooks',
      secret: SECRET,
    });
    const response = await fetch(webhookUrl(port), {
      method: 'POST',
      ...signed,
      signal: AbortSignal.timeout(15_000),
    });
    probes.push({
      id: signed.headers['webhook-id'],
      status: response.status,
      retryAfter: response.headers.get('retry-after'),
    });
    await sleep(1000);
  }
  return probes;
}
