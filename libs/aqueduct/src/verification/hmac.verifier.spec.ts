import { execFileSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { resolve } from 'node:path';
import type { HmacVerification } from '../options/aqueduct-options.interface';
import { HmacVerifier } from './hmac.verifier';
import { reasonOf } from './verification.spec-helpers';
import { WebhookVerificationError } from './webhook-verification.error';

// GitHub's published example (docs: "Validating webhook deliveries").
const GITHUB_SECRET = "It's a Secret to Everybody";
const GITHUB_PAYLOAD = 'Hello, World!';
const GITHUB_DIGEST = '757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17';
const GITHUB: HmacVerification = {
  scheme: 'hmac',
  header: 'x-hub-signature-256',
  prefix: 'sha256=',
};

const SECRET = 'hmac-test-secret';
const BODY = '{"type":"invoice.paid","object":{"id":"inv_1"}}';
const NOW = 1_700_000_000;

/**
 * `@octokit/webhooks-methods` is ESM-only (its exports hold only `import` conditions), which the
 * CommonJS ts-jest runtime cannot require; it is run in a child Node process instead.
 */
function octokitSign(secret: string, payload: string): string {
  const script =
    "import { sign } from '@octokit/webhooks-methods';" +
    'process.stdout.write(await sign(process.argv[1], process.argv[2]));';
  return execFileSync(process.execPath, ['--input-type=module', '-e', script, secret, payload], {
    cwd: resolve(__dirname, '../../../..'),
    encoding: 'utf8',
  });
}

const hmac = (secret: string, content: string, algorithm = 'sha256') =>
  createHmac(algorithm, secret).update(content);

function verify(
  options: HmacVerification,
  headers: IncomingHttpHeaders,
  body = BODY,
  secrets = [SECRET],
) {
  return new HmacVerifier(secrets, options).verify({ rawBody: Buffer.from(body), headers });
}

describe('HmacVerifier', () => {
  it("accepts GitHub's published example", () => {
    const headers = { 'x-hub-signature-256': `sha256=${GITHUB_DIGEST}` };
    expect(verify(GITHUB, headers, GITHUB_PAYLOAD, [GITHUB_SECRET])).toEqual({
      deliveryId: undefined,
      deliveryIdSigned: false,
      signedAt: undefined,
    });
  });

  it('accepts a signature made by @octokit/webhooks-methods', () => {
    const signature = octokitSign(SECRET, BODY);
    expect(signature).toMatch(/^sha256=[0-9a-f]{64}$/);
    expect(verify(GITHUB, { 'x-hub-signature-256': signature })).toBeDefined();
  });

  it('matches the configured header name case-insensitively', () => {
    const headers = { 'x-hub-signature-256': `sha256=${GITHUB_DIGEST}` };
    const options = { ...GITHUB, header: 'X-Hub-Signature-256' };
    expect(verify(options, headers, GITHUB_PAYLOAD, [GITHUB_SECRET])).toBeDefined();
  });

  it('reads x-aqueduct-signature with a bare hex digest by default', () => {
    const headers = { 'x-aqueduct-signature': hmac(SECRET, BODY).digest('hex') };
    expect(verify({ scheme: 'hmac' }, headers)).toBeDefined();
  });

  it.each([
    ['an upper-case prefix in the header', 'SHA256=', 'sha256='],
    ['an upper-case configured prefix', 'sha256=', 'SHA256='],
  ])('accepts %s', (_, sent, configured) => {
    const headers = { 'x-hub-signature-256': `${sent}${GITHUB_DIGEST.toUpperCase()}` };
    const options = { ...GITHUB, prefix: configured };
    expect(verify(options, headers, GITHUB_PAYLOAD, [GITHUB_SECRET])).toBeDefined();
  });

  it('accepts a base64 SHA-512 digest', () => {
    const options: HmacVerification = { scheme: 'hmac', algorithm: 'sha512', encoding: 'base64' };
    const headers = { 'x-aqueduct-signature': hmac(SECRET, BODY, 'sha512').digest('base64') };
    expect(verify(options, headers)).toBeDefined();
    const sha256 = { 'x-aqueduct-signature': hmac(SECRET, BODY).digest('base64') };
    expect(() => verify(options, sha256)).toThrow(WebhookVerificationError);
  });

  it('accepts one matching signature among several, comma-separated', () => {
    const good = hmac(SECRET, BODY).digest('hex');
    expect(verify({ scheme: 'hmac' }, { 'x-aqueduct-signature': `abcd, ${good}` })).toBeDefined();
  });

  it('accepts either secret during a rotation', () => {
    for (const secret of ['old-secret', 'new-secret']) {
      const headers = { 'x-aqueduct-signature': hmac(secret, BODY).digest('hex') };
      expect(verify({ scheme: 'hmac' }, headers, BODY, ['old-secret', 'new-secret'])).toBeDefined();
    }
  });

  it('rejects another secret and a tampered body', () => {
    const headers = { 'x-aqueduct-signature': hmac(SECRET, BODY).digest('hex') };
    expect(reasonOf(() => verify({ scheme: 'hmac' }, headers, BODY, ['other']))).toBe(
      'no signature matches any configured secret',
    );
    expect(() => verify({ scheme: 'hmac' }, headers, BODY.replace('inv_1', 'inv_2'))).toThrow(
      WebhookVerificationError,
    );
  });

  it('rejects a missing header, naming it', () => {
    expect(reasonOf(() => verify(GITHUB, {}))).toBe('missing header: x-hub-signature-256');
  });

  it.each(['sha256=', 'sha256=xyz123', `sha256=${GITHUB_DIGEST}0`, GITHUB_DIGEST, 'garbage'])(
    'rejects the unreadable signature %p',
    (value) => {
      const reason = reasonOf(() => verify(GITHUB, { 'x-hub-signature-256': value }));
      expect(reason).toBe('x-hub-signature-256 does not hold a hex digest');
    },
  );

  it('returns the deliveryIdHeader value as deliveryId', () => {
    const options: HmacVerification = { scheme: 'hmac', deliveryIdHeader: 'X-Delivery-Id' };
    const headers = {
      'x-aqueduct-signature': hmac(SECRET, BODY).digest('hex'),
      'x-delivery-id': 'dlv_42',
    };
    expect(verify(options, headers)).toEqual({
      deliveryId: 'dlv_42',
      deliveryIdSigned: false,
      signedAt: undefined,
    });
  });

  it('never puts the secret or the signature in the reason', () => {
    const signature = hmac('other', BODY).digest('hex');
    const reason = reasonOf(() =>
      verify({ scheme: 'hmac' }, { 'x-aqueduct-signature': signature }),
    );
    expect(reason).not.toContain(SECRET);
    expect(reason).not.toContain(signature);
  });

  describe('with timestampHeader', () => {
    const options: HmacVerification = { scheme: 'hmac', timestampHeader: 'X-Aqueduct-Timestamp' };
    const signed = (ts: number | string, body = BODY) => ({
      'x-aqueduct-timestamp': String(ts),
      'x-aqueduct-signature': hmac(SECRET, `${ts}.${body}`).digest('hex'),
    });

    beforeEach(() => jest.useFakeTimers().setSystemTime(NOW * 1000));
    afterEach(() => jest.useRealTimers());

    it('signs `<timestamp>.<body>` and returns signedAt', () => {
      expect(verify(options, signed(NOW))).toEqual({
        deliveryId: undefined,
        deliveryIdSigned: false,
        signedAt: new Date(NOW * 1000),
      });
    });

    it('rejects a signature of the body alone', () => {
      const headers = {
        'x-aqueduct-timestamp': String(NOW),
        'x-aqueduct-signature': hmac(SECRET, BODY).digest('hex'),
      };
      expect(() => verify(options, headers)).toThrow('no signature matches any configured secret');
    });

    it('rejects a missing timestamp, naming the header', () => {
      const headers = { 'x-aqueduct-signature': signed(NOW)['x-aqueduct-signature'] };
      expect(reasonOf(() => verify(options, headers))).toBe('missing header: X-Aqueduct-Timestamp');
    });

    it.each([300, -300])('accepts a timestamp exactly %is from now', (offset) => {
      expect(verify(options, signed(NOW + offset)).signedAt).toEqual(
        new Date((NOW + offset) * 1000),
      );
    });

    it.each([301, -301])('rejects a timestamp %is from now', (offset) => {
      expect(reasonOf(() => verify(options, signed(NOW + offset)))).toMatch(/tolerance/);
    });

    it('says whether a stale timestamp was signed with a configured secret', () => {
      const refusal = (headers: Record<string, string>) => {
        try {
          verify(options, headers);
        } catch (error) {
          return error as WebhookVerificationError;
        }
        throw new Error('accepted');
      };
      expect(refusal(signed(NOW - 3600))).toMatchObject({
        kind: 'stale-timestamp',
        authentic: true,
      });
      const forged = { ...signed(NOW - 3600), 'x-aqueduct-signature': 'ab'.repeat(32) };
      expect(refusal(forged)).toMatchObject({ kind: 'stale-timestamp', authentic: false });
    });

    it('applies a configured toleranceSeconds', () => {
      const strict = { ...options, toleranceSeconds: 10 };
      expect(verify(strict, signed(NOW + 10))).toBeDefined();
      expect(() => verify(strict, signed(NOW - 11))).toThrow(/10s tolerance/);
    });

    it.each(['soon', '-1', `${NOW}.5`])('rejects the timestamp %p', (ts) => {
      expect(reasonOf(() => verify(options, signed(ts)))).toMatch(/not a Unix time/);
    });

    it('verifies a timestamp in milliseconds or ISO 8601, signed as sent', () => {
      expect(verify(options, signed(String(NOW * 1000)))).toBeDefined();
      expect(verify(options, signed(new Date(NOW * 1000).toISOString()))).toBeDefined();
    });
  });
});
