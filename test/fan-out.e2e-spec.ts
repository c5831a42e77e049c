import { Injectable } from '@nestjs/common';
import { EventEmitterModule, OnEvent } from '@nestjs/event-emitter';
import {
  type AqueductEvent,
  AqueductEventsService,
  type AqueductListenerContext,
  OnAqueductEvent,
  ProvisioningDto,
} from 'nestjs-aqueduct';
import {
  invoicePaidEvent,
  provisioningStartEvent,
  signAqueductRequest,
} from 'nestjs-aqueduct/testing';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { createTestApp } from './support/app';
import { createTestDatabase } from './support/database';
import { postAccepted } from './support/post';
import { useTestApp } from './support/use-test-app';
import { waitFor } from './support/wait';

const SECRET = 'fan-out-secret';

/** A host that prefers @nestjs/event-emitter. */
@Injectable()
class EmitterListener {
  received: AqueductEvent[] = [];

  @OnEvent('aqueduct.provisioning.start')
  onStart(event: AqueductEvent) {
    this.received.push(event);
  }
}

/** Test listeners; each records every run with its context. */
@Injectable()
class Listeners {
  runs: { listener: string; event: AqueductEvent; context: AqueductListenerContext }[] = [];
  brokenFixed = false;
  gate?: Promise<void>;

  private record(listener: string, event: AqueductEvent, context: AqueductListenerContext) {
    this.runs.push({ listener, event, context });
  }

  @OnAqueductEvent('provisioning.start')
  onStart(event: AqueductEvent, context: AqueductListenerContext) {
    this.record('onStart', event, context);
  }

  @OnAqueductEvent('*', { name: 'audit' })
  audit(event: AqueductEvent, context: AqueductListenerContext) {
    this.record('audit', event, context);
  }

  @OnAqueductEvent('provisioning_start', { name: 'flaky' })
  flaky(event: AqueductEvent, context: AqueductListenerContext) {
    this.record('flaky', event, context);
    // Fails the first two attempts for one customer only, so other tests' events are not affected.
    if ((event.object as ProvisioningDto).customerId === 'owner_flaky' && context.attempt <= 2) {
      throw new Error('flaky listener failed');
    }
  }

  @OnAqueductEvent('invoice.paid', { name: 'broken' })
  broken(event: AqueductEvent, context: AqueductListenerContext) {
    this.record('broken', event, context);
    if (!this.brokenFixed) {
      throw new Error('broken listener');
    }
  }

  @OnAqueductEvent('customer.blocked', { name: 'blocking' })
  async blocking(event: AqueductEvent, context: AqueductListenerContext) {
    this.record('blocking', event, context);
    await this.gate;
  }
}

describe('Durable fan-out to listeners', () => {
  let listeners: Listeners;
  let events: AqueductEventsService;

  const host = useTestApp({
    aqueduct: {
      secrets: [SECRET],
      dispatch: {
        maxAttempts: 3,
        retryBaseDelayMs: 50,
        retryMaxDelayMs: 100,
        pollIntervalMs: 100,
      },
    },
    imports: [
      EventEmitterModule.forRoot(),
      { module: class ListenersModule {}, providers: [Listeners, EmitterListener] },
    ],
  });
  beforeAll(() => {
    listeners = host.app.get(Listeners);
    events = host.app.get(AqueductEventsService);
  });

  const post = (payload: unknown) => postAccepted(host.app, payload, SECRET);
  const deliveries = async (eventId: string) =>
    Object.fromEntries((await events.getEvent(eventId)).deliveries.map((d) => [d.listener, d]));
  const settled = (eventId: string) =>
    waitFor(
      async () => {
        const all = Object.values(await deliveries(eventId));
        return all.length > 0 && all.every((d) => d.state === 'done' || d.state === 'dead') && all;
      },
      15_000,
      `deliveries of ${eventId} to settle`,
    );
  const runsOf = (listener: string, eventId: string) =>
    listeners.runs.filter((run) => run.listener === listener && run.event.id === eventId);

  it('creates one delivery per matching listener and hands each a typed event and a stable key', async () => {
    const id = await post(provisioningStartEvent({ customerId: 'owner_typed' }));
    await settled(id);
    expect(Object.keys(await deliveries(id)).sort()).toEqual([
      'Listeners.onStart',
      'aqueduct.provisioning',
      'audit',
      'flaky',
    ]);
    const [run] = runsOf('onStart', id);
    expect(run.event.object).toBeInstanceOf(ProvisioningDto);
    expect((run.event.object as ProvisioningDto).startDate).toBeInstanceOf(Date);
    expect(run.context).toEqual({
      deliveryId: `${id}:Listeners.onStart`,
      idempotencyKey: `${id}:Listeners.onStart`,
      eventId: id,
      listener: 'Listeners.onStart',
      attempt: 1,
      firstRun: true,
    });
  });

  it('also publishes each new event on @nestjs/event-emitter as aqueduct.<type> (best-effort)', async () => {
    const id = await post(provisioningStartEvent({ customerId: 'owner_emitter' }));
    const emitter = host.app.get(EmitterListener);
    const event = await waitFor(
      () => emitter.received.find((e) => e.id === id),
      5000,
      'the emitted event',
    );
    expect(event.object).toBeInstanceOf(ProvisioningDto);
    await post(provisioningStartEvent({ customerId: 'owner_emitter' }, new Date(0)));
    await settled(id);
  });

  it('(a) retries a listener that throws twice; the other listeners of the event ran once', async () => {
    const id = await post(provisioningStartEvent({ customerId: 'owner_flaky' }));
    const settledDeliveries = await settled(id);
    expect(runsOf('flaky', id).map((run) => run.context.attempt)).toEqual([1, 2, 3]);
    expect(runsOf('onStart', id)).toHaveLength(1);
    expect(runsOf('audit', id)).toHaveLength(1);
    const byListener = Object.fromEntries(settledDeliveries.map((d) => [d.listener, d]));
    expect(byListener.flaky).toMatchObject({ state: 'done', attempts: 3, lastError: null });
    expect(byListener.audit).toMatchObject({ state: 'done', attempts: 1 });
  });

  it('(b) dead-letters a listener that always throws after maxAttempts; redrive brings it back', async () => {
    listeners.brokenFixed = false;
    const id = await post(invoicePaidEvent());
    await settled(id);
    const dead = (await deliveries(id)).broken;
    expect(dead).toMatchObject({ state: 'dead', attempts: 3, lastError: 'Error: broken listener' });
    expect((await events.counts()).dead).toBeGreaterThanOrEqual(1);
    expect(await events.listDeliveries({ state: 'dead' })).toEqual(
      expect.arrayContaining([expect.objectContaining({ id: `${id}:broken` })]),
    );

    listeners.brokenFixed = true;
    await events.redrive(`${id}:broken`);
    await waitFor(
      async () => (await deliveries(id)).broken.state === 'done',
      10_000,
      'redriven delivery',
    );
    expect((await deliveries(id)).broken).toMatchObject({ attempts: 1, lastError: null });
    expect(runsOf('audit', id)).toHaveLength(1);
  });

  it('(f) replay runs every listener again with the same idempotency keys', async () => {
    const id = await post(provisioningStartEvent({ customerId: 'owner_replay' }));
    await settled(id);
    const keysBefore = listeners.runs
      .filter((r) => r.event.id === id)
      .map((r) => r.context.idempotencyKey)
      .sort();
    expect(await events.replay(id)).toBe(4); // three test listeners and the built-in provisioning one
    await waitFor(() => runsOf('audit', id).length === 2, 10_000, 'replayed runs');
    await settled(id);
    const replayed = listeners.runs.filter((r) => r.event.id === id).slice(keysBefore.length);
    expect(replayed.map((r) => r.context.idempotencyKey).sort()).toEqual(keysBefore);
  });

  it('answers 2xx before any listener runs: a listener that blocks does not hold the ack', async () => {
    let open!: () => void;
    listeners.gate = new Promise<void>((resolve) => (open = resolve));
    const started = Date.now();
    const id = await post({
      type: 'customer.blocked',
      createdAt: new Date().toISOString(),
      object: {},
    });
    expect(Date.now() - started).toBeLessThan(2000);
    await waitFor(() => runsOf('blocking', id).length === 1, 10_000, 'blocking listener to start');
    expect((await deliveries(id)).blocking.state).toBe('active');
    open();
    await waitFor(
      async () => (await deliveries(id)).blocking.state === 'done',
      10_000,
      'blocking listener',
    );
  });

  it('lists events newest first with filters and keyset pages', async () => {
    const page = await events.listEvents({ type: 'provisioning.start', limit: 2 });
    expect(page).toHaveLength(2);
    expect(page[0].receivedAt.getTime()).toBeGreaterThanOrEqual(page[1].receivedAt.getTime());
    const next = await events.listEvents({
      type: 'provisioning.start',
      limit: 2,
      before: page[1].id,
    });
    expect(next.map((e) => e.id)).not.toContain(page[0].id);
    expect(next.every((e) => e.type === 'provisioning.start')).toBe(true);
  });

  it('replay of a quarantined event accepts it once it validates', async () => {
    const db$ = host.app.get(DataSource);
    const [{ id }] = await db$.query(
      `INSERT INTO aqueduct_events (dedup_key, type, status, payload, errors)
       VALUES ('manual:1', 'customer.created', 'quarantined', '{"type":"customer.created","object":{}}', '["old rule"]') RETURNING id`,
    );
    expect(await events.replay(id)).toBe(1); // audit ('*')
    await settled(id);
    expect((await events.getEvent(id)).status).toBe('accepted');
  });
});

describe('Graceful shutdown', () => {
  it('(e) finishes the listener that is running before the app closes', async () => {
    const db = await createTestDatabase();
    @Injectable()
    class Slow {
      finished = 0;
      // Not '*': the ledger's access.started for this event would start a second slow run, and
      // whether it starts before the close is a race this test is not about.
      @OnAqueductEvent('provisioning.start')
      async slow() {
        await new Promise((resolve) => setTimeout(resolve, 700));
        this.finished++;
      }
    }
    const app = await createTestApp({
      databaseUrl: db.url,
      aqueduct: { secrets: [SECRET], dispatch: { pollIntervalMs: 50 } },
      imports: [{ module: class SlowModule {}, providers: [Slow] }],
    });
    try {
      const { body, headers } = signAqueductRequest(provisioningStartEvent(), {
        scheme: 'shared-secret',
        secret: SECRET,
      });
      const res = await request(app.getHttpServer())
        .post('/webhooks/aqueduct')
        .set(headers)
        .send(body)
        .expect(200);
      const dataSource = app.get(DataSource);
      const state = async () =>
        (
          await dataSource.query(
            `SELECT state FROM aqueduct_deliveries WHERE event_id = $1 AND listener = 'Slow.slow'`,
            [res.body.id],
          )
        )[0]?.state;
      await waitFor(async () => (await state()) === 'active', 5000, 'the listener to start');
      const slow = app.get(Slow);
      // Read the row from outside after close: the app's own pool is gone then.
      await app.close();
      expect(slow.finished).toBe(1);
      const { Client } = await import('pg');
      const client = new Client({ connectionString: db.url });
      await client.connect();
      const { rows } = await client.query(
        `SELECT state, attempts FROM aqueduct_deliveries WHERE event_id = $1 AND listener = 'Slow.slow'`,
        [res.body.id],
      );
      await client.end();
      expect(rows).toEqual([{ state: 'done', attempts: 1 }]);
    } finally {
      await db.drop();
    }
  });
});

/** Host listeners that misbehave in ways a host's code can. */
@Injectable()
class Misbehaving {
  hung = 0;
  billed: string[] = [];
  bodies = 0;

  /** A call to a service that never answers (no socket timeout): its promise never settles. */
  @OnAqueductEvent('crm.sync', { name: 'crm' })
  crm(): Promise<void> {
    this.hung++;
    return new Promise(() => undefined);
  }

  @OnAqueductEvent('invoice.paid', { name: 'billing' })
  billing(event: AqueductEvent): void {
    this.billed.push(event.id);
  }

  /** Rejects with a parsed error body that has no prototype: String() of it throws. */
  @OnAqueductEvent('erp.sync', { name: 'erp' })
  async erp(): Promise<void> {
    this.bodies++;
    throw Object.assign(Object.create(null), { code: 'E_ERP', detail: 'down' });
  }
}

describe('Listeners that misbehave', () => {
  const host = useTestApp({
    aqueduct: {
      secrets: [SECRET],
      dispatch: {
        concurrency: 2,
        maxAttempts: 2,
        listenerTimeoutMs: 300,
        leaseMs: 500,
        pollIntervalMs: 50,
        retryBaseDelayMs: 50,
        retryMaxDelayMs: 100,
      },
    },
    imports: [{ module: class MisbehavingModule {}, providers: [Misbehaving] }],
  });
  const post = (type: string, object: unknown) =>
    postAccepted(host.app, { type, createdAt: new Date().toISOString(), object }, SECRET);
  const deliveryOf = (eventId: string, listener: string) =>
    host.app
      .get(DataSource)
      .query(
        `SELECT state, attempts, last_error FROM aqueduct_deliveries WHERE event_id = $1 AND listener = $2`,
        [eventId, listener],
      )
      .then((rows: { state: string; attempts: number; last_error: string | null }[]) => rows[0]);

  it('one that never settles fails its attempts by dispatch.listenerTimeoutMs, and does not take every slot', async () => {
    const listeners = host.app.get(Misbehaving);
    // As many hung runs as slots (concurrency 2).
    const hung = [await post('crm.sync', { n: 1 }), await post('crm.sync', { n: 2 })];
    await waitFor(() => listeners.hung >= 2, 5000, 'both hung runs to start');
    const paid = await post('invoice.paid', { id: 'in_hung' });
    await waitFor(() => listeners.billed.includes(paid), 10_000, 'the other listener to run');
    for (const id of hung) {
      const row = await waitFor(
        async () => {
          const found = await deliveryOf(id, 'crm');
          return found?.state === 'dead' && found;
        },
        10_000,
        'the hung delivery to be dead-lettered',
      );
      expect(row).toMatchObject({ attempts: 2 });
      expect(row.last_error).toContain('did not finish within 300 ms (dispatch.listenerTimeoutMs)');
    }
  });

  it('one that throws a value which is not an Error fails its attempt, and the process lives on', async () => {
    const id = await post('erp.sync', {});
    const row = await waitFor(
      async () => {
        const found = await deliveryOf(id, 'erp');
        return found?.state === 'dead' && found;
      },
      10_000,
      'the erp delivery to be dead-lettered',
    );
    expect(row.last_error).toBe('{"code":"E_ERP","detail":"down"}');
    expect(host.app.get(Misbehaving).bodies).toBe(2);
  });
});

/** A listener held until the test lets it fail, and a watch on dead-delivery alerts. */
@Injectable()
class FencedListeners {
  release?: () => void;
  readonly deadAlerts: string[] = [];

  @OnAqueductEvent('crm.fenced', { name: 'fenced' })
  async fenced(): Promise<void> {
    await new Promise<void>((resolve) => (this.release = resolve));
    throw new Error('gave up');
  }

  @OnAqueductEvent('delivery.dead', { name: 'dead-watch' })
  watch(event: AqueductEvent<{ deliveryId: string }>): void {
    this.deadAlerts.push(event.object.deliveryId);
  }
}

describe('A last attempt that fails after its lease lapsed', () => {
  const host = useTestApp({
    aqueduct: { secrets: [SECRET], dispatch: { maxAttempts: 1, pollIntervalMs: 50 } },
    imports: [{ module: class FencedModule {}, providers: [FencedListeners] }],
  });

  it('records nothing and raises no dead-delivery alert: another instance holds it', async () => {
    const listeners = host.app.get(FencedListeners);
    const id = await postAccepted(
      host.app,
      { type: 'crm.fenced', createdAt: new Date().toISOString(), object: {} },
      SECRET,
    );
    await waitFor(() => listeners.release !== undefined, 5000, 'the listener to start');
    const dataSource = host.app.get(DataSource);
    // As if its lease had lapsed and another instance had claimed it meanwhile.
    await dataSource.query(
      `UPDATE aqueduct_deliveries SET locked_by = 'another-instance' WHERE event_id = $1 AND listener = 'fenced'`,
      [id],
    );
    listeners.release!();
    await new Promise((resolve) => setTimeout(resolve, 500));
    const [row] = await dataSource.query(
      `SELECT state, locked_by FROM aqueduct_deliveries WHERE event_id = $1 AND listener = 'fenced'`,
      [id],
    );
    expect(row).toEqual({ state: 'active', locked_by: 'another-instance' });
    expect(listeners.deadAlerts).toEqual([]);
  });
});
