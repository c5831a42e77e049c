import { NestFactory } from '@nestjs/core';
import { provisioningStartEvent, signAqueductRequest } from 'nestjs-aqueduct/testing';
import request from 'supertest';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { DEVELOPMENT_SECRET } from '../src/app.config';
import { AppModule } from '../src/app.module';
import { useExampleApp } from './support/example-app';
import { useTestDatabase } from './support/use-test-database';
import { waitFor } from './support/wait';

/** The example app, configured from the environment as `npm start` does. */
describe('Example app', () => {
  const host = useExampleApp({
    AQUEDUCT_VERIFICATION: 'standard-webhooks',
    AQUEDUCT_WEBHOOK_SECRET: undefined,
  });

  it('serves the endpoint and stores a request signed with the development secret', async () => {
    const { body, headers } = signAqueductRequest(provisioningStartEvent(), {
      scheme: 'standard-webhooks',
      secret: DEVELOPMENT_SECRET,
    });
    const res = await request(host.app.getHttpServer())
      .post('/webhooks/aqueduct')
      .set(headers)
      .send(body)
      .expect(200);
    const rows = await host.app
      .get(DataSource)
      .query('SELECT type, status FROM aqueduct_events WHERE id = $1', [res.body.id]);
    expect(rows).toEqual([{ type: 'provisioning.start', status: 'accepted' }]);
  });

  it('GET /health answers 200 with the database and aqueduct checks up', async () => {
    const res = await request(host.app.getHttpServer()).get('/health').expect(200);
    expect(res.body).toMatchObject({
      status: 'ok',
      info: { database: { status: 'up' }, aqueduct: { status: 'up' } },
    });
  });

  it('GET /metrics answers 200 in the Prometheus text format, with the aqueduct_ series', async () => {
    const { body, headers } = signAqueductRequest(provisioningStartEvent(), {
      scheme: 'standard-webhooks',
      secret: DEVELOPMENT_SECRET,
    });
    await request(host.app.getHttpServer())
      .post('/webhooks/aqueduct')
      .set(headers)
      .send(body)
      .expect(200);
    const res = await request(host.app.getHttpServer()).get('/metrics').expect(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain/);
    expect(res.text).toContain('# TYPE aqueduct_webhooks_received_total counter');
    expect(res.text).toMatch(
      /^aqueduct_webhooks_received_total\{type="provisioning\.start",outcome="accepted"\} [1-9]\d*$/m,
    );
  });

  it('serves the console at /aqueduct/console outside production', async () => {
    const page = await request(host.app.getHttpServer()).get('/aqueduct/console').expect(200);
    expect(page.text).toContain('Aqueduct console');
  });

  it('gates a route with @RequiresEntitlement and reports access per product', async () => {
    const event = provisioningStartEvent({ customerId: 'owner_example', productId: 'prod_pro' });
    const { body, headers } = signAqueductRequest(event, {
      scheme: 'standard-webhooks',
      secret: DEVELOPMENT_SECRET,
    });
    await request(host.app.getHttpServer()).get('/customers/owner_example/reports').expect(403);
    await request(host.app.getHttpServer())
      .post('/webhooks/aqueduct')
      .set(headers)
      .send(body)
      .expect(200);
    const access = await waitFor(async () => {
      const res = await request(host.app.getHttpServer()).get('/customers/owner_example/access');
      // Entitlements come from Postgres, features and seats from the access cache, which hears of
      // the commit by NOTIFY a moment later (longer on a loaded machine): wait for both.
      return res.body.products?.prod_pro === true && res.body.seats > 0 && res.body;
    });
    expect(access.entitlements[0]).toMatchObject({ status: 'active', hasAccess: true });
    expect(access).toMatchObject({ features: ['api', 'reports'], seats: 2 });
    await request(host.app.getHttpServer()).get('/customers/owner_example/reports').expect(200);
    await request(host.app.getHttpServer()).get('/customers/owner_example/sso').expect(403);
  });
});

/** In production the example app serves the console only behind its password guard. */
describe('Example app in production: the console behind a password', () => {
  // Colons are allowed in a Basic password (only the user name may not contain one).
  const PASSWORD = 'correct:horse:battery';
  const basic = (credentials: string) => `Basic ${Buffer.from(credentials).toString('base64')}`;

  const host = useExampleApp({
    NODE_ENV: 'production',
    AQUEDUCT_WEBHOOK_SECRET: 'whsec_cHJvZHVjdGlvbi1saWtlLXNlY3JldC1mb3ItdGVzdHM=',
    AQUEDUCT_CONSOLE_PASSWORD: PASSWORD,
  });

  it('asks for the password, refuses a wrong one, and opens with the right one', async () => {
    const server = host.app.getHttpServer();
    const missing = await request(server).get('/aqueduct/console').expect(401);
    expect(missing.headers['www-authenticate']).toMatch(/^Basic /);
    await request(server)
      .get('/aqueduct/console')
      .set('Authorization', basic('admin:correct'))
      .expect(401);
    const page = await request(server)
      .get('/aqueduct/console')
      .set('Authorization', basic(`admin:${PASSWORD}`))
      .expect(200);
    expect(page.text).toContain('Aqueduct console');
  });
});

/** In production the example app does not start with the development secret, set or defaulted. */
describe('Example app in production: the development secret is refused', () => {
  const db = useTestDatabase();
  const env = { ...process.env };

  afterEach(() => {
    process.env = { ...env };
  });
  afterAll(() => {
    process.env = env;
  });

  /** Boots the app in production with this secret (undefined: unset); returns why it failed. */
  async function startFailure(secret: string | undefined): Promise<Error> {
    process.env.DATABASE_URL = db.url;
    process.env.NODE_ENV = 'production';
    if (secret === undefined) {
      delete process.env.AQUEDUCT_WEBHOOK_SECRET;
    } else {
      process.env.AQUEDUCT_WEBHOOK_SECRET = secret;
    }
    // abortOnError: false makes Nest throw instead of exiting the process, as `npm start` does.
    const started = await NestFactory.create(AppModule, {
      logger: false,
      abortOnError: false,
    }).catch((error: Error) => error);
    if (!(started instanceof Error)) {
      await started.close();
      throw new Error(`the app started in production with AQUEDUCT_WEBHOOK_SECRET=${secret}`);
    }
    return started;
  }

  /** Connections to the test database (other than this one) and whether any migration ran. */
  async function databaseUntouched(): Promise<boolean> {
    const client = new Client({ connectionString: db.url });
    await client.connect();
    try {
      const { rows } = await client.query(
        `SELECT (SELECT count(*)::int FROM pg_stat_activity
                  WHERE datname = current_database() AND pid <> pg_backend_pid()) AS connections,
                to_regclass('aqueduct_events') IS NULL AS "noTables"`,
      );
      return rows[0].connections === 0 && rows[0].noTables === true;
    } finally {
      await client.end();
    }
  }

  it('refuses to start without AQUEDUCT_WEBHOOK_SECRET, before touching the database', async () => {
    const error = await startFailure(undefined);
    expect(error.message).toMatch(/^AQUEDUCT_WEBHOOK_SECRET is not set/);
    expect(await databaseUntouched()).toBe(true);
  });

  it('refuses to start with the development secret, alone or among others in a rotation', async () => {
    const other = `whsec_${Buffer.from('a-production-secret-for-this-test').toString('base64')}`;
    for (const secret of [DEVELOPMENT_SECRET, `${other}, ${DEVELOPMENT_SECRET}`]) {
      const error = await startFailure(secret);
      expect(error.message).toMatch(/^AQUEDUCT_WEBHOOK_SECRET holds the development secret/);
    }
    expect(await databaseUntouched()).toBe(true);
  });
});
