import { signAqueductRequest } from 'nestjs-aqueduct/testing';
import { envelope, period } from '../support/subscription';
import { DAY } from '../support/test-clock';
import { waitFor } from '../support/wait';
import {
  type FaultBed,
  SECRET,
  health,
  logSummary,
  sleep,
  webhookUrl,
} from './support/fault-harness';
import { ProxiedFaultBed } from './support/proxied-fault-bed';

const OUTAGE_MS = 20_000;
/** Requests in flight at once against the paid route. */
const CONCURRENCY = 12;
/** Margin around a moment for a request's own latency (an answer is computed when it arrives). */
const MARGIN_MS = 250;

type Group = 'paid' | 'lapsed' | 'flipping' | 'ended' | 'unseen';

interface Answer {
  customer: string;
  group: Group;
  status: number | 'error';
  sentAt: number;
  doneAt: number;
}

/**
 * Checks at load while the database is cut off (a silent partition, the harder outage: queries
 * hang rather than fail). The paid route's guard must answer every request 200 or 403, never a
 * 5xx or a hang, and right: customers it knows from before the cut keep their answers, including
 * access that ends at a known moment during the outage (computed from the cached span, no
 * database); customers it has never seen get `access.fallback` ('deny'), and their real answer
 * once Postgres is back; a change made just before the cut is already in the answers.
 */
describe('Fault: access checks at load while Postgres is unreachable for 20 s', () => {
  const bed = new ProxiedFaultBed();
  beforeAll(() => bed.setUp());
  afterAll(() => bed.tearDown());

  it('answers only 200 and 403, each right, through the cut and after', async () => {
    const started = Date.now();
    const app = await bed.startBehindProxy();
    const base = `http://127.0.0.1:${app.port}`;
    const send = async (payload: unknown) => {
      const signed = signAqueductRequest(JSON.stringify(payload), {
        scheme: 'standard-webhooks',
        secret: SECRET,
      });
      const response = await fetch(webhookUrl(app.port), { method: 'POST', ...signed });
      expect(response.status).toBe(200);
    };
    const groups: Record<Group, string[]> = {
      paid: names('paid', 60),
      lapsed: names('lapsed', 30),
      flipping: names('flipping', 10),
      ended: names('ended', 10),
      unseen: names('unseen', 20),
    };
    const now = Date.now();
    const current = { start: new Date(now - DAY), days: 30 };
    for (const customer of [...groups.paid, ...groups.ended, ...groups.unseen]) {
      await send(envelope('provisioning.start', period(customer, current), new Date(now - DAY)));
    }
    for (const customer of groups.lapsed) {
      const old = { start: new Date(now - 40 * DAY), days: 30, graceDays: 3 };
      await send(envelope('provisioning.end', period(customer, old), new Date(now - 10 * DAY)));
    }
    // Access that ends (grace over) 10 s into the outage that is about to start.
    const cutAt = Date.now() + 8000;
    const flipAt = cutAt + 10_000;
    for (const customer of groups.flipping) {
      const ending = {
        ...period(customer, { start: new Date(now - 31 * DAY), days: 30, graceDays: null }),
        gracePeriodEndDate: new Date(flipAt).toISOString(),
      };
      await send(envelope('provisioning.end', ending, new Date(now - 60_000)));
    }
    await waitFor(
      async () =>
        (await bed.count(
          `SELECT count(*)::int AS n FROM aqueduct_access WHERE customer_id LIKE 'owner_%'`,
        )) === 130 && (await pendingDeliveries(bed)) === 0,
      60_000,
      'the ledger to hold every customer',
    );

    // The load: every group but the unseen from the start; the unseen only once the cut is on.
    const answers: Answer[] = [];
    let cutOn = false;
    let running = true;
    const pick = (): [Group, string] => {
      const pool: Group[] = cutOn
        ? ['paid', 'lapsed', 'flipping', 'ended', 'unseen']
        : ['paid', 'lapsed', 'flipping', 'ended'];
      const group = pool[Math.floor(Math.random() * pool.length)];
      const list = groups[group];
      return [group, list[Math.floor(Math.random() * list.length)]];
    };
    const worker = async () => {
      while (running) {
        const [group, customer] = pick();
        const sentAt = Date.now();
        let status: number | 'error';
        try {
          const response = await fetch(`${base}/customers/${customer}/reports`, {
            signal: AbortSignal.timeout(10_000),
          });
          await response.arrayBuffer();
          status = response.status;
        } catch {
          status = 'error';
        }
        answers.push({ customer, group, status, sentAt, doneAt: Date.now() });
      }
    };
    const workers = Array.from({ length: CONCURRENCY }, worker);

    // Just before the cut, end access for the `ended` group (a cancellation taking effect now: its
    // paid period ended yesterday and its grace ends now, exactly; a paid end would keep access
    // for the renewal window).
    await sleep(2000);
    const endsAt = Date.now();
    for (const customer of groups.ended) {
      const cancelled = {
        ...period(customer, current),
        endDate: new Date(endsAt - DAY).toISOString(),
        gracePeriodEndDate: new Date(endsAt).toISOString(),
      };
      await send(envelope('provisioning.end', cancelled, new Date(endsAt)));
    }
    await waitFor(async () => (await pendingDeliveries(bed)) === 0, 30_000, 'the ends applied');
    const endedAppliedAt = Date.now();

    await sleep(Math.max(0, cutAt - Date.now()));
    await bed.proxy.blackhole();
    const cutStarted = Date.now();
    cutOn = true;
    await sleep(OUTAGE_MS / 2);
    const during = (await health(app.port)).aqueduct as any;
    await sleep(cutStarted + OUTAGE_MS - Date.now());
    bed.proxy.restore();
    const healedAt = Date.now();
    // The unseen become known once Postgres answers again.
    await waitFor(
      () => answers.some((a) => a.group === 'unseen' && a.sentAt > healedAt && a.status === 200),
      30_000,
      'an unseen customer to be read from Postgres again',
    );
    await sleep(3000);
    const recoveredAt = Date.now() - 3000;
    running = false;
    await Promise.all(workers);

    const byStatus = countBy(answers, (a) => String(a.status));
    expect(Object.keys(byStatus).sort()).toEqual(['200', '403']);
    const wrong = (group: Group, expected: number, when: (a: Answer) => boolean = () => true) =>
      answers.filter((a) => a.group === group && when(a) && a.status !== expected);
    expect(wrong('paid', 200)).toEqual([]);
    expect(wrong('lapsed', 403)).toEqual([]);
    expect(wrong('flipping', 200, (a) => a.doneAt < flipAt - MARGIN_MS)).toEqual([]);
    expect(wrong('flipping', 403, (a) => a.sentAt > flipAt + MARGIN_MS)).toEqual([]);
    expect(wrong('ended', 403, (a) => a.sentAt > endedAppliedAt)).toEqual([]);
    // Never seen before the cut: the fallback ('deny') while it lasts, the truth after.
    expect(wrong('unseen', 403, (a) => a.sentAt > cutStarted && a.doneAt < healedAt)).toEqual([]);
    expect(wrong('unseen', 200, (a) => a.sentAt > recoveredAt)).toEqual([]);
    const inOutage = answers.filter((a) => a.sentAt > cutStarted && a.doneAt < healedAt);
    expect(
      inOutage.filter((a) => a.group === 'flipping' && a.sentAt > flipAt).length,
    ).toBeGreaterThan(0);
    expect(during.accessChecks.database).toBe('unreachable');
    expect(during.accessChecks.answers.stale).toBeGreaterThan(0);
    expect(during.accessChecks.answers.fallback).toBeGreaterThan(0);
    expect(app.process.exitCode).toBeNull();

    const latencies = inOutage.map((a) => a.doneAt - a.sentAt).sort((a, b) => a - b);
    logSummary('access-outage (partition)', {
      outageMs: OUTAGE_MS,
      requests: answers.length,
      answers: byStatus,
      inOutage: inOutage.length,
      inOutageByGroup: countBy(inOutage, (a) => `${a.group}:${a.status}`),
      outageP50Ms: latencies[Math.floor(latencies.length * 0.5)],
      outageP99Ms: latencies[Math.floor(latencies.length * 0.99)],
      healthDuring: during.state,
      answersBySource: during.accessChecks.answers,
      seconds: Math.round((Date.now() - started) / 1000),
    });
  });
});

const names = (group: string, n: number) =>
  Array.from({ length: n }, (_, i) => `owner_${group}_${i}`);

const pendingDeliveries = (bed: FaultBed) =>
  bed.count(
    `SELECT count(*)::int AS n FROM aqueduct_deliveries WHERE state IN ('pending', 'active')`,
  );

function countBy<T>(items: T[], key: (item: T) => string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const item of items) {
    counts[key(item)] = (counts[key(item)] ?? 0) + 1;
  }
  return counts;
}
