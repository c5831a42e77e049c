import {
  aqueductEvent,
  invoicePaidEvent,
  provisioningStartEvent,
  signAqueductRequest,
} from 'nestjs-aqueduct/testing';
import { createHmac, randomUUID } from 'node:crypto';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { storedEvents } from './support/app';
import { postRaw } from './support/hostile-webhook';
import { useTestApp } from './support/use-test-app';

const SECRET = `whsec_${Buffer.from('receive-e2e-secret-receive-e2e-secret').toString('base64')}`;
const PATH = '/webhooks/aqueduct';
const MAX_BODY = 64 * 1024;
const sign = (payload: unknown, id?: string) =>
  signAqueductRequest(payload, { scheme: 'standard-webhooks', secret: SECRET, id });

describe('Receiving webhooks: every row of the status-code table', () => {
  const host = useTestApp({
    aqueduct: {
      secrets: [SECRET],
      verification: { scheme: 'standard-webhooks' },
      maxBodyBytes: MAX_BODY,
    },
  });

  const post = (signed: { body: string; headers: Record<string, string> }) =>
    request(host.app.getHttpServer()).post(PATH).set(signed.headers).send(signed.body);
  const rowsFor = async (id: string) =>
    (await storedEvents(host.app)).filter((row) => row.id === id);
  // Aqueduct's events only: the module's own `access.*` and `alert.*` events follow on their own.
  const total = async () =>
    (await storedEvents(host.app)).filter((event) => !/^(access|alert)\./.test(event.type)).length;

  it('200 for a verified, valid, new event, stored with its unknown fields', async () => {
    const event = {
      ...provisioningStartEvent({ customerId: 'owner_new', futureField: { a: 1 } }),
      extra: true,
    };
    const res = await post(sign(event)).expect(200);
    expect(res.body).toEqual({ received: true, id: expect.any(String) });
    const [row] = await rowsFor(res.body.id);
    expect(row).toMatchObject({ type: 'provisioning.start', status: 'accepted', errors: null });
    expect(row.payload).toEqual(event);
    expect(row.dedup_key).toMatch(/^id:msg_/);
    expect(Object.keys(row.headers)).toEqual(
      expect.arrayContaining(['webhook-id', 'webhook-timestamp']),
    );
    expect(row.headers).not.toHaveProperty('webhook-signature');
  });

  it('the same delivery sent 5 times at once: one row, five 200s, four marked duplicate', async () => {
    const signed = sign(provisioningStartEvent({ customerId: 'owner_dup' }));
    const before = await total();
    const answers = await Promise.all(Array.from({ length: 5 }, () => post(signed)));
    expect(answers.map((res) => res.status)).toEqual([200, 200, 200, 200, 200]);
    const ids = new Set(answers.map((res) => res.body.id));
    expect(ids.size).toBe(1);
    expect(answers.filter((res) => res.body.duplicate === true)).toHaveLength(4);
    expect(await total()).toBe(before + 1);
  });

  it('a retry carrying the same delivery id is answered 200 as a duplicate of the first', async () => {
    const hmacLess = provisioningStartEvent({ customerId: 'owner_retry' });
    const first = await post(sign(hmacLess, 'msg_retry_1')).expect(200);
    const again = await post(sign(hmacLess, 'msg_retry_1')).expect(200);
    expect(again.body).toEqual({ received: true, id: first.body.id, duplicate: true });
  });

  it('200 for an unknown event type, stored whole', async () => {
    const event = aqueductEvent('customer.created', { id: 'cus_1', anything: [1, 2, 3] });
    const res = await post(sign(event)).expect(200);
    const [row] = await rowsFor(res.body.id);
    expect(row).toMatchObject({ type: 'customer.created', status: 'accepted', payload: event });
  });

  it('200 for a body without any type (e.g. the dashboard test event), stored as "unknown"', async () => {
    const res = await post(sign({ test: true, message: 'hello from Aqueduct' })).expect(200);
    const [row] = await rowsFor(res.body.id);
    expect(row.type).toBe('unknown');
  });

  it('200 for invoice.paid with a loose invoice object', async () => {
    const res = await post(sign(invoicePaidEvent({ lines: [{ amount: 1 }] }))).expect(200);
    expect((await rowsFor(res.body.id))[0].type).toBe('invoice.paid');
  });

  it('understands provisioning_start as provisioning.start, and both provisioningOrgs shapes', async () => {
    const single = provisioningStartEvent({
      provisioningOrgs: { name: 'Solo', users: [{ name: 'S', email: 's@x.test' }] },
    });
    const underscored = { ...provisioningStartEvent(), type: 'provisioning_start' };
    for (const event of [single, underscored]) {
      const res = await post(sign(event)).expect(200);
      expect((await rowsFor(res.body.id))[0].type).toBe('provisioning.start');
    }
  });

  it('verifies the exact bytes: whitespace, key order and non-ASCII text are not re-serialised', async () => {
    const event = provisioningStartEvent({
      provisioningOrgs: [{ name: 'Zoë & Søn 日本', users: [] }],
    });
    const body = JSON.stringify(event, null, 3).replace('{', '{   ');
    const res = await post(sign(body)).expect(200);
    expect((await rowsFor(res.body.id))[0].payload).toEqual(event);
  });

  it('401 with a generic message for a missing or wrong signature, and nothing stored', async () => {
    const before = await total();
    const event = provisioningStartEvent();
    const unsigned = await request(host.app.getHttpServer())
      .post(PATH)
      .set('content-type', 'application/json')
      .send(JSON.stringify(event));
    expect(unsigned.status).toBe(401);
    expect(unsigned.body).toEqual({
      statusCode: 401,
      error: 'Unauthorized',
      message: expect.any(String),
    });
    const forged = signAqueductRequest(event, {
      scheme: 'standard-webhooks',
      secret: `whsec_${Buffer.from('not-the-secret').toString('base64')}`,
    });
    await post(forged).expect(401);
    const tampered = sign(event);
    await post({ ...tampered, body: tampered.body.replace('prod_pro', 'prod_max') }).expect(401);
    expect(await total()).toBe(before);
  });

  it('200 quarantined for an invalid known event: errors named, stored byte for byte, no listener', async () => {
    const event = provisioningStartEvent({ customerId: '' as string, startDate: 'not a date' });
    const signed = sign(event);
    const res = await post(signed).expect(200);
    expect(res.body).toEqual({
      received: true,
      id: expect.any(String),
      quarantined: true,
      errors: expect.arrayContaining([
        expect.stringContaining('object.customerId'),
        expect.stringContaining('object.startDate'),
      ]),
    });
    const [row] = await rowsFor(res.body.id);
    expect(row).toMatchObject({ status: 'quarantined', type: 'provisioning.start' });
    expect(row.errors).toEqual(res.body.errors);
    expect(row.raw_body?.toString()).toBe(signed.body);
    const deliveries = await host.app
      .get(DataSource)
      .query(`SELECT * FROM aqueduct_deliveries WHERE event_id = $1`, [res.body.id]);
    expect(deliveries).toEqual([]);
    // Aqueduct's retry carries the same bytes: the same answer, no second row.
    const again = await post(signed).expect(200);
    expect(again.body).toEqual({ ...res.body, duplicate: true });
  });

  it('200 quarantined for a body that is not JSON, kept as raw bytes', async () => {
    const res = await post(sign('{"type": "provisioning.start", oops')).expect(200);
    expect(res.body.errors).toEqual(['body must be valid JSON']);
    const [row] = await rowsFor(res.body.id);
    expect(row.status).toBe('quarantined');
    expect(row.raw_body?.toString()).toBe('{"type": "provisioning.start", oops');
  });

  it('a body Postgres cannot store as JSON (\\u0000) is kept as raw bytes and quarantined, never lost', async () => {
    const before = await total();
    // \u0000 cannot be stored in jsonb: the event is kept as raw bytes and quarantined, never lost.
    const res = await post(
      sign('{"type":"note","createdAt":"2026-01-01T00:00:00Z","object":{"text":"a\\u0000b"}}'),
    ).expect(200);
    expect(res.body.quarantined).toBe(true);
    expect(res.body.errors[0]).toContain('could not be stored as JSON');
    expect(await total()).toBe(before + 1);
  });

  it('a quarantined event that validates on a retry (after an upgrade) is accepted under the same id', async () => {
    const event = provisioningStartEvent({ customerId: 'owner_promoted' });
    const id = 'msg_promoted';
    const [{ id: quarantinedId }] = await host.app
      .get(DataSource)
      .query(
        `INSERT INTO aqueduct_events (dedup_key, type, status, errors) VALUES ($1, 'provisioning.start', 'quarantined', '["old rule"]') RETURNING id`,
        [`id:${id}`],
      );
    const res = await post(sign(event, id)).expect(200);
    expect(res.body).toEqual({ received: true, id: quarantinedId });
    expect((await rowsFor(quarantinedId))[0]).toMatchObject({
      status: 'accepted',
      errors: null,
      payload: event,
    });
  });

  it('any content type is read: a signed event sent as form data or text is stored (200), not refused', async () => {
    // Aqueduct's content type is not documented, and a 415 it retried would disable the endpoint.
    for (const contentType of ['application/x-www-form-urlencoded', 'text/plain', '']) {
      const event = provisioningStartEvent({ customerId: `owner_type_${contentType.length}` });
      const signed = sign(event);
      const res = await post({
        ...signed,
        headers: { ...signed.headers, 'content-type': contentType },
      }).expect(200);
      const [row] = await rowsFor(res.body.id);
      expect({ contentType, status: row.status, payload: row.payload }).toEqual({
        contentType,
        status: 'accepted',
        payload: event,
      });
    }
    // Unsigned, it gets what any unsigned request gets.
    await post({
      body: 'a=1',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    }).expect(401);
  });

  it('a gzip, deflate or br body is decoded, verified and stored decoded; another coding gets 415', async () => {
    const encoders: Record<string, (body: string) => Buffer> = {
      gzip: (body) => gzipSync(body),
      deflate: (body) => deflateSync(body),
      br: (body) => brotliCompressSync(body),
    };
    for (const [encoding, encode] of Object.entries(encoders)) {
      const event = provisioningStartEvent({ customerId: `owner_${encoding}` });
      const signed = sign(event);
      const res = await postRaw(host.app.getHttpServer(), PATH, {
        headers: { ...signed.headers, 'content-encoding': encoding },
        body: encode(signed.body),
      });
      expect({ encoding, status: res.status, message: res.body.message }).toEqual({
        encoding,
        status: 200,
        message: undefined,
      });
      const [row] = await rowsFor(res.body.id);
      expect({ encoding, status: row.status, raw: row.raw_body?.toString() ?? null }).toEqual({
        encoding,
        status: 'accepted',
        raw: null, // kept as JSON, as an uncompressed delivery is
      });
      expect(row.payload).toEqual(event);
    }
    const before = await total();
    const signed = sign(provisioningStartEvent());
    const refused = await post({
      ...signed,
      headers: { ...signed.headers, 'content-encoding': 'compress' },
    }).expect(415);
    expect(refused.body).toMatchObject({
      statusCode: 415,
      message: expect.stringContaining('content-encoding "compress" is not supported'),
    });
    // Bytes that are not what their coding says: the sender's fault, 400 naming it.
    const garbled = await post({
      ...signed,
      headers: { ...signed.headers, 'content-encoding': 'gzip' },
    }).expect(400);
    expect(garbled.body.message).toBe('request body could not be decoded as gzip');
    expect(await total()).toBe(before);
  });

  it('413 for a small compressed body that decodes past maxBodyBytes, nothing stored', async () => {
    const before = await total();
    const bomb = provisioningStartEvent({ metadata: { blob: 'z'.repeat(MAX_BODY * 20) } });
    const signed = sign(bomb);
    const compressed = gzipSync(signed.body);
    expect(compressed.length).toBeLessThan(MAX_BODY / 10);
    const res = await postRaw(host.app.getHttpServer(), PATH, {
      headers: { ...signed.headers, 'content-encoding': 'gzip' },
      body: compressed,
    });
    expect(res.status).toBe(413);
    expect(res.body).toMatchObject({ statusCode: 413, error: 'Payload Too Large' });
    expect(await total()).toBe(before);
  });

  it('413 for a body over maxBodyBytes, nothing stored', async () => {
    const before = await total();
    const huge = provisioningStartEvent({ metadata: { blob: 'x'.repeat(MAX_BODY) } });
    const res = await post(sign(huge)).expect(413);
    expect(res.body).toMatchObject({ statusCode: 413, error: 'Payload Too Large' });
    expect(await total()).toBe(before);
  });

  it('accepts a body just under the limit, larger than the host JSON parser default of 100 kB would allow', async () => {
    const event = provisioningStartEvent({ metadata: { blob: 'y'.repeat(MAX_BODY - 2000) } });
    await post(sign(event)).expect(200);
  });

  /** Bytes signed as Standard Webhooks signs them (the package signs strings only). */
  const postBytes = (bytes: Buffer, contentType: string) => {
    const id = `msg_${randomUUID().replace(/-/g, '')}`;
    const seconds = String(Math.floor(Date.now() / 1000));
    const key = Buffer.from(SECRET.slice('whsec_'.length), 'base64');
    const mac = createHmac('sha256', key)
      .update(Buffer.concat([Buffer.from(`${id}.${seconds}.`), bytes]))
      .digest('base64');
    return (
      request(host.app.getHttpServer())
        .post(PATH)
        .set({
          'content-type': contentType,
          'webhook-id': id,
          'webhook-timestamp': seconds,
          'webhook-signature': `v1,${mac}`,
        })
        // As they are: superagent would serialize a Buffer sent as JSON.
        .serialize((body: Buffer) => body as unknown as string)
        .send(bytes)
    );
  };
  const named = (name: string) =>
    JSON.stringify({ type: 'customer.created', createdAt: 1, object: { name } });

  it('a body not in UTF-8 is read in the charset it declares, and its bytes are kept', async () => {
    const bytes = Buffer.from(named('Zoë Müller'), 'latin1');
    const res = await postBytes(bytes, 'application/json; charset=iso-8859-1').expect(200);
    const [row] = await rowsFor(res.body.id);
    expect(row.payload.object.name).toBe('Zoë Müller');
    expect(Buffer.from(row.raw_body!).equals(bytes)).toBe(true);
    expect(row.warnings).toEqual([
      'body is not UTF-8: read as windows-1252; the bytes received are kept',
    ]);
  });

  it('a body that begins with a byte order mark is accepted, its bytes kept', async () => {
    const bytes = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(named('Zoë'))]);
    const res = await postBytes(bytes, 'application/json').expect(200);
    const [row] = await rowsFor(res.body.id);
    expect(row).toMatchObject({ status: 'accepted', payload: { object: { name: 'Zoë' } } });
    expect(Buffer.from(row.raw_body!).equals(bytes)).toBe(true);
    expect(row.warnings).toEqual([
      'body began with a byte order mark, ignored; the bytes received are kept',
    ]);
  });

  it('a body not in UTF-8 that declares no charset is accepted as UTF-8, with its bytes kept', async () => {
    const bytes = Buffer.from(named('Zoë'), 'latin1');
    const res = await postBytes(bytes, 'application/json').expect(200);
    const [row] = await rowsFor(res.body.id);
    expect(row).toMatchObject({ status: 'accepted', payload: { object: { name: 'Zo\ufffd' } } });
    expect(Buffer.from(row.raw_body!).equals(bytes)).toBe(true);
    expect(row.warnings).toEqual([
      'body is not UTF-8: read as UTF-8, with U+FFFD for the bytes that are not; the bytes received are kept',
    ]);
  });
});

describe("invalidEvents: 'reject' (today's 400, for hosts that want it)", () => {
  const host = useTestApp({
    aqueduct: {
      secrets: [SECRET],
      verification: { scheme: 'standard-webhooks' },
      invalidEvents: 'reject',
    },
  });

  it('400 naming the fields, the event still kept as quarantined (reprocessable)', async () => {
    const signed = sign(provisioningStartEvent({ customerId: '' as string }));
    const res = await request(host.app.getHttpServer())
      .post(PATH)
      .set(signed.headers)
      .send(signed.body)
      .expect(400);
    expect(res.body).toMatchObject({
      statusCode: 400,
      error: 'Bad Request',
      id: expect.any(String),
    });
    expect(res.body.message).toEqual([expect.stringContaining('object.customerId')]);
    const [row] = (await storedEvents(host.app)).filter((event) => event.id === res.body.id);
    expect(row.status).toBe('quarantined');
  });
});
