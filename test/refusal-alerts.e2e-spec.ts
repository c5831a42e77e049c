/**
 * Refusals that every retry will meet reach a person before Aqueduct disables the endpoint, on a
 * quiet endpoint too: Aqueduct's retries of one event come 1, 6, 12 and 24 hours apart, never the
 * five refusals in ten minutes that open the alert on a busy one. Real HTTP, real Postgres.
 */
import {
  type CallHandler,
  type ExecutionContext,
  ForbiddenException,
  Injectable,
  type INestApplication,
  type NestInterceptor,
  type MiddlewareConsumer,
  Module,
  type NestMiddleware,
  type NestModule,
  UnauthorizedException,
} from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { AqueductHealthIndicator } from 'nestjs-aqueduct';
import { provisioningStartEvent, signAqueductRequest } from 'nestjs-aqueduct/testing';
import { createHmac } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { Client } from 'pg';
import type { Observable } from 'rxjs';
import { register } from 'prom-client';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { createTestApp, storedEvents } from './support/app';
import { LogCapture } from './support/log-capture';
import { useTestApp } from './support/use-test-app';
import { useTestDatabase } from './support/use-test-database';
import { waitFor } from './support/wait';

const SECRET = 'refusal-alerts-secret';
const PATH = '/webhooks/aqueduct';

const signed = (payload: unknown = provisioningStartEvent(), secret = SECRET) =>
  signAqueductRequest(payload, { scheme: 'shared-secret', secret });

const post = (app: INestApplication, { body, headers }: ReturnType<typeof signed>) =>
  request(app.getHttpServer()).post(PATH).set(headers).send(body);

const openAlerts = (app: INestApplication): Promise<{ kind: string; reason: string }[]> =>
  app.get(DataSource).query(`SELECT kind, reason FROM aqueduct_alerts WHERE status = 'open'`);

const alertOpens = (app: INestApplication, kind: string) =>
  waitFor(
    async () => (await openAlerts(app)).find((alert) => alert.kind === kind),
    10_000,
    `the ${kind} alert`,
  );

/** Lets a raise in flight reach the database before asserting that none happened. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 300));

const raisedCount = async (app: INestApplication): Promise<number> =>
  (
    await app
      .get(DataSource)
      .query(
        `SELECT count(*)::int AS n FROM aqueduct_events WHERE type = 'alert.raised' AND payload->'object'->>'kind' = 'verification'`,
      )
  )[0].n;

const alertResolves = (app: INestApplication) =>
  waitFor(async () => (await openAlerts(app)).length === 0, 10_000, 'the alert to resolve');

const invoicePaid = (id: string) =>
  signed({ type: 'invoice.paid', createdAt: new Date().toISOString(), object: { id } });

const health = async (app: INestApplication) =>
  (await app.get(AqueductHealthIndicator).isHealthy('aqueduct')).aqueduct;

describe('A refused request that comes again opens the alert (a quiet endpoint)', () => {
  const host = useTestApp({ aqueduct: { secrets: [SECRET], expiry: { enabled: false } } });

  it('a wrong secret: the first refusal alerts no one, the same request refused again does', async () => {
    // The secret registered with Aqueduct is not the one configured.
    const delivery = signed(
      provisioningStartEvent({ customerId: 'owner_quiet' }),
      'wrong-secret-7f3a',
    );
    await post(host.app, delivery).expect(401);
    await post(host.app, signed(provisioningStartEvent(), 'wrong-secret-7f3a')).expect(401);
    await settle();
    expect(await openAlerts(host.app)).toEqual([]);

    await post(host.app, delivery).expect(401); // Aqueduct's retry, an hour later
    const alert = await alertOpens(host.app, 'verification');
    expect(alert.reason).toContain('The same webhook request was refused again (bad-signature)');
    expect(alert.reason).toContain('AQUEDUCT_WEBHOOK_SECRET');
    expect(alert.reason).not.toContain('wrong-secret-7f3a');
    expect(alert.reason).not.toContain(SECRET);
    expect(await health(host.app)).toMatchObject({ state: 'degraded' });

    await post(host.app, signed(provisioningStartEvent())).expect(200); // fixed: it resolves
    await alertResolves(host.app);
  });

  it('a probe posting one fixed body that is no event, verified deliveries in between, pages no one', async () => {
    const before = await raisedCount(host.app);
    const probe = () =>
      request(host.app.getHttpServer())
        .post(PATH)
        .set('content-type', 'application/json')
        .send('{"probe":"uptime"}');
    for (let i = 0; i < 3; i++) {
      await probe().expect(401);
      await post(host.app, signed()).expect(200);
    }
    await settle();
    expect(await raisedCount(host.app)).toBe(before);
  });

  it('a body refused without credentials (a scanner) pages no one at once, whatever its size or coding', async () => {
    const before = await raisedCount(host.app);
    for (let i = 0; i < 3; i++) {
      await request(host.app.getHttpServer())
        .post(PATH)
        .set({ 'content-type': 'application/json', 'content-encoding': 'zstd' })
        .send(`{"scan":${i}}`)
        .expect(415);
      await post(host.app, signed()).expect(200);
    }
    await settle();
    expect(await raisedCount(host.app)).toBe(before);
  });
});

/** A host's global interceptor that refuses invoice events (a tenant check that knows none). */
@Injectable()
class RefuseInvoicesInterceptor implements NestInterceptor {
  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const raw: Buffer | undefined = context.switchToHttp().getRequest().rawBody;
    if (raw?.toString().includes('invoice.paid')) {
      throw new ForbiddenException('no tenant for this request');
    }
    return next.handle();
  }
}

describe('A delivery refused after its signature verified (a host interceptor)', () => {
  const host = useTestApp({
    aqueduct: { secrets: [SECRET], expiry: { enabled: false } },
    configure: (app) => app.useGlobalInterceptors(new RefuseInvoicesInterceptor()),
  });

  it('is no success: the alert its retry opened stays open through the next retries', async () => {
    const delivery = invoicePaid('inv_interceptor_1');
    await post(host.app, delivery).expect(403);
    await post(host.app, delivery).expect(403); // Aqueduct's first retry opens it
    await alertOpens(host.app, 'verification');
    await post(host.app, delivery).expect(403);
    await settle();
    await post(host.app, delivery).expect(403);
    await settle();
    expect((await openAlerts(host.app)).map((alert) => alert.kind)).toEqual(['verification']);
  });
});

describe('A delivery refused by a host middleware, retried after another event verified', () => {
  const host = useTestApp({
    aqueduct: { secrets: [SECRET], expiry: { enabled: false } },
    // A host middleware (a WAF rule, a body check) that refuses invoice events only.
    configure: (app) =>
      app.use((req: Request & { rawBody?: Buffer }, res: Response, next: NextFunction) => {
        if (req.rawBody?.toString().includes('invoice.paid')) {
          res.status(403).json({ message: 'blocked' });
          return;
        }
        next();
      }),
  });

  it('opens the alert again: the success elsewhere fixed nothing for it', async () => {
    const delivery = invoicePaid('inv_middleware_1');
    await post(host.app, delivery).expect(403);
    await post(host.app, delivery).expect(403);
    await alertOpens(host.app, 'verification');
    await post(host.app, signed()).expect(200); // a provisioning.start verifies: resolves it
    await alertResolves(host.app);
    await post(host.app, delivery).expect(403); // the next retry, hours later
    await alertOpens(host.app, 'verification');
  });
});

describe('Refusals before verification', () => {
  const log = new LogCapture();
  const host = useTestApp({
    aqueduct: { secrets: [SECRET], maxBodyBytes: 64 * 1024, expiry: { enabled: false } },
    logger: log,
  });
  afterEach(async () => {
    await post(host.app, signed()).expect(200); // resolves what the test opened
    await alertResolves(host.app);
  });

  it('an authentic delivery over maxBodyBytes opens the alert at once, naming the option', async () => {
    const users = Array.from({ length: 2000 }, (_, i) => ({
      name: `User ${i}`,
      email: `user.${i}@big-co.example.com`,
    }));
    await post(
      host.app,
      signed(provisioningStartEvent({ provisioningOrgs: { name: 'Big', users } })),
    ).expect(413);
    const alert = await alertOpens(host.app, 'verification');
    expect(alert.reason).toContain('refused before it could be verified (too-large');
    expect(alert.reason).toContain('raise the maxBodyBytes option');
    expect(await health(host.app)).toMatchObject({
      state: 'degraded',
      refusedRecently: { 'too-large': 1 },
    });
    expect(await register.metrics()).toMatch(
      /aqueduct_webhooks_received_total\{type="other",outcome="too-large"\} [1-9]/,
    );
    // Counted once, by its own outcome: not as an unauthorized request.
    expect(await register.metrics()).not.toMatch(
      /aqueduct_webhooks_unauthorized_total\{reason="too-large"\}/,
    );
  });

  it('a content coding that cannot be decoded opens it at once too', async () => {
    const { body, headers } = signed();
    await request(host.app.getHttpServer())
      .post(PATH)
      .set({ ...headers, 'content-encoding': 'zstd' })
      .send(body)
      .expect(415);
    const alert = await alertOpens(host.app, 'verification');
    expect(alert.reason).toContain('unsupported');
  });

  it('a body cut short in its coding: 400, logged and counted (one may be a proxy hiccup)', async () => {
    const before = log.lines.length;
    const { body, headers } = signed();
    const gz = gzipSync(Buffer.from(body));
    const cut = () =>
      request(host.app.getHttpServer())
        .post(PATH)
        .set({ ...headers, 'content-encoding': 'gzip' })
        // The bytes themselves (supertest would send a Buffer as JSON, for its content type).
        .serialize((bytes: Buffer) => bytes as unknown as string)
        .send(gz.subarray(0, gz.length - 6) as unknown as string);
    await cut().expect(400);
    await settle();
    expect(await openAlerts(host.app)).toEqual([]); // one bad transfer may be the proxy's hiccup
    expect(
      log.lines
        .slice(before)
        .filter((line) => line.level === 'warn')
        .map((line) => line.message),
    ).toEqual([
      expect.stringContaining('Refused a webhook request with 400: a body that is not valid gzip'),
    ]);
    expect(await register.metrics()).toMatch(
      /aqueduct_webhooks_received_total\{type="other",outcome="unreadable"\} [1-9]/,
    );
    expect(await health(host.app)).toMatchObject({ refusedRecently: { unreadable: 1 } });
  });
});

@Injectable()
class ApiKeyMiddleware implements NestMiddleware {
  use(req: Request, _res: Response, next: NextFunction) {
    if (req.headers['x-host-api-key'] !== 'host-key') {
      throw new UnauthorizedException('missing API key');
    }
    next();
  }
}

@Module({})
class ApiKeyModule implements NestModule {
  configure(consumer: MiddlewareConsumer) {
    consumer.apply(ApiKeyMiddleware).forRoutes('*');
  }
}

describe("The host's own middleware refusing the webhook", () => {
  const db = useTestDatabase();

  it.each([
    ['a Nest middleware (MiddlewareConsumer, every route) throwing 401', 'nest', 401],
    ['an Express middleware of main.ts (a rate limiter) answering 429', 'express', 429],
  ])('%s: counted as host-refused, and the retry opens the alert', async (_name, kind, status) => {
    const log = new LogCapture();
    const app = await createTestApp({
      databaseUrl: db.url,
      logger: log,
      aqueduct: { secrets: [SECRET], expiry: { enabled: false } },
      imports: kind === 'nest' ? [ApiKeyModule] : [],
      configure:
        kind === 'express'
          ? (nest) =>
              nest.use((_req: Request, res: Response) =>
                res.status(429).json({ message: 'Too Many Requests' }),
              )
          : undefined,
    });
    try {
      const delivery = signed();
      await post(app, delivery).expect(status);
      expect(await health(app)).toMatchObject({ refusedRecently: { 'host-refused': 1 } });
      expect(log.matching(/Rejected webhook \(by the app, host-refused\): answered/)).toEqual([
        expect.stringContaining(
          `answered ${status} by the app itself before the module saw the request: a middleware`,
        ),
      ]);
      await post(app, delivery).expect(status);
      const alert = await alertOpens(app, 'verification');
      expect(alert.reason).toContain('refused again (host-refused)');
      expect(alert.reason).toContain('isAqueductWebhookRoute');
      await app.get(DataSource).query(`DELETE FROM aqueduct_alerts`);
    } finally {
      await app.close();
    }
  });
});

describe('A quarantined event whose store outlived storeTimeoutMs', () => {
  const host = useTestApp({
    aqueduct: { secrets: [SECRET], storeTimeoutMs: 1000, expiry: { enabled: false } },
  });

  it('answered 503, then committed: the quarantine alert opens (its retry, a duplicate, says nothing)', async () => {
    const locker = new Client({ connectionString: host.db.url });
    await locker.connect();
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE aqueduct_events IN EXCLUSIVE MODE');
    // Authentic and of a known type, but its object is not understood.
    const invalid = signed({
      type: 'provisioning.start',
      createdAt: new Date().toISOString(),
      object: { productId: 'prod_x', customerId: 'owner_late', startDate: 'next tuesday' },
    });
    try {
      await post(host.app, invalid).expect(503);
    } finally {
      await locker.query('COMMIT');
      await locker.end();
    }
    await waitFor(
      async () => (await storedEvents(host.app)).some((e) => e.status === 'quarantined'),
      5000,
      'the late commit',
    );
    const alert = await alertOpens(host.app, 'quarantine');
    expect(alert.reason).toContain('startDate');
    const retry = await post(host.app, invalid).expect(200);
    expect(retry.body).toMatchObject({ duplicate: true, quarantined: true });
  });
});

describe('hmac with a timestamp header that is not Unix seconds', () => {
  const host = useTestApp({
    aqueduct: {
      secrets: [SECRET],
      verification: { scheme: 'hmac', timestampHeader: 'x-aqueduct-timestamp' },
      expiry: { enabled: false },
    },
  });

  it.each([
    ['milliseconds', () => String(Date.now())],
    ['ISO 8601', () => new Date().toISOString()],
  ])('a delivery signed over "<timestamp in %s>.<body>" is accepted', async (_name, stamp) => {
    const body = JSON.stringify(provisioningStartEvent());
    const timestamp = stamp();
    const signature = createHmac('sha256', SECRET).update(`${timestamp}.${body}`).digest('hex');
    await request(host.app.getHttpServer())
      .post(PATH)
      .set({
        'content-type': 'application/json',
        'x-aqueduct-signature': signature,
        'x-aqueduct-timestamp': timestamp,
      })
      .send(body)
      .expect(200);
  });
});

describe('hmac with a timestamp header, a sender that leaves it out', () => {
  const host = useTestApp({
    aqueduct: {
      secrets: [SECRET],
      verification: { scheme: 'hmac', timestampHeader: 'x-aqueduct-timestamp' },
      expiry: { enabled: false },
    },
  });

  it('the alert names the header the requests lack, not the one they carry', async () => {
    const body = JSON.stringify(provisioningStartEvent());
    const signature = createHmac('sha256', SECRET).update(body).digest('hex');
    for (let attempt = 0; attempt < 2; attempt++) {
      // Aqueduct's retry of the same request.
      await request(host.app.getHttpServer())
        .post(PATH)
        .set({ 'content-type': 'application/json', 'x-aqueduct-signature': signature })
        .send(body)
        .expect(401);
    }
    const alert = await alertOpens(host.app, 'verification');
    expect(alert.reason).toContain(
      'the requests lack x-aqueduct-timestamp (they carry x-aqueduct-signature)',
    );
  });
});
