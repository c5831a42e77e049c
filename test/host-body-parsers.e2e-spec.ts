/**
 * What real hosts put in front of the webhook route (their own body parsers, routes whose path ends
 * like the module's) and what real senders add (an empty Content-Encoding): never a hang, never a
 * refusal without a trace. Real HTTP, real Postgres.
 */
import {
  Body,
  Controller,
  type INestApplication,
  type MiddlewareConsumer,
  Module,
  type NestApplicationOptions,
  type NestModule,
  Post,
} from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { TypeOrmModule } from '@nestjs/typeorm';
import express from 'express';
import { AqueductModule, aqueductMigrations } from 'nestjs-aqueduct';
import { provisioningStartEvent, signAqueductRequest } from 'nestjs-aqueduct/testing';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { storedEvents } from './support/app';
import { LogCapture } from './support/log-capture';
import { useTestApp } from './support/use-test-app';
import { useTestDatabase } from './support/use-test-database';

const SECRET = 'host-body-parsers-secret';
const signed = (payload: unknown = provisioningStartEvent()) =>
  signAqueductRequest(payload, { scheme: 'shared-secret', secret: SECRET });

/** A host that parses JSON for its routes through Nest's MiddlewareConsumer. */
@Module({})
class JsonViaConsumerModule implements NestModule {
  configure(consumer: MiddlewareConsumer) {
    consumer.apply(express.json()).forRoutes('*');
  }
}

async function bootHost(
  url: string,
  appOptions: NestApplicationOptions,
  imports: any[] = [],
  configure?: (app: INestApplication) => void,
): Promise<INestApplication> {
  const moduleRef = await Test.createTestingModule({
    imports: [
      TypeOrmModule.forRoot({
        type: 'postgres',
        url,
        autoLoadEntities: true,
        migrations: [...aqueductMigrations],
        migrationsRun: true,
      }),
      AqueductModule.forRoot({ secrets: [SECRET] }),
      ...imports,
    ],
  }).compile();
  const app = moduleRef.createNestApplication({ logger: false, ...appOptions });
  configure?.(app);
  await app.init();
  return app;
}

/** A POST to the webhook as Node's own client sends it: headers exactly as given (supertest adds its own). */
function rawPost(port: number, headers: Record<string, string>, body: Buffer | string) {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = http.request(
      { port, host: '127.0.0.1', path: '/webhooks/aqueduct', method: 'POST', headers },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }),
        );
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

describe('A host JSON parser placed before the module', () => {
  const db = useTestDatabase();

  /** The webhook is answered within 5 s with a 200 for a stored row (the client gives up after 5 s). */
  async function expectStored(app: INestApplication, path = '/webhooks/aqueduct') {
    try {
      const { body, headers } = signed();
      const res = await request(app.getHttpServer())
        .post(path)
        .set(headers)
        .send(body)
        .timeout(5_000);
      expect({ status: res.status, body: res.body }).toMatchObject({ status: 200 });
      expect((await storedEvents(app)).filter((r) => r.id === res.body.id)).toHaveLength(1);
    } finally {
      await app.close();
    }
  }

  it('a conditional express.json() in main.ts (the usual "raw body for one route" pattern) does not hang the webhook', async () => {
    const json = express.json();
    await expectStored(
      await bootHost(db.url, {}, [], (app) =>
        app.use((req: express.Request, res: express.Response, next: express.NextFunction) =>
          req.originalUrl.startsWith('/stripe') ? next() : json(req, res, next),
        ),
      ),
    );
  }, 15_000);

  it('a main.ts middleware that strips a proxy prefix (/billing) before routing: the webhook still reads its body', async () => {
    await expectStored(
      await bootHost(db.url, {}, [], (app) =>
        app.use((req: express.Request, _res: express.Response, next: express.NextFunction) => {
          if (req.url.startsWith('/billing/')) req.url = req.url.slice('/billing'.length);
          next();
        }),
      ),
      '/billing/webhooks/aqueduct',
    );
  }, 15_000);

  it('bodyParser: false with express.json() applied through MiddlewareConsumer does not hang the webhook', async () => {
    await expectStored(await bootHost(db.url, { bodyParser: false }, [JsonViaConsumerModule]));
  }, 15_000);
});

describe('Deliveries refused before verification', () => {
  const log = new LogCapture();
  const host = useTestApp({
    aqueduct: { secrets: [SECRET], maxBodyBytes: 256 * 1024 },
    logger: log,
  });
  let port: number;
  beforeAll(async () => {
    await host.app.listen(0, '127.0.0.1');
    port = (host.app.getHttpServer().address() as AddressInfo).port;
  });

  /** An enterprise customer's provisioning.start: one org with 5,000 users (~400 kB). */
  const bigEvent = () =>
    provisioningStartEvent({
      provisioningOrgs: {
        name: 'Big Co',
        users: Array.from({ length: 5000 }, (_, i) => ({
          name: `User Number ${i}`,
          email: `user.number.${i}@big-co.example.com`,
        })),
      },
    });

  it('an authentic delivery refused with 413/415 leaves a trace in the log (it will disable the endpoint)', async () => {
    const cases: [string, Record<string, string>, Buffer | string][] = [];
    const big = signed(bigEvent());
    cases.push(['413 too large', big.headers, big.body]);
    const coded = signed();
    cases.push(['415 compress', { ...coded.headers, 'content-encoding': 'compress' }, coded.body]);
    const silent: string[] = [];
    for (const [name, headers, body] of cases) {
      const before = log.lines.length;
      const res = await rawPost(port, headers, body);
      expect(res.status).toBeGreaterThanOrEqual(400);
      const logged = log.lines
        .slice(before)
        .filter((l) => l.level === 'warn' || l.level === 'error');
      if (logged.length === 0) silent.push(`${name} (answered ${res.status})`);
    }
    expect(silent).toEqual([]);
  });
});

describe('A Content-Encoding present but empty', () => {
  const host = useTestApp({ aqueduct: { secrets: [SECRET] } });
  let port: number;
  beforeAll(async () => {
    await host.app.listen(0, '127.0.0.1');
    port = (host.app.getHttpServer().address() as AddressInfo).port;
  });

  it('an empty Content-Encoding (identity) is stored and answered 200, not 415', async () => {
    const { body, headers } = signed();
    const res = await rawPost(port, { ...headers, 'content-encoding': '' }, body);
    expect({ status: res.status, body: res.body }).toMatchObject({ status: 200 });
  });
});

@Controller('stripe/webhooks')
class StripeController {
  @Post()
  receive(@Body() body: unknown) {
    return { got: body ?? null };
  }
}

describe('A host route that ends with the module path', () => {
  const host = useTestApp({
    aqueduct: { secrets: [SECRET], path: 'webhooks' },
    controllers: [StripeController],
  });

  it('the host route /stripe/webhooks keeps its JSON body when the module path is "webhooks"', async () => {
    const res = await request(host.app.getHttpServer())
      .post('/stripe/webhooks')
      .send({ id: 'evt_1' });
    expect({ status: res.status, body: res.body }).toEqual({
      status: 201,
      body: { got: { id: 'evt_1' } },
    });
  });
});
