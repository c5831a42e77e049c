import 'reflect-metadata';
import { invoicePaidEvent, provisioningObject, provisioningStartEvent } from '../testing';
import {
  CREATED_AT_MISSING,
  MAX_TYPE_LENGTH,
  parseAqueductEvent,
  type ParsedEvent,
} from './aqueduct-event.parser';
import { MAX_ID_LENGTH, ProvisioningDto } from './provisioning.dto';

const START = '2024-03-01T00:00:00.000Z';
const END = '2024-03-31T00:00:00.000Z';
const parse = (body: unknown) =>
  parseAqueductEvent(Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)));
const event = (object: Record<string, unknown>, type = 'provisioning.start') => ({
  type,
  createdAt: START,
  object,
});
const provisioning = (overrides: Record<string, unknown> = {}) =>
  provisioningObject({ startDate: START, endDate: END, ...overrides });

function valid(parsed: ParsedEvent) {
  if (!parsed.valid) {
    throw new Error(`expected a valid event, got ${parsed.errors.join('; ')}`);
  }
  return parsed as ParsedEvent & { object: ProvisioningDto; warnings: string[] };
}
function errors(parsed: ParsedEvent): string[] {
  expect(parsed.valid).toBe(false);
  return parsed.valid ? [] : parsed.errors;
}

describe('parseAqueductEvent', () => {
  it('parses a provisioning.start event into a ProvisioningDto', () => {
    const body = provisioningStartEvent({ startDate: START, endDate: END });
    const parsed = valid(parse(body));
    expect(parsed.type).toBe('provisioning.start');
    expect(parsed.createdAt).toEqual(new Date(body.createdAt));
    expect(parsed.object).toBeInstanceOf(ProvisioningDto);
    expect(parsed.object.startDate).toEqual(new Date(START));
    expect(parsed.object.endDate).toEqual(new Date(END));
    expect(parsed.object.provisioningOrgs[0].users[1].email).toBe('alan@acme.test');
    expect(parsed.payload).toEqual(body);
  });

  it('normalises provisioning_start to provisioning.start', () => {
    expect(valid(parse(event(provisioning(), 'provisioning_start'))).type).toBe(
      'provisioning.start',
    );
  });

  it('turns a single provisioningOrgs object into an array', () => {
    const org = { name: 'Solo Ltd', users: [{ name: 'Sam', email: 'sam@solo.test' }] };
    const { object } = valid(parse(event(provisioning({ provisioningOrgs: org }))));
    expect(object.provisioningOrgs).toEqual([org]);
    const many = valid(parse(event(provisioning({ provisioningOrgs: [org, org] }))));
    expect(many.object.provisioningOrgs).toHaveLength(2);
  });

  it.each([null, undefined])('turns provisioningOrgs %p into an empty array', (orgs) => {
    expect(valid(parse(event(provisioning({ provisioningOrgs: orgs })))).object).toMatchObject({
      provisioningOrgs: [],
    });
  });

  it('hoists contract dates nested in the single provisioningOrgs object', () => {
    const object: Record<string, unknown> = provisioning({
      provisioningOrgs: {
        name: 'Acme',
        users: [],
        contractStartDate: START,
        contractEndDate: END,
        gracePeriodEndDate: 1711929600,
      },
    });
    delete object.contractStartDate;
    delete object.contractEndDate;
    delete object.gracePeriodEndDate;
    const parsed = valid(parse(event(object)));
    expect(parsed.object.contractStartDate).toEqual(new Date(START));
    expect(parsed.object.contractEndDate).toEqual(new Date(END));
    expect(parsed.object.gracePeriodEndDate).toEqual(new Date(1711929600 * 1000));
  });

  it.each([
    ['an ISO string', START],
    ['epoch seconds', Date.parse(START) / 1000],
    ['epoch milliseconds', Date.parse(START)],
  ])('reads dates given as %s', (_, value) => {
    const parsed = valid(parse({ ...event(provisioning({ startDate: value })), createdAt: value }));
    expect(parsed.createdAt).toEqual(new Date(START));
    expect(parsed.object.startDate).toEqual(new Date(START));
  });

  it('allows null invoiceId and subscriptionId', () => {
    const { object } = valid(parse(event(provisioning({ invoiceId: null, subscriptionId: null }))));
    expect(object).toMatchObject({ invoiceId: null, subscriptionId: null });
  });

  it('keeps fields it does not know', () => {
    const body = { ...event(provisioning({ seats: 12 })), livemode: true };
    const parsed = valid(parse(body));
    expect(parsed.object.seats).toBe(12);
    expect(parsed.payload).toMatchObject({ livemode: true, object: { seats: 12 } });
  });

  it('names the path of each invalid field', () => {
    const orgs = [
      {
        name: 'Acme',
        users: [
          { name: 'A', email: 'a@x' },
          { name: 'B', email: 42 },
        ],
      },
    ];
    const object: Record<string, unknown> = provisioning({
      provisioningOrgs: orgs,
      startDate: 'not a date',
      metadata: 'x' as never,
    });
    delete object.productId;
    const parsed = parse(event(object));
    expect(parsed.payload).toEqual(event(object));
    expect(errors(parsed)).toEqual(
      expect.arrayContaining([
        'object.provisioningOrgs.0.users.1.email must be a string',
        'object.productId is required',
        'object.startDate must be an ISO 8601 date or epoch number',
        'object.metadata must be an object',
      ]),
    );
  });

  it('requires createdAt and an object for a known type', () => {
    expect(
      errors(parse({ type: 'provisioning.start', createdAt: 'yesterday', object: [] })),
    ).toEqual([
      'createdAt must be an ISO 8601 date or epoch number',
      'object must be a JSON object',
    ]);
  });

  it.each([['{"type":'], [''], ['\u00ff']])('rejects the non-JSON body %p', (body) => {
    expect(parse(body)).toEqual({
      valid: false,
      type: 'unknown',
      createdAt: null,
      payload: null,
      errors: ['body must be valid JSON'],
    });
  });

  it.each(['[1,2]', 'null', '42', '"text"'])(
    'rejects the JSON %s that is not an object',
    (body) => {
      expect(errors(parse(body))).toEqual(['body must be a JSON object']);
    },
  );

  it('accepts an unknown type with any object', () => {
    const parsed = valid(parse({ type: 'customer.created', createdAt: START, object: [1] }));
    expect(parsed).toMatchObject({ type: 'customer.created', object: [1] });
  });

  it('accepts a body without a type as type "unknown"', () => {
    expect(valid(parse({ hello: 'world' }))).toMatchObject({
      type: 'unknown',
      createdAt: null,
      object: null,
      payload: { hello: 'world' },
    });
  });

  it('accepts invoice.paid with or without an id (the guides promise none)', () => {
    expect(valid(parse(invoicePaidEvent({ id: 'inv_1' }))).object).toMatchObject({ id: 'inv_1' });
    expect(valid(parse(invoicePaidEvent({ id: undefined }))).object).toMatchObject({
      status: 'paid',
    });
    expect(valid(parse(invoicePaidEvent({ id: 42 }))).object).toMatchObject({ id: 42 });
  });

  it('accepts a missing createdAt with a warning (the arrival time is used); refuses an unreadable one', () => {
    const { createdAt: _dropped, ...withoutCreatedAt } = event(provisioning());
    const parsed = valid(parse(withoutCreatedAt));
    expect(parsed.createdAt).toBeNull();
    expect(parsed.warnings).toEqual([CREATED_AT_MISSING]);
    expect(valid(parse({ ...event(provisioning()), createdAt: null })).warnings).toEqual([
      CREATED_AT_MISSING,
    ]);
    expect(errors(parse({ ...event(provisioning()), createdAt: 'yesterday' }))).toEqual([
      'createdAt must be an ISO 8601 date or epoch number',
    ]);
  });

  it('accepts users with a null name or an empty, missing or invalid email', () => {
    const orgs = [
      {
        name: 'Acme',
        users: [{ name: null, email: '' }, { name: 'Bo' }, { name: 'Cy', email: 'not an address' }],
      },
    ];
    expect(valid(parse(event(provisioning({ provisioningOrgs: orgs })))).object).toMatchObject({
      provisioningOrgs: orgs,
    });
    const wrong = [{ name: 'Acme', users: [{ name: 42, email: ['x'] }] }];
    expect(errors(parse(event(provisioning({ provisioningOrgs: wrong }))))).toEqual([
      'object.provisioningOrgs.0.users.0.name must be a string',
      'object.provisioningOrgs.0.users.0.email must be a string',
    ]);
  });

  it('names a missing or null required field once', () => {
    const object: Record<string, unknown> = provisioning({ productId: null as never });
    delete object.customerId;
    expect(errors(parse(event(object))).sort()).toEqual([
      'object.customerId is required',
      'object.productId is required',
    ]);
  });

  it('refuses ids and types too long to index, naming them', () => {
    const long = 'x'.repeat(MAX_ID_LENGTH + 1);
    expect(errors(parse(event(provisioning({ customerId: long }))))).toEqual([
      `object.customerId must be shorter than or equal to ${MAX_ID_LENGTH} characters`,
    ]);
    const typed = parse({ type: 't'.repeat(4000), createdAt: START, object: {} });
    expect(errors(typed)).toEqual([`type must be at most ${MAX_TYPE_LENGTH} characters`]);
    expect(typed.type).toHaveLength(MAX_TYPE_LENGTH);
  });

  // An out-of-range epoch number makes an Invalid Date, which is still `instanceof Date`: the
  // parser must treat it as no date (date.transform.ts).
  it('does not accept an out-of-range epoch createdAt on a known type', () => {
    expect(parse({ ...event(provisioning()), createdAt: 1e20 }).valid).toBe(false);
  });

  it('gives createdAt null, not an Invalid Date, for an out-of-range epoch', () => {
    expect(parse({ type: 'customer.created', createdAt: 1e20, object: {} }).createdAt).toBeNull();
  });
});
