import {
  type ArgumentsHost,
  Body,
  Catch,
  type CanActivate,
  Controller,
  type ExceptionFilter,
  type ExecutionContext,
  Injectable,
  type INestApplication,
  Post,
  ValidationPipe,
  VersioningType,
} from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_PIPE } from '@nestjs/core';
import { ConfigModule, ConfigService } from '@nestjs/config';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { AqueductModule, isAqueductWebhookRoute } from 'nestjs-aqueduct';
import { provisioningStartEvent, signAqueductRequest } from 'nestjs-aqueduct/testing';
import request from 'supertest';
import { createTestApp } from './support/app';
import { createTestDatabase, type TestDatabase } from './support/database';

const SECRET = 'host-setup-shared-secret';
const signed = (payload: unknown = provisioningStartEvent()) =>
  signAqueductRequest(payload, { scheme: 'shared-secret', secret: SECRET });

/** A host's auth guard that lets the webhook through, as the README documents. */
@Injectable()
class DenyAllButWebhooksGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    return isAqueductWebhookRoute(context);
  }
}

/** A host's global filter that reshapes every error. */
@Catch()
class EnvelopeFilter implements ExceptionFilter {
  catch(_error: unknown, host: ArgumentsHost) {
    host.switchToHttp().getResponse().status(418).json({ wrapped: true });
  }
}

@Controller('notes')
class NotesController {
  @Post()
  create(@Body() body: unknown) {
    return { echoed: body };
  }
}

describe('The webhook in real host apps', () => {
  let db: TestDatabase;
  beforeAll(async () => (db = await createTestDatabase()));
  afterAll(async () => db?.drop());

  it('forRootAsync with ConfigService, a custom path, a global prefix and URI versioning', async () => {
    const app = await createTestApp({
      databaseUrl: db.url,
      aqueductModule: AqueductModule.forRootAsync({
        imports: [
          ConfigModule.forRoot({
            ignoreEnvFile: true,
            load: [() => ({ AQUEDUCT_WEBHOOK_SECRET: SECRET })],
          }),
        ],
        inject: [ConfigService],
        useFactory: (config: ConfigService) => ({
          secrets: [config.getOrThrow<string>('AQUEDUCT_WEBHOOK_SECRET')],
          path: '/hooks/billing/',
        }),
      }),
      configure: (nest) => {
        nest.setGlobalPrefix('api');
        nest.enableVersioning({ type: VersioningType.URI, defaultVersion: '1' });
      },
    });
    try {
      const { body, headers } = signed();
      await request(app.getHttpServer())
        .post('/api/hooks/billing')
        .set(headers)
        .send(body)
        .expect(200);
      await request(app.getHttpServer())
        .post('/webhooks/aqueduct')
        .set(headers)
        .send(body)
        .expect(404);
    } finally {
      await app.close();
    }
  });

  it("is unaffected by the host's body parser limit, global pipe, guard and exception filter", async () => {
    let app: INestApplication | undefined;
    try {
      app = await createTestApp({
        databaseUrl: db.url,
        aqueduct: { secrets: [SECRET] },
        controllers: [NotesController],
        imports: [],
        configure: (nest) =>
          (nest as NestExpressApplication).useBodyParser('json', { limit: '1kb' }),
      });
      const big = signed(provisioningStartEvent({ metadata: { notes: 'z'.repeat(20_000) } }));
      await request(app.getHttpServer())
        .post('/webhooks/aqueduct')
        .set(big.headers)
        .send(big.body)
        .expect(200);
      // The host's own routes keep their parser and its limit.
      const note = await request(app.getHttpServer())
        .post('/notes')
        .send({ text: 'hi' })
        .expect(201);
      expect(note.body).toEqual({ echoed: { text: 'hi' } });
      await request(app.getHttpServer())
        .post('/notes')
        .send({ text: 'z'.repeat(5000) })
        .expect(413);
    } finally {
      await app?.close();
    }

    const guarded = await createTestApp({
      databaseUrl: db.url,
      aqueduct: { secrets: [SECRET] },
      controllers: [NotesController],
      imports: [
        {
          module: class HostGlobals {},
          providers: [
            { provide: APP_GUARD, useClass: DenyAllButWebhooksGuard },
            { provide: APP_FILTER, useClass: EnvelopeFilter },
            {
              provide: APP_PIPE,
              useValue: new ValidationPipe({ whitelist: true, forbidNonWhitelisted: true }),
            },
          ],
        },
      ],
    });
    try {
      const { body, headers } = signed();
      await request(guarded.getHttpServer())
        .post('/webhooks/aqueduct')
        .set(headers)
        .send(body)
        .expect(200);
      const refused = await request(guarded.getHttpServer())
        .post('/webhooks/aqueduct')
        .set({ ...headers, authorization: 'Bearer nope' })
        .send(body);
      expect(refused.status).toBe(401);
      expect(refused.body).toMatchObject({ statusCode: 401, error: 'Unauthorized' });
      await request(guarded.getHttpServer()).post('/notes').send({}).expect(418);
    } finally {
      await guarded.close();
    }
  });
});

describe('Start-up checks fail fast with a message naming the problem', () => {
  let db: TestDatabase;
  beforeAll(async () => (db = await createTestDatabase()));
  afterAll(async () => db?.drop());

  it('a missing secret (forRootAsync with an unset variable)', async () => {
    await expect(
      createTestApp({
        databaseUrl: db.url,
        lazyDatabase: true,
        aqueductModule: AqueductModule.forRootAsync({
          imports: [ConfigModule.forRoot({ ignoreEnvFile: true, load: [() => ({})] })],
          inject: [ConfigService],
          useFactory: (config: ConfigService) => ({
            secrets: [config.get('AQUEDUCT_WEBHOOK_SECRET')].filter(Boolean),
          }),
        }),
      }),
    ).rejects.toThrow(/option "secrets" must hold at least one/);
  });

  it('a wrong option value', async () => {
    // forRoot checks its options where the module is declared, before anything starts.
    expect(() => AqueductModule.forRoot({ secrets: [SECRET], maxBodyBytes: -1 })).toThrow(
      /"maxBodyBytes" must be a positive integer/,
    );
    await expect(
      createTestApp({
        databaseUrl: db.url,
        lazyDatabase: true,
        aqueduct: { secrets: ['not base64!'], verification: { scheme: 'standard-webhooks' } },
      }),
    ).rejects.toThrow(/"secrets\[0\]" is not a Standard Webhooks secret/);
  });

  it('tables missing because the migrations were not run', async () => {
    const empty = await createTestDatabase();
    try {
      const { Test } = await import('@nestjs/testing');
      const { TypeOrmModule } = await import('@nestjs/typeorm');
      const moduleRef = await Test.createTestingModule({
        imports: [
          TypeOrmModule.forRoot({ type: 'postgres', url: empty.url, autoLoadEntities: true }),
          AqueductModule.forRoot({ secrets: [SECRET] }),
        ],
      }).compile();
      const app = moduleRef.createNestApplication({ logger: false });
      await expect(app.init()).rejects.toThrow(
        /aqueduct_events, aqueduct_deliveries, aqueduct_provisionings, aqueduct_access, aqueduct_invoice_payments, aqueduct_emails, aqueduct_alerts do not exist.*aqueductMigrations/,
      );
      await app.close();
    } finally {
      await empty.drop();
    }
  });
});
