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
});
