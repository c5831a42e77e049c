import { Injectable, type INestApplication } from '@nestjs/common';
import {
  type AqueductModuleOptions,
  type WebhookRequest,
  WebhookVerificationError,
  type WebhookVerifier,
} from 'nestjs-aqueduct';
import {
  provisioningStartEvent,
  signAqueductRequest,
  type SignAqueductRequestOptions,
} from 'nestjs-aqueduct/testing';
import request from 'supertest';
import { createTestApp, storedEvents } from './support/app';
import { useTestDatabase } from './support/use-test-database';

const OLD = `whsec_${Buffer.from('the-old-secret-the-old-secret-32').toString('base64')}`;
const NEW = `whsec_${Buffer.from('the-new-secret-the-new-secret-32').toString('base64')}`;
const TOLERANCE = 120;

/** A host's own scheme: a static token in `x-partner-token`, checked by a class Nest instantiates. */
@Injectable()
class PartnerTokenVerifier implements WebhookVerifier {
  verify({ headers }: WebhookRequest) {
    if (headers['x-partner-token'] !== 'let-me-in') {
      throw new WebhookVerificationError('bad partner token');
    }
    return { deliveryId: String(headers['x-partner-delivery']), deliveryIdSigned: true };
  }
}

const cases: {
  name: string;
  options: AqueductModuleOptions;
  sign: (secret: string) => SignAqueductRequestOptions;
}[] = [
  {
    name: 'standard-webhooks',
    options: { verification: { scheme: 'standard-webhooks', toleranceSeconds: TOLERANCE } },
    sign: (secret) => ({ scheme: 'standard-webhooks', secret }),
  },
  {
    name: 'hmac (GitHub style sha256=<hex>, timestamped)',
    options: {
      verification: {
        scheme: 'hmac',
        header: 'X-Hub-Signature-256',
        prefix: 'sha256=',
        timestampHeader: 'X-Timestamp',
        toleranceSeconds: TOLERANCE,
      },
    },
    sign: (secret) => ({
      scheme: 'hmac',
      secret,
      header: 'X-Hub-Signature-256',
      prefix: 'sha256=',
      timestampHeader: 'X-Timestamp',
    }),
  },
  {
    name: 'hmac (sha512, base64)',
    options: { verification: { scheme: 'hmac', algorithm: 'sha512', encoding: 'base64' } },
    sign: (secret) => ({ scheme: 'hmac', secret, algorithm: 'sha512', encoding: 'base64' }),
  },
  {
    name: 'shared-secret (Authorization: Bearer)',
    options: { verification: { scheme: 'shared-secret' } },
    sign: (secret) => ({ scheme: 'shared-secret', secret }),
  },
  {
    name: 'shared-secret (named header)',
    options: { verification: { scheme: 'shared-secret', header: 'X-Aqueduct-Secret' } },
    sign: (secret) => ({ scheme: 'shared-secret', secret, header: 'X-Aqueduct-Secret' }),
  },
];

describe('Verification schemes over HTTP', () => {
  const db = useTestDatabase();

  describe.each(cases)('$name', ({ options, sign }) => {
    let app: INestApplication;
    beforeAll(async () => {
      app = await createTestApp({
        databaseUrl: db.url,
        // The new one as a secret file gives it: a trailing newline Aqueduct never signs with.
        aqueduct: { ...options, secrets: [OLD, `${NEW}\n`] },
      });
    });
    afterAll(async () => app?.close());

    const post = (signed: { body: string; headers: Record<string, string> }) =>
      request(app.getHttpServer()).post('/webhooks/aqueduct').set(signed.headers).send(signed.body);

    it('accepts the old and the new secret during a rotation', async () => {
      await post(signAqueductRequest(provisioningStartEvent(), sign(OLD))).expect(200);
      await post(signAqueductRequest(provisioningStartEvent(), sign(NEW))).expect(200);
    });

    it('refuses any other secret, and header names match case-insensitively', async () => {
      const other = `whsec_${Buffer.from('some-other-secret-some-other-sec').toString('base64')}`;
      await post(signAqueductRequest(provisioningStartEvent(), sign(other))).expect(401);
      const signed = signAqueductRequest(provisioningStartEvent(), sign(NEW));
      const shouting = Object.fromEntries(
        Object.entries(signed.headers).map(([k, v]) => [k.toUpperCase(), v]),
      );
      await post({ body: signed.body, headers: shouting }).expect(200);
    });

    if ('toleranceSeconds' in (options.verification ?? {})) {
      it('accepts a timestamp at the tolerance and refuses one past it, in both directions', async () => {
        const at = (offsetSeconds: number) => new Date(Date.now() + offsetSeconds * 1000);
        // One second of slack for the time the request takes.
        await post(
          signAqueductRequest(provisioningStartEvent(), {
            ...sign(NEW),
            timestamp: at(-(TOLERANCE - 1)),
          }),
        ).expect(200);
        await post(
          signAqueductRequest(provisioningStartEvent(), {
            ...sign(NEW),
            timestamp: at(TOLERANCE - 1),
          }),
        ).expect(200);
        await post(
          signAqueductRequest(provisioningStartEvent(), {
            ...sign(NEW),
            timestamp: at(-(TOLERANCE + 2)),
          }),
        ).expect(401);
        await post(
          signAqueductRequest(provisioningStartEvent(), {
            ...sign(NEW),
            timestamp: at(TOLERANCE + 2),
          }),
        ).expect(401);
      });
    }
  });

  describe('custom verifier', () => {
    let app: INestApplication;
    beforeAll(async () => {
      app = await createTestApp({
        databaseUrl: db.url,
        aqueduct: { verification: { scheme: 'custom', verifier: PartnerTokenVerifier } },
      });
    });
    afterAll(async () => app?.close());

    it("uses the host's class, and its delivery id as the dedup key", async () => {
      const body = JSON.stringify(provisioningStartEvent({ customerId: 'owner_custom' }));
      const send = (token: string) =>
        request(app.getHttpServer())
          .post('/webhooks/aqueduct')
          .set({
            'content-type': 'application/json',
            'x-partner-token': token,
            'x-partner-delivery': 'd-1',
          })
          .send(body);
      await send('nope').expect(401);
      const first = await send('let-me-in').expect(200);
      expect((await send('let-me-in').expect(200)).body).toEqual({
        received: true,
        id: first.body.id,
        duplicate: true,
      });
      const rows = (await storedEvents(app)).filter((row) => row.id === first.body.id);
      expect(rows[0].dedup_key).toBe('id:d-1');
    });
  });

  describe('shared-secret without a delivery id header', () => {
    let app: INestApplication;
    beforeAll(async () => {
      app = await createTestApp({ databaseUrl: db.url, aqueduct: { secrets: [NEW] } });
    });
    afterAll(async () => app?.close());

    it('deduplicates on the SHA-256 of the raw body', async () => {
      const signed = signAqueductRequest(provisioningStartEvent({ customerId: 'owner_hash' }), {
        scheme: 'shared-secret',
        secret: NEW,
      });
      const post = () =>
        request(app.getHttpServer())
          .post('/webhooks/aqueduct')
          .set(signed.headers)
          .send(signed.body);
      const first = await post().expect(200);
      expect((await post().expect(200)).body.duplicate).toBe(true);
      const [row] = (await storedEvents(app)).filter((r) => r.id === first.body.id);
      expect(row.dedup_key).toMatch(/^sha256:[0-9a-f]{64}$/);
      expect(row.headers).not.toHaveProperty('authorization');
    });
  });
});
