import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { OnAqueductEvent } from 'nestjs-aqueduct';
import { provisioningStartEvent, signAqueductRequest } from 'nestjs-aqueduct/testing';
import { Client } from 'pg';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { storedEvents } from './support/app';
import { useTestApp } from './support/use-test-app';
import { waitFor } from './support/wait';

const SECRET = 'pool-reserve-secret';
const PATH = '/webhooks/aqueduct';

/**
 * An ordinary host listener that uses the app's database for a while: a report, a bulk sync, a
 * transaction around a call to a CRM. Here: 8 s of work on one pooled connection.
 */
@Injectable()
class SlowReportListener {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  @OnAqueductEvent('report.generate', { name: 'slow-report' })
  async generate() {
    await this.dataSource.query('SELECT pg_sleep(8)');
  }
}

const post = (app: { getHttpServer(): any }, payload: unknown) => {
  const { body, headers } = signAqueductRequest(payload, {
    scheme: 'shared-secret',
    secret: SECRET,
  });
  return request(app.getHttpServer()).post(PATH).set(headers).send(body);
};

describe('Host listeners that hold pooled connections', () => {
  // pg's default pool (10), which is what a host gets when it passes no `extra.max`, and the
  // dispatcher's default concurrency (10).
  const host = useTestApp({
    aqueduct: { secrets: [SECRET], expiry: { enabled: false } },
    extra: { max: 10 },
    imports: [{ module: class Host {}, providers: [SlowReportListener] }],
  });

  it('do not starve the webhook: at most the pool less its reserve run, and a provisioning.start is answered 200', async () => {
    // Ten events of a host type: each accepted at once (200), its listener then runs in the
    // background, seven at a time (the pool's ten less the three the module keeps).
    // Sent together, so they are stored in one batch before any listener holds a connection.
    const reports = await Promise.all(
      Array.from({ length: 10 }, (_, n) =>
        post(host.app, {
          type: 'report.generate',
          createdAt: new Date().toISOString(),
          object: { n },
        }),
      ),
    );
    expect(reports.map((r) => r.status)).toEqual(Array(10).fill(200));
    const watcher = new Client({ connectionString: host.db.url });
    await watcher.connect();
    try {
      await waitFor(
        async () =>
          (
            await watcher.query(
              `SELECT count(*)::int AS n FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(8)' AND state = 'active'`,
            )
          ).rows[0].n >= 7,
        5000,
        'the listeners to be running',
      );
      await new Promise((resolve) => setTimeout(resolve, 500));
      // Postgres is up and idle apart from the sleeps: a direct connection answers at once.
      const t0 = Date.now();
      await watcher.query('SELECT 1');
      expect(Date.now() - t0).toBeLessThan(500);

      // Aqueduct's real delivery, arriving while the host's listeners run.
      const started = Date.now();
      const answer = await post(host.app, provisioningStartEvent());
      const tookMs = Date.now() - started;
      expect({ status: answer.status, body: answer.body, tookUnder3s: tookMs < 3000 }).toEqual({
        status: 200,
        body: { received: true, id: expect.any(String) },
        tookUnder3s: true,
      });
    } finally {
      await watcher.end();
    }
    expect((await storedEvents(host.app)).some((e) => e.type === 'provisioning.start')).toBe(true);
  }, 30_000);
});
