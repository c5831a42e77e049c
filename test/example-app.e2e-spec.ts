import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { provisioningStartEvent, signAqueductRequest } from 'nestjs-aqueduct/testing';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { DEVELOPMENT_SECRET } from '../src/app.config';
import { AppModule } from '../src/app.module';
import { createTestDatabase, type TestDatabase } from './support/database';

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
});
