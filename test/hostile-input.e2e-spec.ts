/**
 * Hostile input, property-based (fast-check), against the real module: real Postgres, real HTTP.
 *
 * 1. Arbitrary bodies, correctly signed (Standard Webhooks): never 5xx; 200 or 413; a body that
 *    cannot be understood is quarantined (200 with errors naming the fields); every 200 has
 *    exactly one row; copies collapse.
 * 2. Arbitrary headers without a valid signature: 401/413/415, never 2xx or 5xx, no row.
 * 3. Wrong content types with valid signatures: 415, no row.
 * 4. The process stays up and its heap does not grow across identical batches.
 *
 * Bugs it found (B1-B7, now fixed) are kept as regression properties with their minimal
 * counterexamples; `knownBug()` names their inputs, which are quarantined where the oracle says 200.
 */
import type { INestApplication } from '@nestjs/common';
import fc from 'fast-check';
import type { Server } from 'node:http';
import { Webhook } from 'standardwebhooks';
import { DataSource } from 'typeorm';
import { createTestApp } from './support/app';
import { createTestDatabase, type TestDatabase } from './support/database';
import {
  type Expectation,
  KNOWN_TYPES,
  KNOWN_TYPE_SAFE_DEPTH,
  NAMES_A_FIELD,
  NOT_JSON,
  PG_MIN_TIMESTAMP_MS,
  type RawRequest,
  type RawResponse,
  asDate,
  expectationFor,
  gcFunction,
  knownBug,
  nowSeconds,
  postRaw,
  standardWebhooksSignature,
} from './support/hostile-webhook';

const SECRET = `whsec_${Buffer.from('hostile-input-e2e-secret-32-bytes!').toString('base64')}`;
const WRONG_SECRET = `whsec_${Buffer.from('some-other-secret-entirely-123456').toString('base64')}`;
const PATH = '/webhooks/aqueduct';
const MAX_BODY = 16 * 1024;
const TOLERANCE = 300; // the default toleranceSeconds
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const UNAUTHORIZED = 'webhook signature or secret missing or invalid';

/** Reproducible by default; FC_SEED=<n> explores other inputs. */
const SEED = Number(process.env.FC_SEED ?? 20261122);
const runs = (numRuns: number) => ({ numRuns, seed: SEED, interruptAfterTimeLimit: 40_000 });
/**
 * The regression properties stop at their first counterexample. FC_SHRINK=1 shrinks it
 * instead and prints it (that is how the minimal counterexamples in the comments were found).
 */
const SHRINK = !!process.env.FC_SHRINK;
async function assertBug<T>(property: fc.IAsyncProperty<T>, numRuns: number): Promise<void> {
  try {
    await fc.assert(property, { numRuns, seed: SEED, endOnFailure: !SHRINK });
  } catch (error) {
    if (SHRINK) {
      const cause = (error as Error).cause as Error | undefined;
      console.log(
        `${(error as Error).message.split('\n').slice(0, 4).join('\n')}\n${cause?.message}`,
      );
    }
    throw error;
  }
}

const utf8 = (text: string) => Buffer.from(text, 'utf8');

// ---------------------------------------------------------------------------------------------
// Signing
// ---------------------------------------------------------------------------------------------

type SignatureForm = 'plain' | 'after-garbage' | 'joined-duplicate' | 'repeated-header' | 'v2-too';
interface SigningOptions {
  family: 'webhook' | 'svix';
  form: SignatureForm;
  skewSeconds: number;
  contentType: string | undefined;
}

let nextId = 0;
const deliveryId = () => `msg_hostile_${process.pid}_${Date.now()}_${nextId++}`;

/** A request signed with the configured secret and scheme, in one of the accepted header forms. */
function signed(body: Buffer, options: Partial<SigningOptions> = {}): RawRequest {
  const { family = 'webhook', form = 'plain', skewSeconds = 0 } = options;
  const contentType = 'contentType' in options ? options.contentType : 'application/json';
  const id = deliveryId();
  const timestamp = String(nowSeconds() + skewSeconds);
  const signature = standardWebhooksSignature(SECRET, id, timestamp, body);
  const garbage = 'v1,Z2FyYmFnZS1zaWduYXR1cmUtZ2FyYmFnZS1zaWduYXR1cmU=';
  const signatures: Record<SignatureForm, string | string[]> = {
    plain: signature,
    'after-garbage': `${garbage} ${signature}`,
    'joined-duplicate': `${garbage}, ${signature}`,
    'repeated-header': [garbage, signature],
    'v2-too': `v2,${signature.slice(3)} ${signature}`,
  };
  const headers: RawRequest['headers'] = {
    [`${family}-id`]: id,
    [`${family}-timestamp`]: timestamp,
    [`${family}-signature`]: signatures[form],
  };
  if (contentType !== undefined) {
    headers['content-type'] = contentType;
  }
  return { body, headers };
}

const signingArb: fc.Arbitrary<SigningOptions> = fc.record({
  family: fc.constantFrom('webhook' as const, 'svix' as const),
  form: fc.constantFrom<SignatureForm>(
    'plain',
    'after-garbage',
    'joined-duplicate',
    'repeated-header',
    'v2-too',
  ),
  // Inside the window with a margin: a second may pass between signing and verifying.
  skewSeconds: fc.integer({ min: -(TOLERANCE - 5), max: TOLERANCE - 5 }),
  // JSON, or none: both are accepted ("none is accepted").
  contentType: fc.constantFrom(
    'application/json',
    'application/json; charset=utf-8',
    'Application/JSON',
    'text/json',
    'application/vnd.aqueduct.event+json',
    '',
    undefined,
  ),
});

// ---------------------------------------------------------------------------------------------
// Bodies
// ---------------------------------------------------------------------------------------------

interface Case {
  label: string;
  body: Buffer;
  /** When not given, `expectationFor(body)` (the README's table) applies. */
  expect?: Expectation;
}

const asCase =
  (label: string) =>
  (body: Buffer | string): Case => ({
    label,
    body: typeof body === 'string' ? utf8(body) : body,
  });

const DELETE = Symbol('delete');
const junkArray = fc.array(fc.jsonValue({ maxDepth: 1 }), { maxLength: 3 });
const junkObject = fc.dictionary(fc.string({ maxLength: 5 }), fc.jsonValue({ maxDepth: 1 }), {
  maxKeys: 3,
});

/** Strings for names and ids: any Unicode text (well-formed; \u0000 included). */
const text = fc.string({ unit: 'grapheme', maxLength: 12 });
const nonEmptyText = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 });

/** A date the README says is valid: ISO 8601 text, epoch seconds or epoch milliseconds. */
const validDate = fc
  .date({ min: new Date('1971-01-01'), max: new Date('2200-01-01'), noInvalidDate: true })
  .chain((date) =>
    fc.constantFrom<unknown>(date.toISOString(), Math.floor(date.getTime() / 1000), date.getTime()),
  );

/** Values that are not a date: wrong JSON types, text no parser reads, epochs out of range. */
const notADate = fc.oneof(
  fc.boolean(),
  junkArray,
  junkObject,
  fc.string({ maxLength: 20 }).filter((value) => asDate(value) === undefined),
  fc.double({ min: 8.7e15, max: 1e300, noNaN: true }),
  fc.double({ min: -1e300, max: -8.7e12, noNaN: true }),
  fc.constantFrom('NaN', 'Infinity', '-Infinity', 'yesterday', '2026-13-45T99:99:99Z'),
);

const userArb = fc.record({ name: text, email: nonEmptyText });
const orgArb = fc.record({ name: text, users: fc.array(userArb, { maxLength: 3 }) });
const provisioningArb = fc.record(
  {
    productId: nonEmptyText,
    customerId: nonEmptyText,
    startDate: validDate,
    endDate: validDate,
    invoiceId: fc.option(text, { nil: null }),
    subscriptionId: fc.option(text, { nil: null }),
    metadata: fc.dictionary(text, fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }),
    externalSubscriptionId: fc.jsonValue({ maxDepth: 1 }),
    provisioningOrgs: fc.array(orgArb, { minLength: 1, maxLength: 3 }),
    contractStartDate: validDate,
    contractEndDate: validDate,
    gracePeriodEndDate: validDate,
  },
  { requiredKeys: ['productId', 'customerId', 'startDate', 'endDate', 'provisioningOrgs'] },
);
const provisioningType = fc.constantFrom(
  'provisioning.start',
  'provisioning.end',
  'provisioning.update',
  'provisioning_start',
  ' provisioning_end ',
);

interface Mutation {
  path: (string | number)[];
  value: unknown;
}

/** Every field of a Provisioning object (and of its orgs and users) with values of wrong types. */
function mutationsOf(object: { provisioningOrgs: { users: unknown[] }[] }) {
  const requiredText = fc.oneof(
    fc.integer(),
    fc.boolean(),
    fc.constant(null),
    fc.constant(''),
    junkArray,
    junkObject,
    fc.constant(DELETE),
  );
  const anyText = fc.oneof(fc.integer(), fc.boolean(), fc.constant(null), junkArray, junkObject);
  // A user's name and address may be missing, null or empty (provisioned, skipped for mail).
  const userText = fc.oneof(fc.integer(), fc.boolean(), junkArray, junkObject);
  const optionalText = fc.oneof(fc.integer(), fc.boolean(), junkArray, junkObject);
  const notAnElement = fc.oneof(fc.integer(), fc.boolean(), fc.string(), fc.constant(null));
  const specs: { path: (string | number)[]; wrong: fc.Arbitrary<unknown> }[] = [
    { path: ['productId'], wrong: requiredText },
    { path: ['customerId'], wrong: requiredText },
    { path: ['startDate'], wrong: fc.oneof(notADate, fc.constant(null), fc.constant(DELETE)) },
    { path: ['endDate'], wrong: fc.oneof(notADate, fc.constant(null), fc.constant(DELETE)) },
    { path: ['invoiceId'], wrong: optionalText },
    { path: ['subscriptionId'], wrong: optionalText },
    { path: ['metadata'], wrong: fc.oneof(fc.integer(), fc.boolean(), fc.string(), junkArray) },
    { path: ['contractStartDate'], wrong: notADate },
    { path: ['contractEndDate'], wrong: notADate },
    { path: ['gracePeriodEndDate'], wrong: notADate },
    {
      path: ['provisioningOrgs'],
      wrong: fc.oneof(fc.integer(), fc.boolean(), fc.string({ minLength: 1 })),
    },
  ];
  object.provisioningOrgs.forEach((org, i) => {
    specs.push({ path: ['provisioningOrgs', i], wrong: notAnElement });
    specs.push({ path: ['provisioningOrgs', i, 'name'], wrong: anyText });
    specs.push({
      path: ['provisioningOrgs', i, 'users'],
      wrong: fc.oneof(fc.integer(), fc.boolean(), fc.string(), fc.constant(null), junkObject),
    });
    org.users.forEach((_, j) => {
      specs.push({ path: ['provisioningOrgs', i, 'users', j], wrong: notAnElement });
      specs.push({ path: ['provisioningOrgs', i, 'users', j, 'name'], wrong: userText });
      specs.push({ path: ['provisioningOrgs', i, 'users', j, 'email'], wrong: userText });
    });
  });
  return fc
    .subarray(specs, { maxLength: 4 })
    .chain((chosen) =>
      fc.tuple(
        ...chosen.map((spec) => spec.wrong.map((value): Mutation => ({ path: spec.path, value }))),
      ),
    );
}

function applyMutations(object: unknown, mutations: Mutation[]): unknown {
  const copy = structuredClone(object) as Record<string, any>;
  for (const { path, value } of mutations) {
    const parent = path.slice(0, -1).reduce((node: any, key) => node[key], copy);
    const key = path[path.length - 1];
    if (value === DELETE) {
      delete parent[key];
    } else {
      parent[key] = value;
    }
  }
  return copy;
}

/** A Provisioning event with 0-4 fields of wrong types: 400 naming exactly those fields, else 200. */
const provisioningCase: fc.Arbitrary<Case> = fc
  .tuple(provisioningType, provisioningArb, fc.date({ noInvalidDate: true }))
  .chain(([type, object, createdAt]) =>
    mutationsOf(object).map((mutations): Case => {
      // A mutation inside a replaced parent does not apply: keep the outermost ones.
      const effective = mutations.filter(
        (m) =>
          !mutations.some(
            (other) =>
              other !== m &&
              other.path.length < m.path.length &&
              other.path.every((key, i) => m.path[i] === key),
          ),
      );
      const mutated = applyMutations(object, effective);
      const payload = {
        type,
        createdAt: new Date(Math.max(createdAt.getTime(), 0)).toISOString(),
        object: mutated,
      };
      const body = utf8(JSON.stringify(payload));
      const fallback = expectationFor(body, MAX_BODY);
      if (fallback.message || effective.length === 0) {
        // \u0000 somewhere (400, raw bytes) or nothing wrong (200).
        return {
          label: 'provisioning',
          body,
          expect: fallback.message ? fallback : { statuses: [200] },
        };
      }
      const mentions = effective.map((m) => `object.${m.path.join('.')}`);
      return { label: 'provisioning (wrong types)', body, expect: { statuses: [400], mentions } };
    }),
  );

/** createdAt as raw JSON text: NaN, negative, far-future and out-of-range numbers, odd text. */
const createdAtToken = fc.oneof(
  fc.double().map((value) => (Number.isFinite(value) ? JSON.stringify(value) : String(value))),
  fc.integer({ min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER }).map(String),
  fc.date().map((date) => JSON.stringify(date)),
  fc.string({ maxLength: 30 }).map((value) => JSON.stringify(value)),
  fc.constantFrom(
    'NaN',
    '-NaN',
    'Infinity',
    'undefined',
    '8640000000000000',
    '8640000000000001',
    '1e20',
    '-1',
    '-0',
    '0',
    '99999999999',
    '100000000000',
    '-8640000000000',
    '-210866803200',
    '1e308',
    '1e400',
    '-1e400',
    '"NaN"',
    '""',
    '" "',
    '"2026-02-30T00:00:00Z"',
    '"+275760-09-13T00:00:00.000Z"',
    '"+275760-09-13T00:00:00.001Z"',
    '"-004713-11-24T00:00:00.000Z"',
    'true',
    'null',
    '[]',
    '{}',
    '"1700000000"',
  ),
);

const createdAtCase: fc.Arbitrary<Case> = fc
  .tuple(
    fc.constantFrom('provisioning.start', 'invoice.paid', 'customer.created', undefined),
    createdAtToken,
    provisioningArb,
    nonEmptyText,
  )
  .map(([type, token, provisioning, invoiceId]) => {
    const object = type === 'invoice.paid' ? { id: invoiceId } : provisioning;
    const head = type === undefined ? '' : `"type":${JSON.stringify(type)},`;
    const body = utf8(`{${head}"createdAt":${token},"object":${JSON.stringify(object)}}`);
    let payload: Record<string, unknown>;
    try {
      payload = JSON.parse(body.toString());
    } catch {
      return {
        label: 'createdAt (not JSON)',
        body,
        expect: { statuses: [400], message: [NOT_JSON] },
      };
    }
    const fallback = expectationFor(body, MAX_BODY);
    if (fallback.message || !KNOWN_TYPES.includes(String(type))) {
      return { label: 'createdAt (unknown type)', body, expect: fallback };
    }
    // A missing (or null) createdAt is accepted: the arrival time is used, and said so.
    const valid =
      asDate(payload.createdAt) !== undefined ||
      payload.createdAt === null ||
      payload.createdAt === undefined;
    return {
      label: 'createdAt',
      body,
      expect: valid
        ? { statuses: [200] }
        : {
            statuses: [400],
            message: ['createdAt must be an ISO 8601 date or epoch number'],
          },
    };
  });

const typeArb = fc.oneof(
  fc.constantFrom(
    ...KNOWN_TYPES,
    'provisioning_start',
    ' provisioning.end ',
    'invoice_paid',
    'PROVISIONING.START',
    'access.expired',
    'customer.created',
    '',
    '   ',
    '__proto__',
    'constructor',
    'toString',
  ),
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.jsonValue({ maxDepth: 1 }),
);

/** The envelope with any JSON in any field: known types get a random object. */
const envelopeCase = fc
  .record(
    {
      type: typeArb,
      createdAt: fc.oneof(fc.jsonValue({ maxDepth: 1 }), validDate),
      object: fc.oneof(fc.jsonValue({ maxDepth: 4 }), provisioningArb, junkObject),
      __proto__: junkObject,
      livemode: fc.jsonValue({ maxDepth: 1 }),
    },
    { requiredKeys: [] },
  )
  .map((payload) => JSON.stringify(payload))
  .map(asCase('envelope'));

/** Deep nesting: bare, or in an unknown type's object (up to the body limit and past it). */
const deepCase = fc
  .record({
    depth: fc.integer({ min: 1, max: 8300 }),
    kind: fc.constantFrom('array', 'object'),
    where: fc.constantFrom('bare', 'unknown type', 'known type'),
  })
  .map(({ depth, kind, where }) => {
    // Known types nest only up to the depth B5 (stack overflow) leaves alone.
    const levels = where === 'known type' ? Math.min(depth, KNOWN_TYPE_SAFE_DEPTH - 10) : depth;
    const nest =
      kind === 'array'
        ? '['.repeat(levels) + ']'.repeat(levels)
        : '{"a":'.repeat(levels) + '1' + '}'.repeat(levels);
    if (where === 'bare') {
      return asCase('deep (bare)')(nest);
    }
    const type = where === 'unknown type' ? 'deep.thing' : 'provisioning.start';
    return asCase(`deep (${where})`)(
      `{"type":"${type}","createdAt":"2026-01-01T00:00:00Z","object":{"metadata":${nest}}}`,
    );
  });

/** Bodies of exactly `size` bytes, around and at the limit, filled with 1-4 byte characters. */
const largeCase = fc
  .record({
    size: fc.oneof(
      fc.integer({ min: 0, max: MAX_BODY + 1024 }),
      fc.integer({ min: MAX_BODY - 64, max: MAX_BODY + 64 }),
      fc.constantFrom(MAX_BODY - 1, MAX_BODY, MAX_BODY + 1),
    ),
    fill: fc.constantFrom('x', 'é', '日', '😀', '\\n', '\\u00e9'),
  })
  .map(({ size, fill }) => {
    const head = '{"type":"large.note","pad":"';
    const tail = '"}';
    const room = Math.max(0, size - head.length - tail.length);
    const unit = Buffer.byteLength(fill);
    const pad = fill.repeat(Math.floor(room / unit)) + 'x'.repeat(room % unit);
    return asCase('large')(head + pad + tail);
  });

/** Raw bytes (mostly invalid UTF-8), bare or inside a JSON string. */
const bytesCase = fc.oneof(
  fc.uint8Array({ maxLength: 512 }).map((bytes) => asCase('bytes')(Buffer.from(bytes))),
  fc
    .uint8Array({ minLength: 1, maxLength: 256 })
    .map((bytes) => Buffer.from(bytes.filter((b) => b >= 0x20 && b !== 0x22 && b !== 0x5c)))
    .map((bytes) =>
      asCase('bytes in a JSON string')(
        Buffer.concat([utf8('{"type":"bytes","text":"'), bytes, utf8('"}')]),
      ),
    ),
);

/** Numbers JSON allows but JavaScript rounds: exponents up to 4 digits (5+ is bug B2). */
const numberCase = fc
  .tuple(
    fc.constantFrom('', '-'),
    fc.stringMatching(/^[1-9]\d{0,20}(\.\d{1,20})?$/),
    fc.integer({ min: -9999, max: 9999 }),
  )
  .map(([sign, mantissa, exponent]) =>
    asCase('number')(`{"type":"numbers","n":${sign}${mantissa}e${exponent},"m":[${mantissa}]}`),
  );

const anyBody: fc.Arbitrary<Case> = fc.oneof(
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 200 }).map(asCase('fc.string')) },
  { weight: 1, arbitrary: fc.string({ maxLength: 200 }).map(asCase('fc.string ascii')) },
  { weight: 2, arbitrary: fc.json({ maxDepth: 5 }).map(asCase('fc.json')) },
  {
    weight: 2,
    arbitrary: fc
      .jsonValue({ maxDepth: 5, stringUnit: 'grapheme' })
      .map((value) => JSON.stringify(value))
      .map(asCase('fc.jsonValue')),
  },
  { weight: 3, arbitrary: envelopeCase },
  { weight: 4, arbitrary: provisioningCase },
  { weight: 3, arbitrary: createdAtCase },
  { weight: 1, arbitrary: deepCase },
  { weight: 1, arbitrary: largeCase },
  { weight: 2, arbitrary: bytesCase },
  { weight: 1, arbitrary: numberCase },
);

// ---------------------------------------------------------------------------------------------
// Unsigned (or wrongly signed) requests
// ---------------------------------------------------------------------------------------------

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
const wrongContentType = fc.oneof(
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

interface UnsignedCase {
  label: string;
  request: RawRequest;
  /** Statuses allowed; a strict subset of 401/413/415 when the outcome is clear. */
  statuses: number[];
}

/**
 * Any combination of the three headers where none verifies: missing, empty, garbage, repeated,
 * a real HMAC over other bytes or with another secret, timestamps at or past the tolerance,
 * negative, NaN, far future, not numeric. Content type and encoding vary too.
 */
const unsignedCase: fc.Arbitrary<UnsignedCase> = fc
  .record({
    body: fc.oneof(
      { weight: 4, arbitrary: fc.uint8Array({ maxLength: 256 }).map((b) => Buffer.from(b)) },
      { weight: 4, arbitrary: fc.json({ maxDepth: 3 }).map(utf8) },
      {
        weight: 1,
        arbitrary: fc
          .integer({ min: MAX_BODY + 1, max: MAX_BODY + 4096 })
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
      fc.integer({ min: -TOLERANCE - 2, max: TOLERANCE + 2 }).map((skew) => `@${skew}`),
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
        standardWebhooksSignature(SECRET, id, ts, Buffer.concat([c.body, utf8(' ')])),
      'wrong-secret': () => standardWebhooksSignature(WRONG_SECRET, id, ts, c.body),
      'no-prefix': () => standardWebhooksSignature(SECRET, id, ts, c.body).slice(3),
      'v2-only': () => `v2,${standardWebhooksSignature(SECRET, id, ts, c.body).slice(3)}`,
    };
    let signature: string | string[] | undefined = c.signature;
    if (typeof signature === 'string' && signature in real) {
      signature = real[signature]();
    } else if (signature === 'stale' || signature === 'future') {
      // A correct HMAC whose timestamp is past the tolerance: one second in the past (the clock
      // only moves away from it), two minutes in the future (so that property 4 can replay it).
      timestamp = String(now + (signature === 'stale' ? -(TOLERANCE + 1) : TOLERANCE + 120));
      signature = standardWebhooksSignature(SECRET, id, timestamp, c.body);
      sentId = id; // send the id the HMAC used, so that only the timestamp is wrong
    }
    const headers: RawRequest['headers'] = {};
    if (sentId !== undefined) headers[names[0]] = sentId;
    if (timestamp !== undefined) headers[names[1]] = timestamp;
    if (signature !== undefined) headers[names[2]] = signature;
    if (c.contentType !== undefined) headers['content-type'] = c.contentType;
    if (c.encoding !== undefined) headers['content-encoding'] = c.encoding;

    const wrongType = c.contentType !== undefined && WRONG_TYPES.includes(c.contentType);
    const jsonType =
      c.contentType === undefined || c.contentType === '' || JSON_TYPES.includes(c.contentType);
    const plainEncoding = c.encoding === undefined || c.encoding.toLowerCase() === 'identity';
    let statuses = [401, 413, 415];
    if (wrongType || (jsonType && !plainEncoding)) {
      statuses = [415];
    } else if (jsonType && plainEncoding) {
      statuses = c.body.length > MAX_BODY ? [413] : [401];
    }
    return { label: 'unsigned', request: { body: c.body, headers }, statuses };
  });

// ---------------------------------------------------------------------------------------------

describe('Hostile input (property-based, real HTTP and Postgres)', () => {
  let db: TestDatabase;
  let app: INestApplication;
  let server: Server;
  const crashes: unknown[] = [];
  const onCrash = (error: unknown) => crashes.push(error);

  beforeAll(async () => {
    process.on('unhandledRejection', onCrash);
    process.on('uncaughtException', onCrash);
    db = await createTestDatabase();
    app = await createTestApp({
      databaseUrl: db.url,
      aqueduct: {
        secrets: [SECRET],
        verification: { scheme: 'standard-webhooks' },
        maxBodyBytes: MAX_BODY,
      },
    });
    await app.listen(0, '127.0.0.1');
    server = app.getHttpServer();
  });
  afterAll(async () => {
    process.off('unhandledRejection', onCrash);
    process.off('uncaughtException', onCrash);
    await app?.close();
    await db?.drop();
  });

  const post = (req: RawRequest) => postRaw(server, PATH, req);
  /** Webhook rows (the module's own `access:` and `alert:` rows are not requests). */
  const rowCount = async (): Promise<number> =>
    (
      await app
        .get(DataSource)
        .query(
          `SELECT count(*)::int AS n FROM aqueduct_events WHERE dedup_key NOT LIKE 'access:%' AND dedup_key NOT LIKE 'alert:%'`,
        )
    )[0].n;
  const rowById = async (id: string) =>
    (
      await app
        .get(DataSource)
        .query(`SELECT status, errors FROM aqueduct_events WHERE id = $1`, [id])
    )[0] as { status: string; errors: string[] | null } | undefined;

  /**
   * Checks the answers to one signed delivery (sent once or twice) and the rows it left. The
   * oracle says 400 for a body that cannot be understood: with `invalidEvents: 'quarantine'` (the
   * default, this app) that is a 200 `{ received, id, quarantined: true, errors }` and a
   * `quarantined` row; the errors must be what a 400 would have named.
   */
  async function checkSigned(c: Case, answers: RawResponse[], rowsAdded: number) {
    const bug = c.body.length <= MAX_BODY ? knownBug(c.body) : undefined;
    const expected = c.expect ?? expectationFor(c.body, MAX_BODY);
    const [first] = answers;
    for (const res of answers) {
      expect(res.status).toBe(first.status);
    }
    const quarantined = first.status === 200 && first.body?.quarantined === true;
    const status = quarantined ? 400 : first.status;
    if (bug) {
      // The inputs of bugs B1-B7 (fixed; regression tests below): a body Postgres cannot store as
      // JSON is kept as raw bytes and quarantined, where the oracle would expect a 200.
      expect([200, 400]).toContain(status);
    } else {
      expect(expected.statuses).toContain(status);
    }
    if (first.status >= 500 || first.status === 413) {
      expect(first.body).toMatchObject({ statusCode: first.status, message: expect.any(String) });
      expect(rowsAdded).toBe(0);
      return;
    }
    expect(rowsAdded).toBe(1); // copies collapse onto one row
    const ids = new Set(answers.map((res) => res.body.id));
    expect(ids.size).toBe(1);
    const id = first.body.id as string;
    expect(id).toMatch(UUID);
    const row = await rowById(id);
    expect(first.status).toBe(200); // never an answer a retry would repeat
    expect(answers.filter((res) => !res.body.duplicate)).toHaveLength(1);
    if (!quarantined) {
      for (const res of answers) {
        expect(Object.keys(res.body).sort()).toEqual(
          res.body.duplicate ? ['duplicate', 'id', 'received'] : ['id', 'received'],
        );
        expect(res.body.received).toBe(true);
      }
      expect(row?.status).toBe('accepted');
      return;
    }
    const message = first.body.errors as string[];
    for (const res of answers) {
      expect(res.body).toEqual({
        received: true,
        id,
        ...(res.body.duplicate ? { duplicate: true } : {}),
        quarantined: true,
        errors: message,
      });
    }
    expect(Array.isArray(message) && message.length > 0).toBe(true);
    for (const line of message) {
      expect(line).toMatch(NAMES_A_FIELD);
    }
    if (expected.message) {
      expect(message).toEqual(expected.message);
    }
    if (expected.mentions) {
      const names = (line: string, field: string) =>
        line.startsWith(field) && /^[ .:]/.test(line.slice(field.length));
      for (const field of expected.mentions) {
        expect(message.some((line) => names(line, field))).toBe(true);
      }
      for (const line of message) {
        expect(expected.mentions.some((field) => names(line, field))).toBe(true);
      }
    }
    expect(row?.status).toBe('quarantined');
    expect(row?.errors).toEqual(message);
  }

  it('sanity: the test signer agrees with the standardwebhooks package', () => {
    const body = '{"type":"note","text":"Zoë 日本"}';
    const at = new Date();
    const id = 'msg_sanity';
    const seconds = String(Math.floor(at.getTime() / 1000));
    expect(standardWebhooksSignature(SECRET, id, seconds, utf8(body))).toBe(
      new Webhook(SECRET).sign(id, at, body),
    );
  });

  it('1. signed arbitrary bodies: 200 (accepted or quarantined) or 413, never 5xx; one row per 200; copies collapse', async () => {
    const labels: Record<string, number> = {};
    const statuses: Record<number, number> = {};
    await fc.assert(
      fc.asyncProperty(
        anyBody,
        signingArb,
        fc.constantFrom('once', 'once', 'again', 'concurrently'),
        async (c, signing, copies) => {
          labels[c.label] = (labels[c.label] ?? 0) + 1;
          const req = signed(c.body, signing);
          const before = await rowCount();
          const answers =
            copies === 'once'
              ? [await post(req)]
              : copies === 'again'
                ? [await post(req), await post(req)]
                : await Promise.all([post(req), post(req)]);
          statuses[answers[0].status] = (statuses[answers[0].status] ?? 0) + 1;
          await checkSigned(c, answers, (await rowCount()) - before);
        },
      ),
      runs(400),
    );
    console.log(
      `property 1: bodies by kind ${JSON.stringify(labels)}, answers ${JSON.stringify(statuses)}`,
    );
  }, 120_000);

  it('2. headers without a valid signature: 401/413/415, never 2xx or 5xx, and no row', async () => {
    const statuses: Record<number, number> = {};
    const before = await rowCount();
    await fc.assert(
      fc.asyncProperty(unsignedCase, async (c) => {
        const rowsBefore = await rowCount();
        const res = await post(c.request);
        statuses[res.status] = (statuses[res.status] ?? 0) + 1;
        expect(c.statuses).toContain(res.status);
        expect(res.body).toMatchObject({ statusCode: res.status, message: expect.any(String) });
        if (res.status === 401) {
          expect(res.body).toEqual({
            statusCode: 401,
            error: 'Unauthorized',
            message: UNAUTHORIZED,
          });
        }
        expect(await rowCount()).toBe(rowsBefore);
      }),
      runs(400),
    );
    expect(await rowCount()).toBe(before);
    console.log(`property 2: answers ${JSON.stringify(statuses)}`);
  }, 120_000);

  it('3. wrong content types (or encodings) with valid signatures: 415 and no row', async () => {
    const before = await rowCount();
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          provisioningCase.map((c) => c.body),
          fc.json({ maxDepth: 3 }).map(utf8),
        ),
        fc.oneof(
          wrongContentType.map((contentType) => ({ contentType, encoding: undefined })),
          fc
            .constantFrom('gzip', 'br', 'deflate', 'compress', 'x-anything')
            .map((encoding) => ({ contentType: 'application/json', encoding })),
        ),
        async (body, { contentType, encoding }) => {
          const rowsBefore = await rowCount();
          const req = signed(body, { contentType });
          if (encoding) req.headers['content-encoding'] = encoding;
          const res = await post(req);
          expect(res.status).toBe(415);
          expect(res.body).toMatchObject({
            statusCode: 415,
            error: 'Unsupported Media Type',
            message: expect.stringMatching(/content-(type|encoding)/),
          });
          expect(await rowCount()).toBe(rowsBefore);
        },
      ),
      runs(200),
    );
    expect(await rowCount()).toBe(before);
  }, 120_000);

  // -------------------------------------------------------------------------------------------
  // Regressions: bugs B1-B7 this suite found, each with its minimal counterexample. All fixed:
  // a body Postgres cannot store as JSON is kept as raw bytes and rejected (400), dates outside
  // timestamptz fail validation, deep known objects get 400 before class-transformer recurses,
  // and Object.prototype names are unknown types.
  // -------------------------------------------------------------------------------------------
  describe('regressions of bugs found by this suite (B1-B7, fixed)', () => {
    /** A signed, well-formed JSON body must get 200 or 400 with its row; today it gets a 5xx. */
    async function mustBeStored(body: Buffer, server0 = server) {
      const before = await rowCount();
      const res = await postRaw(server0, PATH, signed(body));
      expect({ status: res.status, body: res.body }).toEqual({
        status: expect.any(Number),
        body: expect.anything(),
      });
      expect([200, 400]).toContain(res.status);
      expect(await rowCount()).toBe(before + 1);
    }
    const loneSurrogate = fc
      .integer({ min: 0xd800, max: 0xdfff })
      .map((code) => String.fromCharCode(code));

    // B1. Minimal counterexample: {"type":"customer.created","createdAt":1,"object":{"name":"\ud800"}}
    // (the escape JSON.stringify writes for a lone surrogate) → 503 "the event could not be
    // stored", no row; expected 200 (or 400 with the raw bytes kept, like \u0000). Postgres refuses
    // the escape in jsonb with 22P02, which the inbox does not treat as unstorable (only
    // 22P05/22021). A user name or metadata value with a broken surrogate pair is enough.
    it('B1: a lone surrogate escape (\\ud800) in any string is stored, not 503', async () => {
      await assertBug(
        fc.asyncProperty(
          fc.constantFrom('customer.created', 'provisioning.start'),
          text,
          loneSurrogate,
          text,
          async (type, before, surrogate, after) => {
            const object = { name: before + surrogate + after };
            await mustBeStored(utf8(JSON.stringify({ type, createdAt: 1, object })));
          },
        ),
        20,
      );
    });

    // B2. Minimal counterexample: {"type":"numbers","a":1e131072} → 503, no row; expected 200.
    // Also 1e-16384 and 0.0e-999999. Valid JSON (JavaScript reads Infinity or 0) that Postgres'
    // numeric refuses in jsonb (22003 "value overflows numeric format").
    it('B2: a number beyond Postgres numeric range (1e131072) is stored, not 503', async () => {
      await assertBug(
        fc.asyncProperty(
          fc.integer({ min: 1, max: 9 }),
          fc.integer({ min: -999_999, max: 999_999 }),
          async (mantissa, exponent) => {
            await mustBeStored(utf8(`{"type":"numbers","a":${mantissa}e${exponent}}`));
          },
        ),
        40,
      );
    });

    // B3. Minimal counterexample: {"type":"\u0000"} → 503, no row; expected 400 (rejected, raw
    // bytes kept, as for \u0000 anywhere else). The type column is text, which cannot hold NUL
    // (22021); the raw-bytes fallback keeps the same type and fails again.
    it('B3: \\u0000 in "type" is stored (quarantined), not 503', async () => {
      await assertBug(
        fc.asyncProperty(text, text, async (before, after) => {
          await mustBeStored(utf8(JSON.stringify({ type: `${before}\u0000${after}` })));
        }),
        20,
      );
    });

    // B4. Minimal counterexample: {"type":"customer.created","createdAt":"-004713-11-23T23:59:59.999Z",
    // "object":{}} (or the epoch -210866803201) → 503, no row, for any type, valid or not; expected
    // 200 (or 400 naming createdAt). JavaScript reads a date before Postgres' timestamptz minimum
    // (4714-11-24 BC) and the insert fails (22008 "timestamp out of range").
    it('B4: a createdAt before 4714-11-24 BC is stored (accepted or quarantined), not 503', async () => {
      await assertBug(
        fc.asyncProperty(
          fc.date({ max: new Date(PG_MIN_TIMESTAMP_MS - 1), noInvalidDate: true }),
          fc.constantFrom('iso', 'seconds'),
          fc.constantFrom('customer.created', 'provisioning.start'),
          async (date, form, type) => {
            const createdAt =
              form === 'iso' ? date.toISOString() : Math.floor(date.getTime() / 1000);
            await mustBeStored(utf8(JSON.stringify({ type, createdAt, object: {} })));
          },
        ),
        20,
      );
    });

    // B5. Minimal counterexample: {"type":"provisioning.start","createdAt":1,"object":
    // {"provisioningOrgs":[[[…]]]}} with 1,086 nested arrays (2.2 KB, far below the body
    // limit) → 500 "the event could not be processed", no row; expected 400 naming
    // object.provisioningOrgs, stored as rejected. class-transformer's plainToInstance recurses
    // once per level and overflows the stack (RangeError). Nested objects in `metadata` do the
    // same. Unknown types are not affected (no class-transformer).
    it('B5: a deeply nested known-type object is quarantined with a row, not 500', async () => {
      await assertBug(
        fc.asyncProperty(
          fc.integer({ min: 1, max: 7000 }),
          fc.constantFrom('provisioningOrgs', 'metadata'),
          async (depth, field) => {
            const levels = field === 'metadata' ? Math.min(depth, 2500) : depth;
            const nest =
              field === 'provisioningOrgs'
                ? '['.repeat(levels) + ']'.repeat(levels)
                : '{"a":'.repeat(levels) + '1' + '}'.repeat(levels);
            await mustBeStored(
              utf8(`{"type":"provisioning.start","createdAt":1,"object":{"${field}":${nest}}}`),
            );
          },
        ),
        20,
      );
    });

    // B7. Minimal counterexamples: {"type":"toString","createdAt":1,"object":{}} → 500 and no row;
    // {"type":"toString"} → 400 ["createdAt must be …", "object must be a JSON object"]. Expected
    // 200 for both (an unknown type is always accepted and stored). The parser looks the type up
    // in a plain object literal (OBJECT_CLASS[type]), so the Object.prototype members constructor,
    // toString, toLocaleString, valueOf, hasOwnProperty, isPrototypeOf and propertyIsEnumerable are
    // taken for known types: 400 without an object, and with one plainToInstance(toString, …)
    // throws (500; "constructor" with an object happens to pass). Names with "_" are not hit
    // (normalised to "._…").
    it('B7: a type named like an Object.prototype member is an unknown type (200)', async () => {
      await assertBug(
        fc.asyncProperty(
          fc.constantFrom(...Object.getOwnPropertyNames(Object.prototype)),
          fc.boolean(),
          async (type, withObject) => {
            const before = await rowCount();
            const payload = withObject ? { type, createdAt: 1, object: {} } : { type };
            const res = await post(signed(utf8(JSON.stringify(payload))));
            expect({ status: res.status, body: res.body }).toEqual({
              status: 200,
              body: { received: true, id: expect.stringMatching(UUID) },
            });
            expect(await rowCount()).toBe(before + 1);
          },
        ),
        30,
      );
    });

    // B6. With the default maxBodyBytes (1 MiB), JSON nested deeper than Postgres' jsonb parser
    // allows (max_stack_depth, 2MB here) → 503 and no row, for any type; expected 200 or 400 with
    // the raw bytes kept. Minimal counterexample: {"a":[[[…]]]} with 14,543 nested arrays
    // (about 29 KB).
    describe('B6 (default maxBodyBytes)', () => {
      let bigApp: INestApplication;
      beforeAll(async () => {
        bigApp = await createTestApp({
          databaseUrl: db.url,
          aqueduct: { secrets: [SECRET], verification: { scheme: 'standard-webhooks' } },
        });
        await bigApp.listen(0, '127.0.0.1');
      });
      afterAll(async () => {
        await bigApp?.close();
      });

      it('B6: JSON nested deeper than Postgres jsonb allows is stored, not 503', async () => {
        await assertBug(
          fc.asyncProperty(fc.integer({ min: 1, max: 300_000 }), async (depth) => {
            const body = utf8(`{"a":${'['.repeat(depth)}${']'.repeat(depth)}}`);
            await mustBeStored(body, bigApp.getHttpServer());
          }),
          10,
        );
      });
    });
  });

  it('4. the process stays up and the heap is stable across identical hostile batches', async () => {
    const signedPart = fc.sample(anyBody, { numRuns: 200, seed: SEED + 1 });
    const batch: { request: RawRequest; unsigned: boolean; bug?: string }[] = [
      ...signedPart.map((c) => ({
        request: signed(c.body),
        unsigned: false,
        bug: knownBug(c.body),
      })),
      ...fc
        .sample(unsignedCase, { numRuns: 200, seed: SEED + 2 })
        .map((c) => ({ request: c.request, unsigned: true })),
    ];
    const runBatch = async () => {
      const seen: Record<number, number> = {};
      for (let i = 0; i < batch.length; i += 8) {
        const slice = batch.slice(i, i + 8);
        const answers = await Promise.all(slice.map((item) => post(item.request)));
        answers.forEach((res, j) => {
          seen[res.status] = (seen[res.status] ?? 0) + 1;
          if (slice[j].unsigned) {
            expect([401, 413, 415]).toContain(res.status);
          } else if (!slice[j].bug) {
            expect(res.status).toBeLessThan(500);
          }
        });
      }
      return seen;
    };
    const gc = gcFunction();
    const settle = async () => {
      await new Promise((resolve) => setTimeout(resolve, 200));
      gc?.();
      gc?.();
      return process.memoryUsage().heapUsed;
    };
    const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

    const first = await runBatch(); // warm-up: caches, JIT, pools
    const heap0 = await settle();
    const second = await runBatch();
    const heap1 = await settle();
    const third = await runBatch();
    const heap2 = await settle();
    console.log(
      `property 4: ${batch.length} requests per batch; answers ${JSON.stringify(first)} / ` +
        `${JSON.stringify(second)} / ${JSON.stringify(third)}; heapUsed after ${gc ? 'forced GC' : 'no GC (gc unavailable)'}: ` +
        `${mb(heap0)} → ${mb(heap1)} → ${mb(heap2)} (growth ${mb(heap2 - heap0)}); ` +
        `rss ${mb(process.memoryUsage().rss)}`,
    );
    expect(heap2 - heap0).toBeLessThan((gc ? 16 : 50) * 1024 * 1024);

    // Still serving, and nothing escaped as an unhandled error.
    expect(server.listening).toBe(true);
    const ok = await post(signed(utf8('{"type":"still.alive","createdAt":1}')));
    expect(ok.status).toBe(200);
    expect(await rowById(ok.body.id)).toBeDefined();
    expect(crashes).toEqual([]);
  }, 120_000);
});
