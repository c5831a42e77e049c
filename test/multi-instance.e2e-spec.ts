import { Inject, Injectable } from '@nestjs/common';
import { type AqueductListenerContext, OnAqueductEvent } from 'nestjs-aqueduct';
import { provisioningStartEvent, signAqueductRequest } from 'nestjs-aqueduct/testing';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { useTestApp } from './support/use-test-app';
import { waitFor } from './support/wait';

const SECRET = 'multi-instance-secret';
const EVENTS = 500;
const INSTANCE = 'INSTANCE';

/** Every run of every listener in every instance, shared because the three apps share this process. */
const runs = new Map<string, string[]>();

@Injectable()
class CountingListeners {
  constructor(
    @Inject(INSTANCE) private readonly instance: string,
    private readonly dataSource: DataSource,
  ) {}

  private async run(context: AqueductListenerContext) {
    runs.set(context.idempotencyKey, [...(runs.get(context.idempotencyKey) ?? []), this.instance]);
    // No ON CONFLICT: a second run of the same delivery would fail loudly here.
    await this.dataSource.query(`INSERT INTO test_effects (key, instance) VALUES ($1, $2)`, [
      context.idempotencyKey,
      this.instance,
    ]);
  }

  @OnAqueductEvent('provisioning.start', { name: 'grant' })
  grant(_event: unknown, context: AqueductListenerContext) {
    return this.run(context);
  }

  @OnAqueductEvent('*', { name: 'audit' })
  audit(_event: unknown, context: AqueductListenerContext) {
    return this.run(context);
  }
}

describe('(d) Three instances against one database', () => {
  const names = ['a', 'b', 'c'];
  const host = useTestApp(
    (instance) => ({
      aqueduct: { secrets: [SECRET], dispatch: { concurrency: 8, pollIntervalMs: 200 } },
      imports: [
        {
          module: class InstanceModule {},
          providers: [{ provide: INSTANCE, useValue: names[instance] }, CountingListeners],
        },
      ],
    }),
    { instances: names.length },
  );
  beforeAll(async () => {
    await host.app
      .get(DataSource)
      .query(`CREATE TABLE test_effects (key text PRIMARY KEY, instance text NOT NULL)`);
  });

  it('processes 500 events (some delivered twice, to different instances) with every delivery run exactly once', async () => {
    const signed = Array.from({ length: EVENTS }, (_, i) =>
      signAqueductRequest(provisioningStartEvent({ customerId: `owner_${i}` }), {
        scheme: 'shared-secret',
        secret: SECRET,
      }),
    );
    // Every tenth event is also sent again to another instance, as a sender retry would.
    const sends = [
      ...signed.map((s, i) => ({ s, app: host.instances[i % 3] })),
      ...signed
        .filter((_, i) => i % 10 === 0)
        .map((s, i) => ({ s, app: host.instances[(i + 1) % 3] })),
    ];
    const statuses: number[] = [];
    for (let i = 0; i < sends.length; i += 25) {
      const batch = await Promise.all(
        sends
          .slice(i, i + 25)
          .map(({ s, app }) =>
            request(app.getHttpServer()).post('/webhooks/aqueduct').set(s.headers).send(s.body),
          ),
      );
      statuses.push(...batch.map((res) => res.status));
    }
    expect(statuses.every((status) => status === 200)).toBe(true);

    const dataSource = host.instances[0].get(DataSource);
    await waitFor(
      async () =>
        (
          await dataSource.query(
            `SELECT count(*)::int AS n FROM aqueduct_deliveries WHERE state <> 'done'`,
          )
        )[0].n === 0,
      60_000,
      'every delivery to be done',
    );
    const [{ events, deliveries, maxAttempts }] = await dataSource.query(
      `SELECT (SELECT count(*)::int FROM aqueduct_events) AS events,
              count(*)::int AS deliveries, max(attempts) AS "maxAttempts" FROM aqueduct_deliveries`,
    );
    // Each event is a new customer's start, so each also yields exactly one `access.started`,
    // whichever instance applied it.
    expect({ events, deliveries, maxAttempts }).toEqual({
      events: EVENTS * 2,
      // provisioning.start: grant, audit and the built-in provisioning listener;
      // access.started: audit and the provisioning listener.
      deliveries: EVENTS * 5,
      maxAttempts: 1,
    });
    expect(runs.size).toBe(EVENTS * 3);
    expect([...runs.values()].every((instances) => instances.length === 1)).toBe(true);
    const [{ effects }] = await dataSource.query(
      `SELECT count(*)::int AS effects FROM test_effects`,
    );
    expect(effects).toBe(EVENTS * 3);
    const workers = new Set([...runs.values()].flat());
    expect(workers.size).toBeGreaterThan(1);
  });
});
