/**
 * Deliveries as HTTP stacks we did not write send them, and hosts that read the body before
 * Nest: each must be stored (a refusal meets every retry, and Aqueduct disables the endpoint after
 * the last), or, where it cannot be, open the alert at once rather than after 43 hours unheard.
 * Real sockets, real Postgres.
 */
import type { INestApplication } from '@nestjs/common';
import express from 'express';
import { provisioningStartEvent, signAqueductRequest } from 'nestjs-aqueduct/testing';
import { createHmac } from 'node:crypto';
import { deflateRawSync, deflateSync } from 'node:zlib';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { createTestApp } from './support/app';
import { useTestApp } from './support/use-test-app';
import { useTestDatabase } from './support/use-test-database';
import { waitFor } from './support/wait';

const SECRET = 'sender-stacks-secret';
const PATH = '/webhooks/aqueduct';

const signed = (productId: string) =>
  signAqueductRequest(provisioningStartEvent({ productId }), {
    scheme: 'shared-secret',
    secret: SECRET,
  });
/** A POST of exactly these bytes (supertest would serialize a Buffer sent as JSON). */
const post = (
  server: Parameters<typeof request>[0],
  headers: Record<string, string>,
  body: Buffer,
) =>
  request(server)
    .post(PATH)
    .set(headers)
    .serialize((bytes: Buffer) => bytes as unknown as string)
    .send(body);
const verificationAlertOpens = (app: INestApplication) =>
  waitFor(
    async () =>
      (
        await app
          .get(DataSource)
          .query(`SELECT 1 FROM aqueduct_alerts WHERE status = 'open' AND kind = 'verification'`)
      ).length === 1,
    5_000,
    'the verification alert to open',
  );

describe('Bodies as senders’ HTTP stacks encode them', () => {
  const host = useTestApp({ aqueduct: { secrets: [SECRET], expiry: { enabled: false } } });

  it('deflate, bare (.NET DeflateStream, PHP gzdeflate, Go flate) or zlib-wrapped: stored', async () => {
    for (const [productId, encode] of [
      ['prod_bare', deflateRawSync],
      ['prod_wrapped', deflateSync],
    ] as const) {
      const { body, headers } = signed(productId);
      const answer = await post(
        host.app.getHttpServer(),
        { ...headers, 'content-encoding': 'deflate' },
        encode(Buffer.from(body)),
      );
      expect({ productId, status: answer.status }).toEqual({ productId, status: 200 });
    }
  });

  it('deflate that is neither form: 400 at once, not a connection left hanging', async () => {
    const { headers } = signed('prod_not_deflate');
    const answer = await post(
      host.app.getHttpServer(),
      { ...headers, 'content-encoding': 'deflate' },
      Buffer.from('not deflate at all, neither wrapped nor bare'),
    );
    expect(answer.status).toBe(400);
    expect(answer.body.message).toBe('request body could not be decoded as deflate');
  });

  it('UTF-16 without a byte order mark, as its Content-Type says: read in it, not quarantined', async () => {
    for (const charset of ['utf-16le', 'utf-16']) {
      const text = JSON.stringify(provisioningStartEvent({ productId: `prod_${charset}` }));
      const answer = await post(
        host.app.getHttpServer(),
        {
          authorization: `Bearer ${SECRET}`,
          'content-type': `application/json; charset=${charset}`,
        },
        Buffer.from(text, 'utf16le'),
      );
      expect({ charset, status: answer.status, quarantined: answer.body.quarantined }).toEqual({
        charset,
        status: 200,
        quarantined: undefined,
      });
    }
  });

  it('a body labelled gzip but sent plain (a proxy decoded it and kept the header): the alert opens at once', async () => {
    const { body, headers } = signed('prod_mislabelled');
    const answer = await post(
      host.app.getHttpServer(),
      { ...headers, 'content-encoding': 'gzip' },
      Buffer.from(body),
    );
    expect(answer.status).toBe(400); // every retry alike: the bytes are the same
    await verificationAlertOpens(host.app);
  });
});

describe('hmac: two signatures during a key rotation', () => {
  const OLD = 'sender-stacks-old-secret';
  const host = useTestApp({
    aqueduct: {
      secrets: [SECRET],
      verification: { scheme: 'hmac', header: 'x-aqueduct-signature', prefix: 'sha256=' },
      expiry: { enabled: false },
    },
  });
  const sig = (secret: string, body: string) =>
    `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;

  it('separated by a comma or by a space (as Standard Webhooks lists them): stored', async () => {
    for (const separator of [',', ', ', ' ']) {
      const body = JSON.stringify(
        provisioningStartEvent({ productId: `prod_${separator.length}` }),
      );
      const answer = await post(
        host.app.getHttpServer(),
        {
          'x-aqueduct-signature': `${sig(OLD, body)}${separator}${sig(SECRET, body)}`,
          'content-type': 'application/json',
        },
        Buffer.from(body),
      );
      expect({ separator, status: answer.status }).toEqual({ separator, status: 200 });
    }
  });
});

describe('Nest behind a platform that parses the body first (Cloud Functions, Firebase)', () => {
  const db = useTestDatabase();
  let app: INestApplication;
  beforeAll(async () => {
    app = await createTestApp({
      databaseUrl: db.url,
      aqueduct: { secrets: [SECRET], expiry: { enabled: false } },
    });
  });
  afterAll(async () => app.close());

  /** What @google-cloud/functions-framework puts in front of the app (body-parser 1.x marks). */
  const front = (keepBytes: boolean) => {
    const outer = express();
    outer.use(
      express.json({
        verify: (req, _res, buf) => {
          const read = req as typeof req & { rawBody?: Buffer; _body?: boolean };
          if (keepBytes) {
            read.rawBody = buf;
          }
          read._body = true;
        },
      }),
    );
    const handler = app.getHttpAdapter().getInstance() as express.Express;
    outer.all('/{*path}', (req, res) => handler(req, res));
    return outer;
  };

  it('a delivery whose exact bytes it kept (req.rawBody) is verified and stored', async () => {
    const { body, headers } = signed('prod_functions');
    const answer = await post(front(true), headers, Buffer.from(body));
    expect(answer.status).toBe(200);
  });

  it('one whose bytes are gone cannot be verified: 500, and the alert opens at once', async () => {
    const { body, headers } = signed('prod_functions_lost');
    const answer = await post(front(false), headers, Buffer.from(body));
    expect(answer.status).toBe(500);
    await verificationAlertOpens(app);
  });
});
