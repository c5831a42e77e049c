/**
 * Generators of requests that must not get in, for test/hostile-input.e2e-spec.ts: headers where
 * no signature verifies, with any content type (all are read: the signature decides).
 */
import fc from 'fast-check';
import { HOSTILE_MAX_BODY, HOSTILE_SECRET, TOLERANCE_SECONDS } from './hostile-signing';
import { type RawRequest, nowSeconds, standardWebhooksSignature, utf8 } from './hostile-webhook';

const WRONG_SECRET = `whsec_${Buffer.from('some-other-secret-entirely-123456').toString('base64')}`;

const printable = fc
  .array(fc.integer({ min: 0x20, max: 0x7e }), { maxLength: 60 })
  .map((codes) => String.fromCharCode(...codes));
const base64ish = fc
  .uint8Array({ minLength: 0, maxLength: 48 })
  .map((bytes) => Buffer.from(bytes).toString('base64'));

/** A content type the README calls JSON (or none), or one it does not, or anything. */
const JSON_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'APPLICATION/JSON',
  'text/json',
  'application/cloudevents+json',
];
const WRONG_TYPES = [
  'text/plain',
  'text/html',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=xyz',
  'application/xml',
  'application/octet-stream',
  'application/jsonp',
  'application/json-seq',
  'application/javascript',
  'json',
  'application',
  '*/*',
  'application/*',
  'application/json, text/plain',
  'image/png',
];
export const wrongContentType = fc.oneof(
  fc.constantFrom(...WRONG_TYPES),
  fc
    .tuple(
      fc.constantFrom('text', 'application', 'image', 'audio', 'x-foo', 'multipart'),
      fc.stringMatching(/^[a-z0-9][a-z0-9.+-]{0,15}$/),
      fc.constantFrom('', '; charset=utf-8', ';q=1'),
    )
    .filter(([, subtype]) => !subtype.endsWith('json'))
    .map(([type, subtype, params]) => `${type}/${subtype}${params}`),
);

export interface UnsignedCase {
  label: string;
  request: RawRequest;
  /** Statuses allowed; a strict subset of 400/401/413 when the outcome is clear. */
  statuses: number[];
}

/**
 * Any combination of the three headers where none verifies: missing, empty, garbage, repeated,
 * a real HMAC over other bytes or with another secret, timestamps at or past the tolerance,
 * negative, NaN, far future, not numeric. Content type and encoding vary too.
 */
export const unsignedCase: fc.Arbitrary<UnsignedCase> = fc
  .record({
    body: fc.oneof(
      { weight: 4, arbitrary: fc.uint8Array({ maxLength: 256 }).map((b) => Buffer.from(b)) },
      { weight: 4, arbitrary: fc.json({ maxDepth: 3 }).map(utf8) },
      {
        weight: 1,
        arbitrary: fc
          .integer({ min: HOSTILE_MAX_BODY + 1, max: HOSTILE_MAX_BODY + 4096 })
          .map((n) => utf8('x'.repeat(n))),
      },
    ),
    family: fc.constantFrom('webhook', 'svix', 'mixed'),
    id: fc.oneof(
      fc.constant(undefined),
      fc.constantFrom('', '   '),
      printable,
      fc.constant('msg_2KWPBgLlAfxdpx2AI54pPJ85f4W'),
    ),
    timestamp: fc.oneof(
      fc.constant(undefined),
      fc.constantFrom(
        '',
        '-1',
        'NaN',
        'Infinity',
        '1e9',
        '0x10',
        '99999999999',
        '999999999999999999999',
        'now',
      ),
      fc
        .integer({ min: -TOLERANCE_SECONDS - 2, max: TOLERANCE_SECONDS + 2 })
        .map((skew) => `@${skew}`),
      fc.integer({ min: -1e9, max: 1e12 }).map(String),
      printable,
    ),
    signature: fc.oneof(
      fc.constant(undefined),
      fc.constantFrom('', 'v1', 'v1,', 'v1,aaa, v1,bbb', 'v1,aaa v1,bbb', 'v2,aaa', ','),
      base64ish.map((b) => `v1,${b}`),
      fc.array(
        base64ish.map((b) => `v1,${b}`),
        { minLength: 2, maxLength: 3 },
      ),
      printable,
      fc.constantFrom('other-body', 'wrong-secret', 'stale', 'future', 'no-prefix', 'v2-only'),
    ),
    contentType: fc.oneof(
      fc.constant(undefined),
      fc.constant(''),
      fc.constantFrom(...JSON_TYPES),
      wrongContentType,
      printable,
    ),
    encoding: fc.oneof(
      { weight: 6, arbitrary: fc.constant(undefined) },
      { weight: 1, arbitrary: fc.constantFrom('identity', 'IDENTITY', 'gzip', 'br', 'deflate') },
    ),
  })
  .map((c): UnsignedCase => {
    const now = nowSeconds();
    const names =
      c.family === 'mixed'
        ? ['svix-id', 'webhook-timestamp', 'svix-signature']
        : [`${c.family}-id`, `${c.family}-timestamp`, `${c.family}-signature`];
    let sentId = c.id;
    const id = sentId ?? 'msg_for_hmac';
    let timestamp = c.timestamp;
    if (timestamp === 'now') {
      timestamp = String(now);
    } else if (timestamp?.startsWith('@')) {
      timestamp = String(now + Number(timestamp.slice(1)));
    }
    const ts = timestamp ?? String(now);
    // Real HMACs that must still fail: other bytes, another secret, outside the window, no v1.
    const real: Record<string, () => string> = {
      'other-body': () =>
        standardWebhooksSignature(HOSTILE_SECRET, id, ts, Buffer.concat([c.body, utf8(' ')])),
      'wrong-secret': () => standardWebhooksSignature(WRONG_SECRET, id, ts, c.body),
      'no-prefix': () => standardWebhooksSignature(HOSTILE_SECRET, id, ts, c.body).slice(3),
      'v2-only': () => `v2,${standardWebhooksSignature(HOSTILE_SECRET, id, ts, c.body).slice(3)}`,
    };
    let signature: string | string[] | undefined = c.signature;
    if (typeof signature === 'string' && signature in real) {
      signature = real[signature]();
    } else if (signature === 'stale' || signature === 'future') {
      // A correct HMAC whose timestamp is past the tolerance: one second in the past (the clock
      // only moves away from it), two minutes in the future (so that property 4 can replay it).
      timestamp = String(
        now + (signature === 'stale' ? -(TOLERANCE_SECONDS + 1) : TOLERANCE_SECONDS + 120),
      );
      signature = standardWebhooksSignature(HOSTILE_SECRET, id, timestamp, c.body);
      sentId = id; // send the id the HMAC used, so that only the timestamp is wrong
    }
    const headers: RawRequest['headers'] = {};
    if (sentId !== undefined) headers[names[0]] = sentId;
    if (timestamp !== undefined) headers[names[1]] = timestamp;
    if (signature !== undefined) headers[names[2]] = signature;
    if (c.contentType !== undefined) headers['content-type'] = c.contentType;
    if (c.encoding !== undefined) headers['content-encoding'] = c.encoding;

    // Any content type is read, and the signature decides; a coded body is decoded first, and
    // these bytes are not what their coding says (400), or decode past the limit (413).
    const plainEncoding = c.encoding === undefined || c.encoding.toLowerCase() === 'identity';
    let statuses = [400, 401, 413];
    if (plainEncoding) {
      statuses = c.body.length > HOSTILE_MAX_BODY ? [413] : [401];
    }
    return { label: 'unsigned', request: { body: c.body, headers }, statuses };
  });
