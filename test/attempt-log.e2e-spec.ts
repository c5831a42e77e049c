import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import {
  ATTEMPT_LOG_LIMIT,
  type AqueductEvent,
  AqueductDispatcher,
  AqueductEventsService,
  type AqueductListenerContext,
  type DeliveryAttempt,
  isAttemptRun,
  OnAqueductEvent,
  type StoredDelivery,
} from 'nestjs-aqueduct';
import { aqueductEvent } from 'nestjs-aqueduct/testing';
import { DataSource } from 'typeorm';
import { postAccepted } from './support/post';
import { useTestApp } from './support/use-test-app';
import { waitFor } from './support/wait';

const SECRET = 'attempt-log-secret';
/** More than the log keeps, so that a dead delivery shows the cap. */
const MAX_ATTEMPTS = ATTEMPT_LOG_LIMIT + 5;

@Injectable()
class Listeners {
  hopelessFixed = false;
  release?: () => void;
  private readonly gate = new Promise<void>((resolve) => (this.release = resolve));

  /** What each run of the flaky listener was told, by event: `firstRun` per attempt. */
  readonly firstRuns = new Map<string, boolean[]>();

  @OnAqueductEvent('test.flaky', { name: 'flaky' })
  flaky(event: AqueductEvent, context: AqueductListenerContext) {
    this.firstRuns.set(event.id, [...(this.firstRuns.get(event.id) ?? []), context.firstRun!]);
    if (context.attempt <= 2) {
      throw new Error(`flaky <b>failure</b> ${context.attempt}`);
    }
  }

  @OnAqueductEvent('test.hopeless', { name: 'hopeless' })
  hopeless(_event: AqueductEvent, context: AqueductListenerContext) {
    if (!this.hopelessFixed) {
      throw new Error(`hopeless ${context.attempt}`);
    }
  }

  @OnAqueductEvent('test.blocking', { name: 'blocking' })
  blocking() {
    return this.gate;
  }
}

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

describe('Attempt log: every attempt of a delivery, bounded, kept across replays', () => {
  let listeners: Listeners;
  let events: AqueductEventsService;

  // Registered before the app's teardown so that it runs first: the blocking listener, still
  // waiting, is let go before the app closes.
  afterAll(() => listeners?.release?.());
  const host = useTestApp({
    aqueduct: {
      secrets: [SECRET],
      dispatch: {
        maxAttempts: MAX_ATTEMPTS,
        retryBaseDelayMs: 5,
        retryMaxDelayMs: 10,
        pollIntervalMs: 50,
        shutdownTimeoutMs: 200,
      },
    },
    imports: [{ module: class ListenersModule {}, providers: [Listeners] }],
  });
  beforeAll(() => {
    listeners = host.app.get(Listeners);
    events = host.app.get(AqueductEventsService);
  });

  const post = (type: string) =>
    postAccepted(host.app, aqueductEvent(type, { n: randomUUID() }), SECRET);
  const delivery = async (eventId: string): Promise<StoredDelivery> => {
    const [found] = (await events.getEvent(eventId)).deliveries;
    return found;
  };
  const untilLog = (eventId: string, what: string, done: (log: DeliveryAttempt[]) => boolean) =>
    waitFor(
      async () => {
        const found = await delivery(eventId);
        return found.state !== 'active' && done(found.attemptLog) && found;
      },
      20_000,
      what,
    );
  const lastOutcome = (log: DeliveryAttempt[]) => log[log.length - 1]?.outcome;

  it('records failed, failed, done with errors, timings and the instance', async () => {
    const id = await post('test.flaky');
    const found = await untilLog(id, 'the flaky delivery to finish', (log) =>
      log.some((e) => e.outcome === 'done'),
    );
    expect(found.attempts).toBe(3);
    // Only the first run is told it is one: a retry may follow a run that did part of the work.
    expect(listeners.firstRuns.get(id)).toEqual([true, false, false]);
    expect(found.attemptLog).toEqual([
      expect.objectContaining({
        attempt: 1,
        outcome: 'failed',
        error: 'Error: flaky <b>failure</b> 1',
      }),
      expect.objectContaining({
        attempt: 2,
        outcome: 'failed',
        error: 'Error: flaky <b>failure</b> 2',
      }),
      expect.objectContaining({ attempt: 3, outcome: 'done', error: null }),
    ]);
    const instance = host.app.get(AqueductDispatcher).instanceId;
    for (const entry of found.attemptLog.filter(isAttemptRun)) {
      expect(entry.startedAt).toMatch(ISO);
      expect(entry.finishedAt).toMatch(ISO);
      expect(entry.durationMs).toBeGreaterThanOrEqual(0);
      // The times are shown to the millisecond, the duration is rounded from microseconds.
      const shown = Date.parse(entry.finishedAt) - Date.parse(entry.startedAt!);
      expect(Math.abs(shown - entry.durationMs!)).toBeLessThanOrEqual(1);
      expect(entry.instance).toBe(instance);
    }
  });

  it('keeps the history on replay: a replayed marker, then attempts counted from 1 again', async () => {
    const id = await post('test.flaky');
    await untilLog(id, 'the first run', (log) => lastOutcome(log) === 'done');
    expect(await events.replay(id)).toBe(1);
    const found = await untilLog(id, 'the replayed run', (log) => log.length === 7);
    expect(found.attemptLog.map((e) => e.outcome)).toEqual([
      'failed',
      'failed',
      'done',
      'replayed',
      'failed',
      'failed',
      'done',
    ]);
    expect(found.attemptLog[3]).toEqual({ outcome: 'replayed', at: expect.stringMatching(ISO) });
    // The replay has a full retry budget: the listener saw attempts 1, 2, 3 again, as the log says.
    expect(found.attemptLog.map((e) => (isAttemptRun(e) ? e.attempt : '-'))).toEqual([
      1,
      2,
      3,
      '-',
      1,
      2,
      3,
    ]);
    expect(found.attempts).toBe(3);
    // Attempt 1 again, but not a first run: the replayed event's work may be done already.
    expect(listeners.firstRuns.get(id)).toEqual([true, false, false, false, false, false]);
  });

  it('a delivery restarted before the attempt log existed is not a first run either', async () => {
    const id = await post('test.flaky');
    await untilLog(id, 'the first run', (log) => lastOutcome(log) === 'done');
    // What a replay left before the upgrade that added the log: pending, attempts from 0, and the
    // new column's default, an empty log.
    await host.app.get(DataSource).query(
      `UPDATE aqueduct_deliveries
          SET state = 'pending', attempts = 0, run_at = now(), finished_at = NULL, attempt_log = '[]'
        WHERE event_id = $1`,
      [id],
    );
    await untilLog(id, 'the run after the upgrade', (log) => log.length === 3);
    // Its listener may have done the work before: only the very first run is told it is one.
    expect(listeners.firstRuns.get(id)).toEqual([true, false, false, false, false, false]);
  });

  it(`dead-letters after maxAttempts keeping only the last ${ATTEMPT_LOG_LIMIT} entries; redrive appends`, async () => {
    listeners.hopelessFixed = false;
    const id = await post('test.hopeless');
    const dead = await untilLog(id, 'the delivery to die', (log) => lastOutcome(log) === 'dead');
    expect(dead).toMatchObject({ state: 'dead', attempts: MAX_ATTEMPTS });
    expect(dead.attemptLog).toHaveLength(ATTEMPT_LOG_LIMIT);
    const runs = dead.attemptLog.filter(isAttemptRun);
    // The oldest went first: the log holds attempts 6..25, in order.
    expect(runs.map((e) => e.attempt)).toEqual(
      Array.from({ length: ATTEMPT_LOG_LIMIT }, (_, i) => MAX_ATTEMPTS - ATTEMPT_LOG_LIMIT + 1 + i),
    );
    expect(runs.slice(0, -1).every((e) => e.outcome === 'failed')).toBe(true);
    expect(runs[runs.length - 1]).toMatchObject({
      outcome: 'dead',
      error: `Error: hopeless ${MAX_ATTEMPTS}`,
    });

    listeners.hopelessFixed = true;
    await events.redrive(`${id}:hopeless`);
    const redriven = await untilLog(id, 'the redriven run', (log) => lastOutcome(log) === 'done');
    expect(redriven.attemptLog).toHaveLength(ATTEMPT_LOG_LIMIT);
    expect(redriven.attemptLog.slice(-3)).toEqual([
      expect.objectContaining({ outcome: 'dead', attempt: MAX_ATTEMPTS }),
      { outcome: 'redriven', at: expect.stringMatching(ISO) },
      expect.objectContaining({ outcome: 'done', attempt: 1 }),
    ]);
  });

  it('trims a log longer than the limit (written under a larger one) on its next append', async () => {
    listeners.hopelessFixed = true;
    const id = await post('test.hopeless');
    await untilLog(id, 'the delivery to finish', (log) => lastOutcome(log) === 'done');
    const old = Array.from({ length: ATTEMPT_LOG_LIMIT + 10 }, (_, i) => ({ attempt: i + 1 }));
    await host.app
      .get(DataSource)
      .query(
        `UPDATE aqueduct_deliveries SET state = 'dead', attempt_log = $2 WHERE event_id = $1`,
        [id, JSON.stringify(old)],
      );
    await events.redrive(`${id}:hopeless`);
    const found = await untilLog(id, 'the redriven run', (log) => lastOutcome(log) === 'done');
    expect(found.attemptLog).toHaveLength(ATTEMPT_LOG_LIMIT);
    expect(found.attemptLog[0]).toEqual({ attempt: 13 });
    expect(found.attemptLog.slice(-2).map((e) => e.outcome)).toEqual(['redriven', 'done']);
  });

  it('logs a delivery handed back at shutdown as released, without spending an attempt', async () => {
    const id = await post('test.blocking');
    await waitFor(
      async () => (await delivery(id)).state === 'active',
      10_000,
      'the blocking listener to start',
    );
    // The listener outlives shutdownTimeoutMs, so stop() hands its delivery back.
    await host.app.get(AqueductDispatcher).stop();
    const found = await delivery(id);
    expect(found).toMatchObject({ state: 'pending', attempts: 0 });
    expect(found.attemptLog).toEqual([
      expect.objectContaining({ attempt: 1, outcome: 'released', error: null }),
    ]);
  });
});
