/**
 * A database that answers reads and refuses writes (a failover onto a read-only node, a full
 * disk, a revoked grant): every delivery is answered 503, which is right, since nothing is
 * stored; health, which only reads, must still say so, or Aqueduct disables the endpoint after its
 * last retry with no one told. Real Postgres, real HTTP.
 */
import type { INestApplication } from '@nestjs/common';
import { AqueductHealthIndicator } from 'nestjs-aqueduct';
import { provisioningStartEvent, signAqueductRequest } from 'nestjs-aqueduct/testing';
import { Client } from 'pg';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { createTestApp } from './support/app';
import { createTestDatabase, type TestDatabase } from './support/database';
import { waitFor } from './support/wait';

const SECRET = 'read-only-database-secret';

describe('Postgres answering reads, refusing writes', () => {
  let db: TestDatabase;
  let app: INestApplication;
  let admin: Client;
  const name = () => new URL(db.url).pathname.slice(1);
  /** Drops the app's connections; its pool then holds only new ones, which read. */
  const dropConnections = async () => {
    await admin.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`,
      [name()],
    );
    await waitFor(
      () =>
        app
          .get(DataSource)
          .query('SELECT 1')
          .then(
            () => true,
            () => false,
          ),
      5_000,
      'a connection that reads',
    );
  };
  const post = (productId: string) => {
    const { body, headers } = signAqueductRequest(provisioningStartEvent({ productId }), {
      scheme: 'shared-secret',
      secret: SECRET,
    });
    return request(app.getHttpServer()).post('/webhooks/aqueduct').set(headers).send(body);
  };
  const health = async () =>
    (await app.get(AqueductHealthIndicator).isHealthy('aqueduct')).aqueduct;

  beforeAll(async () => {
    db = await createTestDatabase();
    app = await createTestApp({
      databaseUrl: db.url,
      aqueduct: { secrets: [SECRET], expiry: { enabled: false } },
    });
    const adminUrl = new URL(db.url);
    adminUrl.pathname = '/postgres';
    admin = new Client({ connectionString: adminUrl.toString() });
    await admin.connect();
  });
  afterAll(async () => {
    // In this order: the app's pool ends before the database it reads goes.
    await admin?.query(`ALTER DATABASE "${name()}" RESET default_transaction_read_only`);
    await app?.close().catch(() => undefined);
    await admin?.end();
    await db?.drop();
  });

  it('health degrades at the first failed write and is down from the third, until one is stored', async () => {
    expect((await post('prod_before')).status).toBe(200);
    // The failover: connections drop, new ones land on a node that only reads.
    await admin.query(`ALTER DATABASE "${name()}" SET default_transaction_read_only = on`);
    await dropConnections();

    expect((await post('prod_during_1')).status).toBe(503);
    const first = await health();
    expect(first.status).toBe('up');
    expect(first.warnings).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^webhook events cannot be stored: 1 answered 503/),
      ]),
    );
    for (const n of [2, 3]) {
      expect((await post(`prod_during_${n}`)).status).toBe(503);
    }
    const down = await health();
    expect(down.status).toBe('down');
    expect(down.problems).toEqual(
      expect.arrayContaining([expect.stringMatching(/read-only transaction/)]),
    );

    await admin.query(`ALTER DATABASE "${name()}" RESET default_transaction_read_only`);
    await dropConnections();
    expect((await post('prod_after')).status).toBe(200);
    expect((await health()).status).toBe('up');
  });
});
