/**
 * Instances that run different listeners for good: a receive-only tier without a listener the
 * workers run, a dispatching tier with handlers of its own. The catch-up after a rolling deploy
 * gives a new listener a day; past it, an event received where its listener does not run must
 * still get its delivery. Three apps on one real Postgres, real HTTP.
 */
import type { INestApplication } from '@nestjs/common';
import { Injectable, type Provider } from '@nestjs/common';
import { type AqueductEvent, AqueductEventReader, OnAqueductEvent } from 'nestjs-aqueduct';
import { provisioningStartEvent } from 'nestjs-aqueduct/testing';
import { DataSource } from 'typeorm';
import { ListenerCatchUp } from '../libs/aqueduct/src/listeners/listener-catch-up';
import { createTestApp } from './support/app';
import { createTestDatabase, type TestDatabase } from './support/database';
import { postAccepted } from './support/post';
import { waitFor } from './support/wait';

const SECRET = 'listener-tiers-secret';

/** A listener only the worker tier runs (a welcome mail, say). */
@Injectable()
class Welcome {
  readonly runs: string[] = [];
  @OnAqueductEvent('provisioning.start', { name: 'welcome' })
  welcome(event: AqueductEvent) {
    this.runs.push(event.id);
  }
}

/** A listener only the web tier runs. */
@Injectable()
class Audit {
  readonly runs: string[] = [];
  @OnAqueductEvent('provisioning.start', { name: 'audit' })
  audit(event: AqueductEvent) {
    this.runs.push(event.id);
  }
}

describe('Instances that run different listeners', () => {
  let db: TestDatabase;
  const apps: INestApplication[] = [];
  const boot = async (providers: Provider[], dispatch: { enabled?: boolean } = {}) => {
    const app = await createTestApp({
      databaseUrl: db.url,
      aqueduct: {
        secrets: [SECRET],
        ledger: false,
        expiry: { enabled: false },
        dispatch: { pollIntervalMs: 50, ...dispatch },
      },
      imports: [{ module: class TierModule {}, providers }],
    });
    apps.push(app);
    return app;
  };
  const listenersOf = async (app: INestApplication, id: string) =>
    (await app.get(AqueductEventReader).getEvent(id)).deliveries.map((d) => d.listener).sort();
  let worker: INestApplication;

  beforeAll(async () => {
    db = await createTestDatabase();
    worker = await boot([Welcome]);
    // The tiers were split long ago: the catch-up's day after `welcome` appeared is over.
    await worker
      .get(DataSource)
      .query(`UPDATE aqueduct_listeners SET first_seen_at = now() - interval '10 days'`);
  });
  afterAll(async () => {
    for (const app of apps.reverse()) {
      await app.close();
    }
    await db?.drop();
  });

  it('a receive-only instance creates the deliveries of the listeners the workers run', async () => {
    const web = await boot([], { enabled: false });
    const id = await postAccepted(web, provisioningStartEvent({ customerId: 'owner_web' }), SECRET);
    expect(await listenersOf(web, id)).toEqual(['welcome']);
    const welcome = worker.get(Welcome);
    await waitFor(() => welcome.runs.includes(id), 10_000, 'the worker to run welcome');
    expect(await worker.get(ListenerCatchUp).catchUp()).toEqual({}); // nothing left to catch up
  });

  it('a dispatching instance runs its own listeners and leaves the others’ to them', async () => {
    const web = await boot([Audit]);
    const id = await postAccepted(
      web,
      provisioningStartEvent({ customerId: 'owner_mixed' }),
      SECRET,
    );
    expect(await listenersOf(web, id)).toEqual(['audit', 'welcome']);
    await waitFor(() => worker.get(Welcome).runs.includes(id), 10_000, 'the worker to run welcome');
    await waitFor(() => web.get(Audit).runs.includes(id), 10_000, 'the web tier to run audit');
    // The worker learns of `audit` at its next look, and gives it what it receives from then on.
    expect(await worker.get(ListenerCatchUp).learn()).toEqual([
      { name: 'audit', eventType: 'provisioning.start' },
    ]);
    const onWorker = await postAccepted(
      worker,
      provisioningStartEvent({ customerId: 'owner_on_worker' }),
      SECRET,
    );
    expect(await listenersOf(worker, onWorker)).toEqual(['audit', 'welcome']);
    await waitFor(() => web.get(Audit).runs.includes(onWorker), 10_000, 'audit to run on web');

    // An instance that stops takes its listeners along at once: none is left waiting for it.
    await web.close();
    apps.splice(apps.indexOf(web), 1);
    await worker.get(ListenerCatchUp).learn();
    const after = await postAccepted(
      worker,
      provisioningStartEvent({ customerId: 'owner_after_stop' }),
      SECRET,
    );
    expect(await listenersOf(worker, after)).toEqual(['welcome']);
  });

  it('the listeners of an instance that stopped without a word get none after three minutes', async () => {
    await worker
      .get(DataSource)
      .query(`UPDATE aqueduct_instances SET seen_at = now() - interval '4 minutes'`);
    const web = await boot([], { enabled: false });
    const id = await postAccepted(
      web,
      provisioningStartEvent({ customerId: 'owner_gone' }),
      SECRET,
    );
    expect(await listenersOf(web, id)).toEqual([]);
  });
});
