import { createHmac, randomBytes } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { Webhook as SvixWebhook } from 'svix';
import { StandardWebhooksVerifier } from './standard-webhooks.verifier';
import { reasonOf } from './verification.spec-helpers';
import { WebhookVerificationError } from './webhook-verification.error';

// The Standard Webhooks specification's own test vector.
const SECRET = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const MSG_ID = 'msg_p5jXN8AQM9LWM0D4loKWxJek';
const TS = 1614265330;
const PAYLOAD = '{"test": 2432232314}';
const SIGNATURE = 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=';

const newSecret = () => `whsec_${randomBytes(24).toString('base64')}`;
/** Node lower-cases incoming header names; do the same to headers written in any case. */
const asNode = (headers: Record<string, string>): IncomingHttpHeaders =>
  Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]));

/** Headers as an independent sender (the `svix` package) produces them. */
function svixHeaders(secret: string, body: string, at = TS, id = MSG_ID) {
  return {
    'webhook-id': id,
    'webhook-timestamp': String(at),
    'webhook-signature': new SvixWebhook(secret).sign(id, new Date(at * 1000), body),
  };
}

function verify(headers: IncomingHttpHeaders, body: string | Buffer = PAYLOAD, secrets = [SECRET]) {
  const verifier = new StandardWebhooksVerifier(secrets, { scheme: 'standard-webhooks' });
  return verifier.verify({ rawBody: Buffer.from(body), headers });
}

describe('StandardWebhooksVerifier', () => {
  beforeEach(() => jest.useFakeTimers().setSystemTime(TS * 1000));
  afterEach(() => jest.useRealTimers());

  const vector = { 'webhook-id': MSG_ID, 'webhook-timestamp': String(TS) };

  it("accepts the specification's test vector", () => {
    expect(verify({ ...vector, 'webhook-signature': SIGNATURE })).toEqual({
      deliveryId: MSG_ID,
      deliveryIdSigned: true,
      signedAt: new Date(TS * 1000),
    });
  });

  it('accepts a request signed by the svix package', () => {
    const secret = newSecret();
    const body = JSON.stringify({ type: 'provisioning.start', object: { id: 'x' } });
    expect(verify(svixHeaders(secret, body), body, [secret]).deliveryId).toBe(MSG_ID);
  });

  it('accepts the svix-* header names', () => {
    const headers = {
      'svix-id': MSG_ID,
      'svix-timestamp': String(TS),
      'svix-signature': SIGNATURE,
    };
    expect(verify(headers).deliveryId).toBe(MSG_ID);
  });

  it('reads header names case-insensitively (as Node delivers them)', () => {
    const headers = { 'Webhook-Id': MSG_ID, 'WEBHOOK-TIMESTAMP': String(TS) };
    expect(verify(asNode({ ...headers, 'Webhook-Signature': SIGNATURE })).deliveryId).toBe(MSG_ID);
  });

  it.each([
    ['space-separated', `v1,AAAA v2,zzz ${SIGNATURE} v1,bm90IGl0`],
    ['joined repeated headers', `v1,bm90IGl0, ${SIGNATURE}`],
  ])('accepts several signatures (%s) when one matches', (_, signature) => {
    expect(verify({ ...vector, 'webhook-signature': signature }).deliveryId).toBe(MSG_ID);
  });

  it('accepts either secret during a rotation', () => {
    const [oldSecret, newer] = [newSecret(), newSecret()];
    for (const secret of [oldSecret, newer]) {
      expect(verify(svixHeaders(secret, PAYLOAD), PAYLOAD, [oldSecret, newer])).toBeDefined();
    }
  });

  it('rejects a request signed with another secret', () => {
    const reason = reasonOf(() => verify(svixHeaders(newSecret(), PAYLOAD)));
    expect(reason).toBe('no signature matches any configured secret');
  });

  it('rejects a body with one byte changed', () => {
    expect(() =>
      verify({ ...vector, 'webhook-signature': SIGNATURE }, '{"test": 2432232315}'),
    ).toThrow(WebhookVerificationError);
  });

  it('rejects a signature header without a v1 signature', () => {
    const reason = reasonOf(() => verify({ ...vector, 'webhook-signature': 'v2,abc' }));
    expect(reason).toMatch(/no v1 signature/);
  });

  it.each(['webhook-id', 'webhook-timestamp', 'webhook-signature'])(
    'rejects a request without %s, naming it',
    (name) => {
      const headers: Record<string, string> = { ...vector, 'webhook-signature': SIGNATURE };
      delete headers[name];
      expect(reasonOf(() => verify(headers))).toBe(`missing header(s): ${name}`);
      expect(reasonOf(() => verify({ ...headers, [name]: '  ' }))).toMatch(name);
    },
  );

  it.each([300, -300])('accepts a timestamp exactly %is from now', (offset) => {
    const at = TS + offset;
    expect(verify(svixHeaders(SECRET, PAYLOAD, at)).signedAt).toEqual(new Date(at * 1000));
  });

  it.each([301, -301])('rejects a timestamp %is from now', (offset) => {
    const reason = reasonOf(() => verify(svixHeaders(SECRET, PAYLOAD, TS + offset)));
    expect(reason).toMatch(/301s away from now, more than the 300s tolerance/);
  });

  it('tells a stale timestamp signed with our secret (authentic) from one that is not', () => {
    const stale = (secret: string) => {
      try {
        verify(svixHeaders(secret, PAYLOAD, TS - 7200));
      } catch (error) {
        return error as WebhookVerificationError;
      }
      throw new Error('accepted');
    };
    expect(stale(SECRET)).toMatchObject({ kind: 'stale-timestamp', authentic: true });
    expect(stale(SECRET).reason).toMatch(/7200s away .* its signature matches a configured secret/);
    expect(stale(newSecret())).toMatchObject({ kind: 'stale-timestamp', authentic: false });
  });

  it('applies a configured toleranceSeconds', () => {
    const verifier = new StandardWebhooksVerifier([SECRET], {
      scheme: 'standard-webhooks',
      toleranceSeconds: 5,
    });
    const request = (at: number) => ({
      rawBody: Buffer.from(PAYLOAD),
      headers: svixHeaders(SECRET, PAYLOAD, at),
    });
    expect(verifier.verify(request(TS - 5)).signedAt).toEqual(new Date((TS - 5) * 1000));
    expect(() => verifier.verify(request(TS - 6))).toThrow(/tolerance/);
  });

  // (`${TS}000`, milliseconds, is read as a time: then only the signature decides.)
  it.each(['abc', `-${TS}`, `${TS}.5`, '1.6e9', '99999999999999999999', `0x${TS}`])(
    'rejects the timestamp %p',
    (timestamp) => {
      const headers = { ...vector, 'webhook-timestamp': timestamp, 'webhook-signature': SIGNATURE };
      expect(reasonOf(() => verify(headers))).toMatch(/timestamp/);
    },
  );

  it.each(['not a secret!', 'whsec_***'])('refuses the secret %p, naming secrets[i]', (bad) => {
    const create = (secrets: string[]) =>
      new StandardWebhooksVerifier(secrets, { scheme: 'standard-webhooks' });
    expect(() => create([bad])).toThrow(/"secrets\[0\]"/);
    expect(() => create([SECRET, bad])).toThrow(/"secrets\[1\]"/);
  });

  it('never puts the secret or a signature in the reason', () => {
    const signature = svixHeaders(newSecret(), PAYLOAD)['webhook-signature'];
    const reasons = [
      { ...vector, 'webhook-signature': signature },
      { ...vector, 'webhook-signature': SIGNATURE, 'webhook-timestamp': String(TS + 999) },
      { 'webhook-id': MSG_ID, 'webhook-signature': SIGNATURE },
      { ...vector, 'webhook-signature': 'v2,abc' },
    ].map((headers) => reasonOf(() => verify(headers)));
    for (const reason of reasons) {
      for (const secretText of [SECRET, SECRET.slice(6), SIGNATURE.slice(3), signature.slice(3)]) {
        expect(reason).not.toContain(secretText);
      }
    }
  });

  // The HMAC is taken over the raw bytes, as the specification says, not over a UTF-8 decoding.
  describe('bodies that are not valid UTF-8', () => {
    const signedBody = Buffer.from([0x7b, 0xff, 0x7d]);
    const key = Buffer.from(SECRET.slice(6), 'base64');

    it('accepts a spec-compliant signature over the raw bytes', () => {
      const mac = createHmac('sha256', key)
        .update(Buffer.concat([Buffer.from(`${MSG_ID}.${TS}.`), signedBody]))
        .digest('base64');
      expect(verify({ ...vector, 'webhook-signature': `v1,${mac}` }, signedBody)).toBeDefined();
    });

    it('rejects bytes other than the signed ones', () => {
      const signed = Buffer.from('{\uFFFD}'); // 7b ef bf bd 7d, valid UTF-8
      const headers = svixHeaders(SECRET, signed.toString());
      expect(verify(headers, signed)).toBeDefined();
      expect(() => verify(headers, signedBody)).toThrow(WebhookVerificationError);
    });
  });
});
