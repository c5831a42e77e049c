import type { VerificationOptions } from '../options/aqueduct-options.interface';
import { type BuiltInVerification, builtInVerifier } from '../verification/verification.factory';
import { WebhookVerificationError } from '../verification/webhook-verification.error';
import { provisioningStartEvent } from './aqueduct-event.factory';
import { signAqueductRequest, type SignAqueductRequestOptions } from './sign-aqueduct-request';

const SW_SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const SECRET = 'plain-test-secret';
const NOW = new Date('2024-03-01T12:00:00.750Z');
const NOW_S = Math.floor(NOW.getTime() / 1000);

type Variant = [string, BuiltInVerification, string];
const VARIANTS: Variant[] = [
  ['standard-webhooks', { scheme: 'standard-webhooks' }, SW_SECRET],
  ['hmac (defaults)', { scheme: 'hmac' }, SECRET],
  [
    'hmac GitHub style',
    { scheme: 'hmac', header: 'X-Hub-Signature-256', prefix: 'sha256=' },
    SECRET,
  ],
  ['hmac sha512 base64', { scheme: 'hmac', algorithm: 'sha512', encoding: 'base64' }, SECRET],
  ['hmac with timestamp', { scheme: 'hmac', timestampHeader: 'X-Timestamp' }, SECRET],
  ['hmac with delivery id', { scheme: 'hmac', deliveryIdHeader: 'X-Delivery' }, SECRET],
  ['shared-secret (authorization)', { scheme: 'shared-secret' }, SECRET],
  ['shared-secret custom header', { scheme: 'shared-secret', header: 'X-Api-Key' }, SECRET],
  ['shared-secret with delivery id', { scheme: 'shared-secret', deliveryIdHeader: 'X-Id' }, SECRET],
];

const sign = (payload: unknown, verification: VerificationOptions, secret: string, id = 'dlv_1') =>
  signAqueductRequest(payload, {
    ...verification,
    secret,
    id,
    timestamp: NOW,
  } as SignAqueductRequestOptions);

describe('signAqueductRequest', () => {
  beforeEach(() => jest.useFakeTimers().setSystemTime(NOW));
  afterEach(() => jest.useRealTimers());

  it.each(VARIANTS)('signs what the %s verifier accepts', (_, verification, secret) => {
    const { body, headers } = sign(provisioningStartEvent(), verification, secret);
    const result = builtInVerifier([secret], verification).verify({
      rawBody: Buffer.from(body),
      headers,
    });
    const carriesId =
      verification.scheme === 'standard-webhooks' ||
      ('deliveryIdHeader' in verification && verification.deliveryIdHeader);
    const carriesTime =
      verification.scheme === 'standard-webhooks' ||
      ('timestampHeader' in verification && verification.timestampHeader);
    expect(result.deliveryId).toBe(carriesId ? 'dlv_1' : undefined);
    expect(result.signedAt).toEqual(carriesTime ? new Date(NOW_S * 1000) : undefined);
  });

  it.each(VARIANTS)('is rejected by a %s verifier holding another secret', (_, v, secret) => {
    const other = v.scheme === 'standard-webhooks' ? `whsec_${'b'.repeat(32)}` : `${secret}x`;
    const { body, headers } = sign({ a: 1 }, v, secret);
    expect(() =>
      builtInVerifier([other], v).verify({ rawBody: Buffer.from(body), headers }),
    ).toThrow(WebhookVerificationError);
  });

  it.each(VARIANTS)('binds the %s signature to the body where the scheme does', (_, v, secret) => {
    const { headers } = sign({ a: 1 }, v, secret);
    const verify = () =>
      builtInVerifier([secret], v).verify({ rawBody: Buffer.from('{"a":2}'), headers });
    if (v.scheme === 'shared-secret') {
      expect(verify).not.toThrow();
    } else {
      expect(verify).toThrow(WebhookVerificationError);
    }
  });

  it('serialises an object once and sends a string as it is', () => {
    const payload = { type: 'invoice.paid', object: { id: 'inv_1' } };
    expect(sign(payload, { scheme: 'hmac' }, SECRET).body).toBe(JSON.stringify(payload));
    expect(sign('{ "raw" : true }', { scheme: 'hmac' }, SECRET).body).toBe('{ "raw" : true }');
  });

  it('writes lower-case header names and the content type', () => {
    const { headers } = sign({}, VARIANTS[4][1], SECRET);
    expect(Object.keys(headers).sort()).toEqual([
      'content-type',
      'x-aqueduct-signature',
      'x-timestamp',
    ]);
    expect(headers['content-type']).toBe('application/json');
    expect(headers['x-timestamp']).toBe(String(NOW_S));
  });

  it('sends the bare secret in a custom header and Bearer in authorization', () => {
    expect(sign({}, { scheme: 'shared-secret' }, SECRET).headers.authorization).toBe(
      `Bearer ${SECRET}`,
    );
    expect(sign({}, VARIANTS[7][1], SECRET).headers['x-api-key']).toBe(SECRET);
  });

  it('defaults to a random msg_ id and the current time', () => {
    const first = signAqueductRequest({}, { scheme: 'standard-webhooks', secret: SW_SECRET });
    const second = signAqueductRequest({}, { scheme: 'standard-webhooks', secret: SW_SECRET });
    expect(first.headers['webhook-id']).toMatch(/^msg_[0-9a-f]{32}$/);
    expect(first.headers['webhook-id']).not.toBe(second.headers['webhook-id']);
    expect(first.headers['webhook-timestamp']).toBe(String(NOW_S));
  });
});
