import type { INestApplication } from '@nestjs/common';
import { provisioningStartEvent, signAqueductRequest } from 'nestjs-aqueduct/testing';
import request from 'supertest';
import { Client } from 'pg';
import { createTestApp } from './support/app';
import { createTestDatabase, type TestDatabase } from './support/database';
import { TcpProxy } from './support/tcp-proxy';

const SECRET = 'database-down-secret';
const sign = () =>
  signAqueductRequest(provisioningStartEvent(), { scheme: 'shared-secret', secret: SECRET });

describe('Database unavailable', () => {
  let db: TestDatabase;
  let proxy: TcpProxy;
  let app: INestApplication;

  beforeAll(async () => {
    db = await createTestDatabase();
    proxy = TcpProxy.inFrontOf(db.url);
    await proxy.start();
    app = await createTestApp({
      databaseUrl: proxy.routed(db.url),
      aqueduct: { secrets: [SECRET], storeTimeoutMs: 2000 },
      extra: { connectionTimeoutMillis: 1000 },
    });
  });
  afterAll(async () => {
    await proxy?.stop();
    await app?.close().catch(() => undefined);
    await db?.drop();
  });

  /** Aqueduct's events stored (not the `access.*` events the ledger writes as they are applied). */
  const countDirect = async () => {
    const client = new Client({ connectionString: db.url });
    await client.connect();
    const { rows } = await client.query(
      `SELECT count(*)::int AS n FROM aqueduct_events WHERE type = 'provisioning.start'`,
    );
    await client.end();
    return rows[0].n as number;
  };

  it('answers 503 with Retry-After while Postgres is unreachable, stores nothing, and recovers by itself', async () => {
    const post = (signed: { body: string; headers: Record<string, string> }) =>
      request(app.getHttpServer()).post('/webhooks/aqueduct').set(signed.headers).send(signed.body);
    await post(sign()).expect(200);
    const port = proxy.port;

    await proxy.stop();
    const during = sign();
    const answers = await Promise.all([post(during), post(sign()), post(sign())]);
    for (const res of answers) {
      expect(res.status).toBe(503);
      expect(res.headers['retry-after']).toBeDefined();
      expect(res.body).toMatchObject({ statusCode: 503, error: 'Service Unavailable' });
    }
    expect(await countDirect()).toBe(1);

    await proxy.start(port);
    // The sender's retry of the very request that got a 503 is stored once.
    const retried = await post(during);
    expect([200]).toContain(retried.status);
    expect(retried.body.duplicate).toBeUndefined();
    expect(await countDirect()).toBe(2);
  });
});
