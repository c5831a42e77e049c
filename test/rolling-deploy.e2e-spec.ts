/**
 * A release that adds a listener, deployed instance by instance: the instances still on the
 * previous release take events and create no delivery for the new listener. The new instances
 * give it, with their catch-up, what was received without it since it first appeared; nothing
 * from before. Two apps on one real Postgres, real HTTP.
 */
import type { INestApplication } from '@nestjs/common';
import { Injectable, type Provider } from '@nestjs/common';
import { type AqueductEvent, AqueductEventReader, OnAqueductEvent } from 'nestjs-aqueduct';
import {
  invoicePaidEvent,
  postAqueductEvent,
  provisioningStartEvent,
} from 'nestjs-aqueduct/testing';
import { DataSource } from 'typeorm';
import { ListenerCatchUp } from '../libs/aqueduct/src/listeners/listener-catch-up';
import { createTestApp } from './support/app';
import { createTestDatabase, type TestDatabase } from './support/database';
import { postAccepted } from './support/post';
import { waitFor } from './support/wait';

const SECRET = 'rolling-deploy-secret';

/** The previous release's listener. */
@Injectable()
class Audit {
  @OnAqueductEvent('provisioning.start', { name: 'audit' })
  audit() {}
}

/** The release being deployed: the same, and a new one. */
@Injectable()
class Welcome {
  readonly runs: string[] = [];
  @OnAqueductEvent('provisioning.start', { name: 'welcome' })
  welcome(event: AqueductEvent) {
    this.runs.push(event.id);
  }
}

/** A release of `audit` that also takes invoice.paid. */
@Injectable()
class WiderAudit {
  @OnAqueductEvent(['provisioning.start', 'invoice.paid'], { name: 'audit' })
  audit() {}
}

describe('A rolling deploy that adds a listener', () => {
  let db: TestDatabase;
  let previous: INestApplication;
  let next: INestApplication;
  const boot = (providers: Provider[]) =>
    createTestApp({
      databaseUrl: db.url,
      aqueduct: { secrets: [SECRET], expiry: { enabled: false }, dispatch: { pollIntervalMs: 50 } },
      imports: [{ module: class ReleaseModule {}, providers }],
    });
  const post = (app: INestApplication, customerId: string) =>
    postAccepted(app, provisioningStartEvent({ customerId }), SECRET);
  const listenersOf = async (id: string) =>
    (await previous.get(AqueductEventReader).getEvent(id)).deliveries.map((d) => d.listener).sort();

  beforeAll(async () => {
    db = await createTestDatabase();
    previous = await boot([Audit]);
  });
  afterAll(async () => {
    await next?.close();
    await previous?.close();
    await db?.drop();
  });

  it('gives the new listener what the previous release took since it appeared, once', async () => {
    const before = await post(previous, 'owner_before_deploy');
    next = await boot([Audit, Welcome]);
    // The deploy is under way: the previous release still takes events.
    const during = await post(previous, 'owner_during_deploy');
    const onNext = await post(next, 'owner_on_new_release');
    const paid = await postAccepted(previous, invoicePaidEvent(), SECRET);
    const invalid = await postAqueductEvent(
      previous,
      { type: 'provisioning.start', object: { customerId: 'owner_invalid' } },
      { scheme: 'shared-secret', secret: SECRET },
    );
    expect(invalid.body).toMatchObject({ quarantined: true });
    expect(await listenersOf(during)).not.toContain('welcome');

    expect(await next.get(ListenerCatchUp).catchUp()).toEqual({ welcome: 1 });
    const welcome = next.get(Welcome);
    await waitFor(() => welcome.runs.includes(during), 10_000, 'the caught-up delivery to run');
    expect(await listenersOf(during)).toContain('welcome');
    // Nothing before the listener appeared, nothing of another type, nothing in quarantine.
    expect(await listenersOf(before)).not.toContain('welcome');
    expect(await listenersOf(paid)).not.toContain('welcome');
    expect(await listenersOf(invalid.body.id)).toEqual([]);
    // The next look finds nothing more, on either release (the previous one's listeners were
    // there first: never new).
    expect(await next.get(ListenerCatchUp).catchUp()).toEqual({});
    expect(await previous.get(ListenerCatchUp).catchUp()).toEqual({});
    const register = await previous
      .get(DataSource)
      .query(
        `SELECT name, first_seen_at = '-infinity' AS "alwaysThere" FROM aqueduct_listeners ORDER BY name`,
      );
    expect(register).toEqual(
      expect.arrayContaining([
        { name: 'audit', alwaysThere: true },
        { name: 'welcome', alwaysThere: false },
      ]),
    );
    await waitFor(() => welcome.runs.includes(onNext), 10_000, 'the new release’s own delivery');
    expect(welcome.runs.filter((id) => id === during || id === onNext)).toHaveLength(2);
  });

  it('a listener that takes a new event type gets that type the previous release took', async () => {
    const wider = await boot([WiderAudit]);
    try {
      const paid = await postAccepted(previous, invoicePaidEvent(), SECRET);
      expect(await listenersOf(paid)).not.toContain('audit');
      expect(await wider.get(ListenerCatchUp).catchUp()).toEqual({ audit: 1 });
      expect(await listenersOf(paid)).toContain('audit');
    } finally {
      await wider.close();
    }
  });

  it('a listener a release took away and a later one gives back counts as new again', async () => {
    const db = previous.get(DataSource);
    // `welcome` ran last long ago (the release without it has been running for a day).
    await db.query(
      `UPDATE aqueduct_listeners SET first_seen_at = now() - interval '10 days',
              caught_up_to = now() - interval '1 day', last_seen_at = now() - interval '1 day'
        WHERE name = 'welcome'`,
    );
    await next.close();
    next = await boot([Audit, Welcome]);
    const during = await post(previous, 'owner_readded');
    expect(await next.get(ListenerCatchUp).catchUp()).toEqual({ welcome: 1 });
    expect(await listenersOf(during)).toContain('welcome');
  });

  it('the mark never passes a write still open: its event, committed late, is caught up', async () => {
    const runner = previous.get(DataSource).createQueryRunner();
    await runner.connect();
    let id: string;
    try {
      await runner.startTransaction();
      // An intake of the previous release whose transaction stays open across a look.
      [{ id }] = await runner.query(
        `INSERT INTO aqueduct_events (dedup_key, type, created_at, payload, status)
         VALUES ('late-commit', 'provisioning.start', now(), '{"type":"provisioning.start","object":{}}', 'accepted')
         RETURNING id`,
      );
      expect(await next.get(ListenerCatchUp).catchUp()).toEqual({}); // not visible yet
      await runner.commitTransaction();
    } finally {
      await runner.release();
    }
    const [{ behind }] = await previous.get(DataSource).query(
      `SELECT l.caught_up_to <= e.received_at AS behind
         FROM aqueduct_listeners l, aqueduct_events e
        WHERE l.name = 'welcome' AND l.event_type = 'provisioning.start' AND e.id = $1`,
      [id!],
    );
    expect(behind).toBe(true);
    expect(await next.get(ListenerCatchUp).catchUp()).toEqual({ welcome: 1 });
  });
});
