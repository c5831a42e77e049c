import 'reflect-metadata';
import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';
import fc from 'fast-check';
import { provisioningObject } from '../testing';
import { fastInvoice, fastProvisioning } from './event-object.fast-path';
import { InvoiceDto } from './invoice.dto';
import { MAX_ID_LENGTH, ProvisioningDto, normaliseProvisioning } from './provisioning.dto';

/** What the parser did before the fast path, and still does when it is not sure. */
function fullPath(plain: Record<string, unknown>) {
  const object = plainToInstance(ProvisioningDto, normaliseProvisioning(plain));
  return { object, errors: validateSync(object, { forbidUnknownValues: false }) };
}

type Pairs = [string, unknown][];

const odd = fc.constantFrom<unknown>(
  null,
  '',
  ' ',
  0,
  -1,
  1e20,
  true,
  [],
  {},
  'not a date',
  '2024-02-30',
  '\ud83d\ude00'.repeat(MAX_ID_LENGTH),
  'x'.repeat(MAX_ID_LENGTH),
  'x'.repeat(MAX_ID_LENGTH + 1),
  '-271821-04-19T00:00:00.000Z',
  1_700_000_000,
  1_700_000_000_000,
);
/** Mostly what a sender sends, sometimes anything: both sides of each check get exercised. */
const mostly = <T>(usual: fc.Arbitrary<T>) =>
  fc.oneof({ arbitrary: usual, weight: 30 }, { arbitrary: odd, weight: 1 });
const date = mostly(
  fc.oneof(
    fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
    fc.integer({ min: 0, max: 4_000_000_000 }),
  ),
);
const text = mostly(fc.string({ minLength: 1, maxLength: 8 }));
const specialKey = fc.constantFrom('__proto__', 'constructor', 'toString', 'users', 'name');
const extras = fc.array(
  fc.tuple(
    fc.oneof(
      { arbitrary: specialKey, weight: 1 },
      { arbitrary: fc.string({ maxLength: 6 }), weight: 12 },
    ),
    fc.jsonValue({ maxDepth: 2 }),
  ),
  { maxLength: 3 },
);
const user = mostly(
  fc
    .record({ name: text, email: text }, { requiredKeys: ['name'] })
    .chain((u) => extras.map((x) => Object.entries(u).concat(x))),
);
const org = mostly(
  fc
    .record(
      { name: text, users: mostly(fc.array(user, { maxLength: 3 })) },
      { requiredKeys: ['name'] },
    )
    .chain((o) => extras.map((x) => Object.entries(o).concat(x))),
);
const provisioning = fc
  .record(
    {
      productId: text,
      customerId: text,
      startDate: date,
      endDate: date,
      invoiceId: text,
      subscriptionId: text,
      metadata: mostly(fc.jsonValue({ maxDepth: 2 })),
      externalSubscriptionId: fc.jsonValue({ maxDepth: 1 }),
      provisioningOrgs: fc.oneof(fc.array(org, { maxLength: 3 }), org),
      contractStartDate: date,
      contractEndDate: date,
      gracePeriodEndDate: date,
    },
    {
      requiredKeys: ['productId', 'customerId', 'startDate', 'endDate', 'provisioningOrgs'],
    },
  )
  .chain((p) => extras.map((x) => Object.entries(p).concat(x)));

/** Pairs whose values may themselves be pair lists (objects with special keys) → JSON text. */
function toJson(pairs: unknown): string {
  const render = (value: unknown): string => {
    if (isPairs(value)) {
      return `{${value.map(([k, v]) => `${JSON.stringify(k)}:${render(v)}`).join(',')}}`;
    }
    if (Array.isArray(value)) {
      return `[${value.map(render).join(',')}]`;
    }
    return JSON.stringify(value);
  };
  return render(pairs);
}
function isPairs(value: unknown): value is Pairs {
  return (
    Array.isArray(value) &&
    value.length > 0 &&
    value.every((p) => Array.isArray(p) && p.length === 2 && typeof p[0] === 'string')
  );
}

describe('the validation fast path', () => {
  it('never accepts what class-validator refuses, and builds what plainToInstance builds', () => {
    let fast = 0;
    fc.assert(
      fc.property(provisioning, (pairs) => {
        const plain = JSON.parse(toJson(pairs)) as Record<string, unknown>;
        const reference = fullPath(plain);
        const quick = fastProvisioning(normaliseProvisioning(plain));
        if (quick) {
          fast++;
          expect(reference.errors).toEqual([]);
          expect(quick).toStrictEqual(reference.object);
        }
      }),
      // FAST_PATH_RUNS / FAST_PATH_SEED explore more, or elsewhere (20,000 runs × 6 seeds passed).
      {
        numRuns: Number(process.env.FAST_PATH_RUNS ?? 3000),
        seed: Number(process.env.FAST_PATH_SEED ?? 20261130),
      },
    );
    // The generator must reach the fast path often enough for the comparison to mean something.
    expect(fast).toBeGreaterThan(50);
  });

  it('takes the common case: the objects Aqueduct sends', () => {
    for (const plain of [
      provisioningObject(),
      provisioningObject({ provisioningOrgs: { name: 'One org', users: [] } }),
      { ...provisioningObject(), invoiceId: null, metadata: null, gracePeriodEndDate: null },
    ] as Record<string, unknown>[]) {
      const normalised = normaliseProvisioning(JSON.parse(JSON.stringify(plain)));
      const quick = fastProvisioning(normalised);
      expect(quick).toBeInstanceOf(ProvisioningDto);
      expect(quick).toStrictEqual(fullPath(normalised).object);
    }
  });

  it('leaves a `__proto__` key to the full path', () => {
    const plain = JSON.parse(
      `{"productId":"p","customerId":"c","startDate":0,"endDate":0,"provisioningOrgs":[],"__proto__":{"x":1}}`,
    ) as Record<string, unknown>;
    expect(fastProvisioning(plain)).toBeUndefined();
    expect(fastInvoice(plain)).toBeUndefined();
  });

  it('builds an invoice as plainToInstance does', () => {
    const plain = { id: 'inv_1', amount: 12, lines: [{ sku: 'a' }] };
    expect(fastInvoice(plain)).toStrictEqual(plainToInstance(InvoiceDto, plain));
  });
});
