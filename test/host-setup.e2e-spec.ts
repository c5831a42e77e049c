import {
  type ArgumentsHost,
  Body,
  Catch,
  type CanActivate,
  Controller,
  type ExceptionFilter,
  type ExecutionContext,
  Injectable,
  UnauthorizedException,
  type INestApplication,
  Module,
  Scope,
  type NestInterceptor,
  type CallHandler,
  Post,
  RequestMethod,
  ValidationPipe,
  VersioningType,
} from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_INTERCEPTOR, APP_PIPE, RouterModule } from '@nestjs/core';
import { ConfigModule, ConfigService } from '@nestjs/config';
import type { NestExpressApplication } from '@nestjs/platform-express';
import {
  AqueductModule,
  type AqueductModuleOptions,
  aqueductMigrations,
  isAqueductWebhookRoute,
  OnAqueductEvent,
} from 'nestjs-aqueduct';
import { provisioningStartEvent, signAqueductRequest } from 'nestjs-aqueduct/testing';
import { map } from 'rxjs';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { createTestApp } from './support/app';
import { createTestDatabase, migratedTo } from './support/database';
import { LogCapture } from './support/log-capture';
import { useTestDatabase } from './support/use-test-database';
import { waitFor } from './support/wait';

const SECRET = 'host-setup-shared-secret';
const openAlerts = (app: INestApplication): Promise<{ kind: string; reason: string }[]> =>
  app.get(DataSource).query(`SELECT kind, reason FROM aqueduct_alerts WHERE status = 'open'`);
const signed = (payload: unknown = provisioningStartEvent()) =>
  signAqueductRequest(payload, { scheme: 'shared-secret', secret: SECRET });

/** A host's auth guard that lets the webhook through, as the README documents. */
@Injectable()
class DenyAllButWebhooksGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    return isAqueductWebhookRoute(context);
  }
}

/** A host's auth guard written before the module was added: it refuses Aqueduct too. */
@Injectable()
class HostJwtGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    if (context.switchToHttp().getRequest().headers.authorization !== 'Bearer host-user-token') {
      throw new UnauthorizedException('Missing or invalid bearer token');
    }
    return true;
  }
}

/** Listeners as a newcomer writes them from the README's prose: two can never run. */
@Injectable()
class NewcomerListeners {
  @OnAqueductEvent('access.*')
  anyAccess() {}

  @OnAqueductEvent('access_ended')
  ended() {}

  @OnAqueductEvent(['access.started', 'provisioning_start', 'my.own.type'])
  fine() {}
}

/** A host's global filter that reshapes every error. */
@Catch()
class EnvelopeFilter implements ExceptionFilter {
  catch(_error: unknown, host: ArgumentsHost) {
    host.switchToHttp().getResponse().status(418).json({ wrapped: true });
  }
}

/** A host's global interceptor that tags every answer and wraps what handlers return. */
@Injectable()
class EnvelopeInterceptor implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler) {
    context.switchToHttp().getResponse().setHeader('X-Host-Trace', 'traced');
    return next.handle().pipe(map((data: unknown) => ({ data })));
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
  const db = useTestDatabase();

  it('forRootAsync with ConfigService, a custom path, a global prefix and URI versioning', async () => {
    const logs = new LogCapture();
    const app = await createTestApp({
      logger: logs,
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
      // VERSION_NEUTRAL: no "/v1" under URI versioning, in the route and in the log.
      expect(logs.matching(/Aqueduct webhooks on POST/)).toEqual([
        'AqueductModule: Aqueduct webhooks on POST /api/hooks/billing verified with the "shared-secret" scheme (1 secret(s))',
      ]);
      // The built-in listeners too (they register after the host's are found).
      expect(logs.matching(/Aqueduct listeners:/)).toEqual([
        'AqueductListeners: Aqueduct listeners: aqueduct.provisioning',
      ]);
    } finally {
      await app.close();
    }
  });

  it("a host's global guard refusing Aqueduct is noticed: logged, counted, and the alert opens", async () => {
    const logs = new LogCapture();
    const app = await createTestApp({
      databaseUrl: db.url,
      logger: logs,
      aqueduct: { secrets: [SECRET], expiry: { enabled: false } },
      imports: [
        { module: class HostAuth {}, providers: [{ provide: APP_GUARD, useClass: HostJwtGuard }] },
      ],
    });
    try {
      // Authentic deliveries, each refused before the module sees it: every retry would be too.
      for (let i = 0; i < 6; i++) {
        const { body, headers } = signed();
        await request(app.getHttpServer())
          .post('/webhooks/aqueduct')
          .set(headers)
          .send(body)
          .expect(401);
      }
      await waitFor(async () => (await openAlerts(app)).length > 0);
      expect(await openAlerts(app)).toEqual([
        expect.objectContaining({
          kind: 'verification',
          reason: expect.stringContaining('host-refused'),
        }),
      ]);
      expect(logs.matching(/Rejected webhook \(by the app, host-refused\)/)).toEqual([
        expect.stringContaining('answered 401 (UnauthorizedException) by the app itself'),
      ]);
    } finally {
      await app.close();
    }
  });

  it('warns at start-up when publicUrl names a path the webhook is not served at, and only then', async () => {
    const warnings = async (prefix: string | undefined) => {
      const logs = new LogCapture();
      const app = await createTestApp({
        databaseUrl: db.url,
        logger: logs,
        aqueduct: {
          secrets: [SECRET],
          publicUrl: 'https://app.example.com/api/webhooks/aqueduct/',
        },
        configure: (nest) => (prefix ? nest.setGlobalPrefix(prefix) : undefined),
      });
      await app.close();
      return logs.matching(/^AqueductModule: publicUrl/);
    };
    // The README's URL copied into an app without the prefix: every delivery would be a 404.
    expect(await warnings(undefined)).toEqual([
      expect.stringContaining(
        'publicUrl https://app.example.com/api/webhooks/aqueduct/ has the path /api/webhooks/aqueduct, but the webhook is served at /webhooks/aqueduct',
      ),
    ]);
    expect(await warnings('api')).toEqual([]);
  });

  it('warns at start-up about a listener type no event can have (a pattern, or a name the module never writes)', async () => {
    const logs = new LogCapture();
    const app = await createTestApp({
      databaseUrl: db.url,
      logger: logs,
      aqueduct: { secrets: [SECRET] },
      imports: [{ module: class Newcomer {}, providers: [NewcomerListeners] }],
    });
    await app.close();
    expect(logs.matching(/will never run/)).toEqual([
      expect.stringContaining(
        'Aqueduct listener NewcomerListeners.anyAccess waits for "access.*", which is not a pattern',
      ),
      expect.stringContaining(
        'Aqueduct listener NewcomerListeners.ended waits for "access_ended", which is not an event the module writes (access.started, access.renewed',
      ),
    ]);
  });

  it('logs the webhook and console paths as served: global prefix included, its exclusions respected', async () => {
    const logs = new LogCapture();
    const app = await createTestApp({
      databaseUrl: db.url,
      logger: logs,
      aqueduct: {
        secrets: [SECRET],
        console: { path: 'ops/console', allowUnauthenticated: true },
      },
      controllers: [NotesController],
      configure: (nest) => nest.setGlobalPrefix('api'),
    });
    try {
      expect(logs.matching(/Aqueduct webhooks on POST/)).toEqual([
        'AqueductModule: Aqueduct webhooks on POST /api/webhooks/aqueduct verified with the "shared-secret" scheme (1 secret(s))',
      ]);
      expect(logs.matching(/Aqueduct console/)).toEqual([
        expect.stringMatching(
          /^AqueductModule: The Aqueduct console at \/api\/ops\/console is open/,
        ),
      ]);
      // The logged paths are the ones that answer.
      const { body, headers } = signed();
      const stored = await request(app.getHttpServer())
        .post('/api/webhooks/aqueduct')
        .set(headers)
        .send(body)
        .expect(200);
      expect(stored.body).toMatchObject({ received: true });
      await request(app.getHttpServer()).get('/api/ops/console').expect(200);
      await request(app.getHttpServer()).post('/api/notes').send({ a: 1 }).expect(201);
    } finally {
      await app.close();
    }

    const excludedLogs = new LogCapture();
    const excluded = await createTestApp({
      databaseUrl: db.url,
      logger: excludedLogs,
      aqueduct: {
        secrets: [SECRET],
        console: { path: 'ops/console', guard: DenyAllButWebhooksGuard },
      },
      imports: [{ module: class GuardHost {}, providers: [DenyAllButWebhooksGuard] }],
      configure: (nest) =>
        nest.setGlobalPrefix('api', {
          exclude: [
            { path: 'webhooks/aqueduct', method: RequestMethod.POST },
            // Another method's exclusion leaves the console's GET under the prefix.
            { path: 'ops/console', method: RequestMethod.POST },
          ],
        }),
    });
    try {
      expect(excludedLogs.matching(/Aqueduct (webhooks|console)/)).toEqual([
        'AqueductModule: Aqueduct webhooks on POST /webhooks/aqueduct verified with the "shared-secret" scheme (1 secret(s))',
        'AqueductModule: Aqueduct console on GET /api/ops/console, behind DenyAllButWebhooksGuard',
      ]);
      const { body, headers } = signed();
      await request(excluded.getHttpServer())
        .post('/webhooks/aqueduct')
        .set(headers)
        .send(body)
        .expect(200);
      await request(excluded.getHttpServer()).get('/api/ops/console').expect(403);
    } finally {
      await excluded.close();
    }
  });

  it('logs the path as served under a RouterModule path too', async () => {
    const logs = new LogCapture();
    const app = await createTestApp({
      databaseUrl: db.url,
      logger: logs,
      aqueduct: { secrets: [SECRET] },
      imports: [RouterModule.register([{ path: 'billing', module: AqueductModule }])],
      configure: (nest) => nest.setGlobalPrefix('api'),
    });
    try {
      expect(logs.matching(/Aqueduct webhooks on POST/)).toEqual([
        'AqueductModule: Aqueduct webhooks on POST /api/billing/webhooks/aqueduct verified with the "shared-secret" scheme (1 secret(s))',
      ]);
      const { body, headers } = signed();
      await request(app.getHttpServer())
        .post('/api/billing/webhooks/aqueduct')
        .set(headers)
        .send(body)
        .expect(200);
    } finally {
      await app.close();
    }
  });

  it("is unaffected by the host's body parser limit, global pipe, guard, interceptor and exception filter", async () => {
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
            { provide: APP_INTERCEPTOR, useClass: EnvelopeInterceptor },
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
      const ack = await request(guarded.getHttpServer())
        .post('/webhooks/aqueduct')
        .set(headers)
        .send(body)
        .expect(200);
      // The sender gets the module's own answer, with what the host's code set on the way.
      expect(ack.body).toEqual({ received: true, id: expect.any(String) });
      expect(ack.headers).toMatchObject({
        'content-type': 'application/json; charset=utf-8',
        'x-host-trace': 'traced',
      });
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

/** A process with the module and no HTTP (a worker), as `NestFactory.createApplicationContext` makes it. */
async function createWorkerContext(url: string, aqueduct: AqueductModuleOptions) {
  const { NestFactory } = await import('@nestjs/core');
  const { TypeOrmModule } = await import('@nestjs/typeorm');
  @Module({
    imports: [
      TypeOrmModule.forRoot({
        type: 'postgres',
        url,
        migrations: [...aqueductMigrations],
        migrationsRun: true,
      }),
      AqueductModule.forRoot(aqueduct),
    ],
  })
  class WorkerModule {}
  return NestFactory.createApplicationContext(WorkerModule, { logger: false, abortOnError: false });
}

describe('Start-up checks fail fast with a message naming the problem', () => {
  const db = useTestDatabase();

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

  it('a class named in the options that cannot be created: the adapter, a custom verifier, the console guard', async () => {
    // Each injects the host's UsersService, but is not in the host's providers: the module would
    // create it, and cannot. Found at start-up, not by every webhook (401), provisioning or page.
    @Injectable()
    class UsersService {}
    @Injectable()
    class Accounts {
      constructor(readonly users: UsersService) {}
      provision() {}
      deprovision() {}
      update() {}
    }
    @Injectable()
    class MyVerifier {
      constructor(readonly users: UsersService) {}
      verify() {
        return { deliveryId: null };
      }
    }
    @Injectable()
    class AdminGuard implements CanActivate {
      constructor(readonly users: UsersService) {}
      canActivate() {
        return true;
      }
    }
    const host = [{ module: class UsersModule {}, providers: [UsersService] }];
    const cases: [Record<string, unknown>, RegExp][] = [
      [
        { provisioningAdapter: Accounts },
        /option "provisioningAdapter" names Accounts, which could not be created/,
      ],
      [
        { verification: { scheme: 'custom', verifier: MyVerifier } },
        /option "verification.verifier" names MyVerifier, which could not be created/,
      ],
      [
        { console: { guard: AdminGuard } },
        /option "console.guard" names AdminGuard, which could not be created/,
      ],
    ];
    for (const [options, message] of cases) {
      await expect(
        createTestApp({
          databaseUrl: db.url,
          aqueduct: { secrets: [SECRET], ...options },
          imports: host,
        }),
      ).rejects.toThrow(message);
    }
    // A worker without HTTP that shares the options never serves the console nor verifies a
    // webhook: it starts without what the guard and the verifier inject.
    for (const options of cases.slice(1).map(([o]) => o)) {
      const worker = await createWorkerContext(db.url, { secrets: [SECRET], ...options });
      await worker.close();
    }
    // A request-scoped adapter is named as such: registering it would not help.
    @Injectable({ scope: Scope.REQUEST })
    class ScopedAccounts {
      provision() {}
      deprovision() {}
      update() {}
    }
    await expect(
      createTestApp({
        databaseUrl: db.url,
        aqueduct: { secrets: [SECRET], provisioningAdapter: ScopedAccounts },
        imports: [{ module: class ScopedModule {}, providers: [ScopedAccounts] }],
      }),
    ).rejects.toThrow(
      /names ScopedAccounts, which is request- or transient-scoped.*must be a singleton/,
    );
    // Registered next to what it injects, each is the host's own instance, and the app starts.
    const app = await createTestApp({
      databaseUrl: db.url,
      aqueduct: {
        secrets: [SECRET],
        provisioningAdapter: Accounts,
        console: { guard: AdminGuard },
      },
      imports: [{ module: class HostModule {}, providers: [UsersService, Accounts, AdminGuard] }],
    });
    await app.close();
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

  it('an upgrade whose new migration was not run stops at start-up, naming it', async () => {
    const behind = await createTestDatabase();
    try {
      await (await migratedTo(behind.url, aqueductMigrations.slice(0, -1))).destroy();
      const { Test } = await import('@nestjs/testing');
      const { TypeOrmModule } = await import('@nestjs/typeorm');
      const moduleRef = await Test.createTestingModule({
        imports: [
          TypeOrmModule.forRoot({ type: 'postgres', url: behind.url, autoLoadEntities: true }),
          AqueductModule.forRoot({ secrets: [SECRET] }),
        ],
      }).compile();
      const app = moduleRef.createNestApplication({ logger: false });
      const newest = aqueductMigrations.at(-1)!.name;
      await expect(app.init()).rejects.toThrow(`lacks the module's newest migration (${newest})`);
      await app.close();
    } finally {
      await behind.drop();
    }
  });
});
