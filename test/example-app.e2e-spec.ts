import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { provisioningStartEvent, signAqueductRequest } from 'nestjs-aqueduct/testing';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { DEVELOPMENT_SECRET } from '../src/app.config';
import { AppModule } from '../src/app.module';
import { createTestDatabase, type TestDatabase } from './support/database';
import { waitFor } from './support/wait';

/** The example app, configured from the environment as `npm start` does. */
describe('Example app', () => {
  let db: TestDatabase;
  let app: INestApplication;
  const env = { ...process.env };

  beforeAll(async () => {
    db = await createTestDatabase();
    process.env.DATABASE_URL = db.url;
    process.env.AQUEDUCT_VERIFICATION = 'standard-webhooks';
    delete process.env.AQUEDUCT_WEBHOOK_SECRET;
    app = await NestFactory.create(AppModule, { logger: false });
    await app.init();
  });
  afterAll(async () => {
    await app?.close();
    process.env = env;
    await db?.drop();
  });

  it('serves the endpoint and stores a request signed with the development secret', async () => {
    const { body, headers } = signAqueductRequest(provisioningStartEvent(), {
      scheme: 'standard-webhooks',
      secret: DEVELOPMENT_SECRET,
    });
    const res = await request(app.getHttpServer())
      .post('/webhooks/aqueduct')
      .set(headers)
      .send(body)
      .expect(200);
    const rows = await app
      .get(DataSource)
      .query('SELECT type, status FROM aqueduct_events WHERE id = $1', [res.body.id]);
    expect(rows).toEqual([{ type: 'provisioning.start', status: 'accepted' }]);
  });

  it('serves the console at /aqueduct/console outside production', async () => {
    const page = await request(app.getHttpServer()).get('/aqueduct/console').expect(200);
    expect(page.text).toContain('Aqueduct console');
  });

  it('gates a route with @RequiresEntitlement and reports access per product', async () => {
    const event = provisioningStartEvent({ customerId: 'owner_example', productId: 'prod_pro' });
    const { body, headers } = signAqueductRequest(event, {
      scheme: 'standard-webhooks',
      secret: DEVELOPMENT_SECRET,
    });
    await request(app.getHttpServer()).get('/customers/owner_example/reports').expect(403);
    await request(app.getHttpServer())
      .post('/webhooks/aqueduct')
      .set(headers)
      .send(body)
      .expect(200);
    const access = await waitFor(async () => {
      const res = await request(app.getHttpServer()).get('/customers/owner_example/access');
      return res.body.products?.prod_pro === true && res.body;
    });
    expect(access.entitlements[0]).toMatchObject({ status: 'active', hasAccess: true });
    await request(app.getHttpServer()).get('/customers/owner_example/reports').expect(200);
  });
});

/** In production the example app serves the console only behind its password guard. */
describe('Example app in production: the console behind a password', () => {
  let db: TestDatabase;
  let app: INestApplication;
  const env = { ...process.env };
  // Colons are allowed in a Basic password (only the user name may not contain one).
  const PASSWORD = 'correct:horse:battery';
  const basic = (credentials: string) => `Basic ${Buffer.from(credentials).toString('base64')}`;

  beforeAll(async () => {
    db = await createTestDatabase();
    process.env.DATABASE_URL = db.url;
    process.env.NODE_ENV = 'production';
    process.env.AQUEDUCT_WEBHOOK_SECRET = 'whsec_cHJvZHVjdGlvbi1saWtlLXNlY3JldC1mb3ItdGVzdHM=';
    process.env.AQUEDUCT_CONSOLE_PASSWORD = PASSWORD;
    app = await NestFactory.create(AppModule, { logger: false });
    await app.init();
  });
  afterAll(async () => {
    await app?.close();
    process.env = env;
    await db?.drop();
  });

  it('asks for the password, refuses a wrong one, and opens with the right one', async () => {
    const server = app.getHttpServer();
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
