/**
 * Generators of signed bodies for test/hostile-input.e2e-spec.ts: any bytes, any JSON, envelopes
 * and Provisioning objects with fields of wrong types, odd dates, deep nesting, sizes around the
 * limit. Each case carries what the README says it must get, when that is more precise than
 * `expectationFor`.
 */
import fc from 'fast-check';
import { HOSTILE_MAX_BODY } from './hostile-signing';
import {
  type Expectation,
  KNOWN_TYPES,
  KNOWN_TYPE_SAFE_DEPTH,
  NOT_JSON,
  asDate,
  expectationFor,
  utf8,
} from './hostile-webhook';

export interface Case {
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
export const text = fc.string({ unit: 'grapheme', maxLength: 12 });
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
export const provisioningCase: fc.Arbitrary<Case> = fc
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
      const fallback = expectationFor(body, HOSTILE_MAX_BODY);
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
    const fallback = expectationFor(body, HOSTILE_MAX_BODY);
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
      fc.integer({ min: 0, max: HOSTILE_MAX_BODY + 1024 }),
      fc.integer({ min: HOSTILE_MAX_BODY - 64, max: HOSTILE_MAX_BODY + 64 }),
      fc.constantFrom(HOSTILE_MAX_BODY - 1, HOSTILE_MAX_BODY, HOSTILE_MAX_BODY + 1),
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

export const anyBody: fc.Arbitrary<Case> = fc.oneof(
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
