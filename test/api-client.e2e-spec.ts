import { Test } from '@nestjs/testing';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { inspect } from 'node:util';
// Imported from the source until index.ts exports the client; then these become 'nestjs-aqueduct'.
import { AqueductApiClient } from '../libs/aqueduct/src/api/aqueduct-api.client';
import { AqueductApiError } from '../libs/aqueduct/src/api/aqueduct-api.error';
import type { AqueductApiClientOptions } from '../libs/aqueduct/src/api/aqueduct-api.interfaces';
import { parseRetryAfter } from '../libs/aqueduct/src/api/retry-after';
import { ProvisioningDto } from '../libs/aqueduct/src/events/provisioning.dto';

const API_KEY = 'aq_test_9f8e7d6c5b4a3210';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

interface Recorded {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

/** Answers one request; returning without writing leaves it hanging (a stalled Aqueduct). */
type Responder = (request: Recorded, response: ServerResponse) => void;

const json =
  (status: number, body: unknown, headers: Record<string, string> = {}): Responder =>
  (_request, response) => {
    response.writeHead(status, { 'Content-Type': 'application/json', ...headers });
    response.end(JSON.stringify(body));
  };
const hang: Responder = () => undefined;

const endpoint = (overrides: Record<string, unknown> = {}) => ({
  id: 'web_01J9Z',
  url: 'https://example.com/webhooks/aqueduct',
  enabledEvents: ['provisioning_start', 'provisioning_end'],
  createdAt: '2025-01-02T03:04:05Z',
  ...overrides,
});

/**
 * Plays Aqueduct's API on 127.0.0.1: each request takes the next queued responder (the last one
 * repeats), and every request is recorded as it arrived.
 */
class FakeAqueduct {
  readonly requests: Recorded[] = [];
  private responders: Responder[] = [];
  private readonly server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const recorded: Recorded = {
        method: request.method ?? '',
        url: request.url ?? '',
        headers: request.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      this.requests.push(recorded);
      const responder =
        this.responders.length > 1 ? this.responders.shift()! : (this.responders[0] ?? hang);
      responder(recorded, response);
    });
  });
  url = '';

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  answer(...responders: Responder[]): void {
    this.requests.length = 0;
    this.responders = responders;
  }

  async stop(): Promise<void> {
    // Hanging requests keep their sockets open; close would wait on them forever.
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** The rejection of `promise`, which must be an AqueductApiError. */
async function apiError(promise: Promise<unknown>): Promise<AqueductApiError> {
  const error = await promise.then(
    () => {
      throw new Error('expected the call to fail');
    },
    (caught: unknown) => caught,
  );
  expect(error).toBeInstanceOf(AqueductApiError);
  return error as AqueductApiError;
}

describe('AqueductApiClient against a local fake of Aqueduct', () => {
  const aqueduct = new FakeAqueduct();
  const client = (options: Partial<AqueductApiClientOptions> = {}) =>
    new AqueductApiClient({
      apiKey: API_KEY,
      baseUrl: aqueduct.url,
      retryBaseDelayMs: 1,
      ...options,
    });
  const input = {
    url: 'https://example.com/webhooks/aqueduct',
    enabledEvents: ['provisioning.start', 'provisioning_end', 'invoice.paid', 'provisioning_start'],
    secret: 'whsec_c2VjcmV0',
    description: 'production',
  };

  beforeAll(() => aqueduct.start());
  afterAll(() => aqueduct.stop());

  describe('createWebhookEndpoint', () => {
    it('POSTs the endpoint with the key, JSON, an Idempotency-Key and underscore event names', async () => {
      aqueduct.answer(
        json(
          201,
          endpoint({
            enabledEvents: ['provisioning_start', 'provisioning_end', 'invoice_paid'],
            secret: input.secret,
            description: 'production',
          }),
        ),
      );

      const created = await client().createWebhookEndpoint(input);

      expect(aqueduct.requests).toHaveLength(1);
      const [request] = aqueduct.requests;
      expect(request.method).toBe('POST');
      expect(request.url).toBe('/v1/webhookendpoints');
      expect(request.headers.authorization).toBe(`Api-Key ${API_KEY}`);
      expect(request.headers['content-type']).toBe('application/json');
      expect(request.headers.accept).toBe('application/json');
      expect(request.headers['idempotency-key']).toMatch(UUID);
      expect(JSON.parse(request.body)).toEqual({
        url: input.url,
        enabledEvents: ['provisioning_start', 'provisioning_end', 'invoice_paid'],
        secret: input.secret,
        description: 'production',
      });
      expect(created).toEqual({
        id: 'web_01J9Z',
        url: input.url,
        enabledEvents: ['provisioning.start', 'provisioning.end', 'invoice.paid'],
        createdAt: '2025-01-02T03:04:05Z',
        description: 'production',
        secret: input.secret,
      });
    });

    it('omits description when not given and keeps fields Aqueduct adds', async () => {
      aqueduct.answer(json(201, endpoint({ livemode: false })));

      const created = await client().createWebhookEndpoint({ ...input, description: undefined });

      expect(JSON.parse(aqueduct.requests[0].body)).not.toHaveProperty('description');
      expect(created.livemode).toBe(false);
    });

    it('sends the given idempotency key, and a fresh one per call otherwise', async () => {
      aqueduct.answer(json(201, endpoint()));
      const api = client();

      await api.createWebhookEndpoint(input, { idempotencyKey: 'setup-2025-01-02' });
      await api.createWebhookEndpoint(input);
      await api.createWebhookEndpoint(input);

      const keys = aqueduct.requests.map((request) => request.headers['idempotency-key']);
      expect(keys[0]).toBe('setup-2025-01-02');
      expect(keys[1]).toMatch(UUID);
      expect(keys[2]).toMatch(UUID);
      expect(keys[1]).not.toBe(keys[2]);
    });

    it('retries a 500 once with the same Idempotency-Key, so the endpoint is created once', async () => {
      aqueduct.answer(json(500, { message: 'internal error' }), json(201, endpoint()));

      const created = await client().createWebhookEndpoint(input);

      expect(created.id).toBe('web_01J9Z');
      expect(aqueduct.requests).toHaveLength(2);
      const [first, second] = aqueduct.requests;
      expect(first.headers['idempotency-key']).toMatch(UUID);
      expect(second.headers['idempotency-key']).toBe(first.headers['idempotency-key']);
      expect(second.body).toBe(first.body);
    });

    it('retries a 429 that says Retry-After: 0', async () => {
      aqueduct.answer(
        json(429, { message: 'slow down' }, { 'Retry-After': '0' }),
        json(201, endpoint()),
      );

      await expect(client().createWebhookEndpoint(input)).resolves.toMatchObject({
        id: 'web_01J9Z',
      });
      expect(aqueduct.requests).toHaveLength(2);
    });

    it('waits as long as Retry-After says rather than the (tiny) backoff', async () => {
      aqueduct.answer(json(503, {}, { 'Retry-After': '1' }), json(201, endpoint()));
      const started = Date.now();

      await client().createWebhookEndpoint(input);

      expect(Date.now() - started).toBeGreaterThanOrEqual(950);
      expect(aqueduct.requests).toHaveLength(2);
    });

    it('fails at once when Retry-After asks for more than a minute', async () => {
      aqueduct.answer(json(429, { message: 'quota exceeded' }, { 'Retry-After': '3600' }));

      const error = await apiError(client().createWebhookEndpoint(input));

      expect(error.status).toBe(429);
      expect(aqueduct.requests).toHaveLength(1);
    });

    it('does not retry a 400 and surfaces Aqueduct message as an AqueductApiError', async () => {
      aqueduct.answer(json(400, { message: 'url is invalid' }), json(201, endpoint()));

      const error = await apiError(client().createWebhookEndpoint(input));

      expect(aqueduct.requests).toHaveLength(1);
      expect(error.status).toBe(400);
      expect(error.message).toContain('url is invalid');
      expect(error.message).toBe(
        'Aqueduct API POST /v1/webhookendpoints answered 400: url is invalid',
      );
      expect(error.method).toBe('POST');
      expect(error.path).toBe('/v1/webhookendpoints');
      expect(error.attempts).toBe(1);
      expect(error.body).toEqual({ message: 'url is invalid' });
    });

    it.each([
      [
        '{ error, detail }',
        { error: 'invalid_request', message: 'secret is too short' },
        'invalid_request',
        'secret is too short',
      ],
      [
        '{ code, message }',
        { code: 'duplicate_url', message: 'already registered' },
        'duplicate_url',
        'already registered',
      ],
      [
        '{ error: { code, message } }',
        { error: { code: 'bad', message: 'nested' } },
        'bad',
        'nested',
      ],
      [
        '{ detail } (DRF)',
        { detail: 'Authentication credentials were not provided.' },
        undefined,
        'Authentication credentials were not provided.',
      ],
      ['{ error } alone', { error: 'Not allowed' }, undefined, 'Not allowed'],
      [
        'DRF field errors',
        { url: ['Enter a valid URL.'], secret: ['Too short.'] },
        undefined,
        'url: Enter a valid URL.; secret: Too short.',
      ],
    ])('reads code and message from %s', async (_shape, body, code, message) => {
      aqueduct.answer(json(422, body));

      const error = await apiError(client().createWebhookEndpoint(input));

      expect(error.code).toBe(code);
      expect(error.message).toBe(`Aqueduct API POST /v1/webhookendpoints answered 422: ${message}`);
    });

    it('does not retry other 4xx (404, 409) either', async () => {
      for (const status of [404, 409]) {
        aqueduct.answer(json(status, { message: 'no' }));
        const error = await apiError(client().createWebhookEndpoint(input));
        expect(error.status).toBe(status);
        expect(aqueduct.requests).toHaveLength(1);
      }
    });

    it('gives up after maxRetries with the last status and the attempt count', async () => {
      aqueduct.answer(json(503, { message: 'maintenance' }));

      const error = await apiError(client({ maxRetries: 2 }).createWebhookEndpoint(input));

      expect(aqueduct.requests).toHaveLength(3);
      expect(new Set(aqueduct.requests.map((r) => r.headers['idempotency-key'])).size).toBe(1);
      expect(error.status).toBe(503);
      expect(error.attempts).toBe(3);
      expect(error.message).toContain('maintenance');
    });

    it('uses the status text when the error body is not JSON', async () => {
      aqueduct.answer((_request, response) => {
        response.writeHead(502, 'Bad Gateway', { 'Content-Type': 'text/html' });
        response.end('<html>upstream down</html>');
      });

      const error = await apiError(client({ maxRetries: 0 }).createWebhookEndpoint(input));

      expect(error.status).toBe(502);
      expect(error.message).toBe(
        'Aqueduct API POST /v1/webhookendpoints answered 502: Bad Gateway',
      );
      expect(error.body).toBeUndefined();
    });

    it('abandons an attempt that gets no answer, retries it, then fails with no status', async () => {
      aqueduct.answer(hang);

      const error = await apiError(
        client({ timeoutMs: 100, maxRetries: 1 }).createWebhookEndpoint(input),
      );

      expect(aqueduct.requests).toHaveLength(2);
      expect(aqueduct.requests[1].headers['idempotency-key']).toBe(
        aqueduct.requests[0].headers['idempotency-key'],
      );
      expect(error.status).toBeUndefined();
      expect(error.attempts).toBe(2);
      expect(error.message).toBe(
        'Aqueduct API POST /v1/webhookendpoints failed: no answer within 100 ms (after 2 attempts)',
      );
    });

    it('recovers when a timed-out attempt is followed by an answer', async () => {
      aqueduct.answer(hang, json(201, endpoint()));

      const created = await client({ timeoutMs: 100 }).createWebhookEndpoint(input);

      expect(created.id).toBe('web_01J9Z');
      expect(aqueduct.requests).toHaveLength(2);
    });

    it('retries a refused connection and reports it with no status', async () => {
      const closed = new FakeAqueduct();
      await closed.start();
      await closed.stop();

      const error = await apiError(
        client({ baseUrl: closed.url, maxRetries: 2 }).createWebhookEndpoint(input),
      );

      expect(error.status).toBeUndefined();
      expect(error.attempts).toBe(3);
      expect(error.message).toContain('ECONNREFUSED');
    });

    it('rejects bad input before any request', async () => {
      aqueduct.answer(json(201, endpoint()));
      const api = client();
      const bad: [Record<string, unknown>, RegExp][] = [
        [{ url: 'ftp://example.com/hook' }, /"url" must be an absolute http/],
        [{ url: 'not a url' }, /"url"/],
        [{ enabledEvents: [] }, /"enabledEvents"/],
        [{ enabledEvents: ['provisioning.start', ''] }, /"enabledEvents"/],
        [{ secret: '' }, /"secret"/],
        [{ description: 42 }, /"description"/],
      ];
      for (const [override, message] of bad) {
        await expect(api.createWebhookEndpoint({ ...input, ...override } as any)).rejects.toThrow(
          message,
        );
      }
      await expect(
        api.createWebhookEndpoint(input, { idempotencyKey: 'has space' }),
      ).rejects.toThrow(/"idempotencyKey"/);
      expect(aqueduct.requests).toHaveLength(0);
    });

    it('calls under a baseUrl path prefix, trailing slash or not', async () => {
      aqueduct.answer(json(201, endpoint()));

      await client({ baseUrl: `${aqueduct.url}/api/` }).createWebhookEndpoint(input);

      expect(aqueduct.requests[0].url).toBe('/api/v1/webhookendpoints');
    });
  });

  describe('listWebhookEndpoints', () => {
    const endpoints = [endpoint(), endpoint({ id: 'web_2', enabledEvents: ['invoice_paid'] })];

    it.each([
      ['a bare array', endpoints],
      ['{ data }', { data: endpoints }],
      [
        '{ results } (DRF pagination)',
        { count: 2, next: null, previous: null, results: endpoints },
      ],
      ['{ items }', { items: endpoints }],
    ])('GETs the list as %s, events dotted', async (_shape, body) => {
      aqueduct.answer(json(200, body));

      const list = await client().listWebhookEndpoints();

      const [request] = aqueduct.requests;
      expect(request.method).toBe('GET');
      expect(request.url).toBe('/v1/webhookendpoints');
      expect(request.headers.authorization).toBe(`Api-Key ${API_KEY}`);
      expect(request.headers['idempotency-key']).toBeUndefined();
      expect(list.map((item) => [item.id, item.enabledEvents])).toEqual([
        ['web_01J9Z', ['provisioning.start', 'provisioning.end']],
        ['web_2', ['invoice.paid']],
      ]);
    });

    it('reports a list it cannot read as an unexpected answer, without retrying', async () => {
      aqueduct.answer(json(200, { endpoints: [] }));

      const error = await apiError(client().listWebhookEndpoints());

      expect(error.status).toBe(200);
      expect(error.code).toBe('unexpected_response');
      expect(error.message).toContain('keys endpoints');
      expect(aqueduct.requests).toHaveLength(1);
    });

    it('retries a GET on 5xx too', async () => {
      aqueduct.answer(json(502, {}), json(200, []));

      await expect(client().listWebhookEndpoints()).resolves.toEqual([]);
      expect(aqueduct.requests).toHaveLength(2);
    });
  });

  describe('getProvisioning', () => {
    it('GETs /v1/provisioning/{id} (singular, as the API reference names it) and returns a ProvisioningDto with dates', async () => {
      aqueduct.answer(
        json(200, {
          id: 'prov_1',
          productId: 'prod_1',
          customerId: 'owner_1',
          startDate: '2025-01-01T00:00:00Z',
          endDate: '2026-01-01T00:00:00Z',
          provisioningOrgs: { name: 'Acme', users: [{ name: 'Ada', email: 'ada@acme.test' }] },
        }),
      );

      const provisioning = await client().getProvisioning('prov_1');

      expect(aqueduct.requests[0].method).toBe('GET');
      expect(aqueduct.requests[0].url).toBe('/v1/provisioning/prov_1');
      expect(provisioning).toBeInstanceOf(ProvisioningDto);
      expect(provisioning.endDate).toEqual(new Date('2026-01-01T00:00:00Z'));
      expect(provisioning.provisioningOrgs[0].users[0].email).toBe('ada@acme.test');
    });

    it('encodes the id into the path', async () => {
      aqueduct.answer(json(404, { detail: 'Not found.' }));

      const error = await apiError(client().getProvisioning('a/b?c'));

      expect(aqueduct.requests[0].url).toBe('/v1/provisioning/a%2Fb%3Fc');
      expect(error.status).toBe(404);
      expect(error.message).toContain('Not found.');
    });

    it('reports an object that is not a Provisioning as an unexpected answer', async () => {
      aqueduct.answer(json(200, { productId: 'prod_1' }));

      const error = await apiError(client().getProvisioning('prov_1'));

      expect(error.code).toBe('unexpected_response');
      expect(error.message).toContain('provisioning.customerId');
    });

    it('rejects an empty id', async () => {
      await expect(client().getProvisioning(' ')).rejects.toThrow(/"id"/);
    });
  });

  describe('the API key never leaks', () => {
    const leaks = (value: unknown) => {
      const texts =
        value instanceof Error
          ? [value.message, value.stack ?? '', JSON.stringify(value), inspect(value, { depth: 5 })]
          : [JSON.stringify(value) ?? '', inspect(value, { depth: 5 })];
      return texts.some((text) => text.includes(API_KEY));
    };

    it('is redacted from an error body that echoes the Authorization header', async () => {
      aqueduct.answer((request, response) => {
        response.writeHead(401, { 'Content-Type': 'application/json' });
        response.end(
          JSON.stringify({
            detail: `Invalid key: ${request.headers.authorization}`,
            received: { authorization: request.headers.authorization },
          }),
        );
      });

      const error = await apiError(client().listWebhookEndpoints());

      expect(error.status).toBe(401);
      expect(error.message).toBe(
        'Aqueduct API GET /v1/webhookendpoints answered 401: Invalid key: Api-Key [redacted]',
      );
      expect(leaks(error)).toBe(false);
    });

    it('is absent from timeout and network errors', async () => {
      aqueduct.answer(hang);
      const timedOut = await apiError(
        client({ timeoutMs: 50, maxRetries: 0 }).listWebhookEndpoints(),
      );
      const refused = await apiError(
        client({ baseUrl: 'http://127.0.0.1:1', maxRetries: 0 }).listWebhookEndpoints(),
      );

      expect(leaks(timedOut)).toBe(false);
      expect(leaks(refused)).toBe(false);
    });

    it('is absent from the client itself and from option errors', () => {
      expect(leaks(client())).toBe(false);
      const malformed = `${API_KEY}\n`.replace('_9f', ' 9f');
      expect(() => new AqueductApiClient({ apiKey: malformed })).toThrow(/"apiKey"/);
      try {
        new AqueductApiClient({ apiKey: malformed });
      } catch (error) {
        expect(String((error as Error).message)).not.toContain('9f8e7d6c5b4a3210');
      }
    });
  });

  describe('options', () => {
    it('requires apiKey, naming it', () => {
      expect(() => new AqueductApiClient({} as AqueductApiClientOptions)).toThrow(/"apiKey"/);
      expect(() => new AqueductApiClient({ apiKey: '  ' })).toThrow(/"apiKey" is required/);
      expect(() => new AqueductApiClient(undefined as any)).toThrow(/"options"/);
    });

    it('checks baseUrl and the numbers', () => {
      expect(
        () => new AqueductApiClient({ apiKey: API_KEY, baseUrl: 'api.tryaqueduct.com' }),
      ).toThrow(/"baseUrl"/);
      expect(() => new AqueductApiClient({ apiKey: API_KEY, timeoutMs: 0 })).toThrow(/"timeoutMs"/);
      expect(() => new AqueductApiClient({ apiKey: API_KEY, maxRetries: -1 })).toThrow(
        /"maxRetries"/,
      );
      expect(() => new AqueductApiClient({ apiKey: API_KEY, retryBaseDelayMs: 1.5 })).toThrow(
        /"retryBaseDelayMs"/,
      );
    });

    it('calls an injected fetch, against https://api.tryaqueduct.com by default', async () => {
      const calls: string[] = [];
      const fakeFetch: typeof fetch = async (input) => {
        calls.push(String(input));
        return new Response(JSON.stringify([]), { status: 200 });
      };

      await new AqueductApiClient({ apiKey: API_KEY, fetch: fakeFetch }).listWebhookEndpoints();

      expect(calls).toEqual(['https://api.tryaqueduct.com/v1/webhookendpoints']);
    });
  });

  describe('as a Nest provider', () => {
    it('is built by a factory provider and injectable by its class', async () => {
      const moduleRef = await Test.createTestingModule({
        providers: [
          {
            provide: AqueductApiClient,
            useFactory: () =>
              new AqueductApiClient({
                apiKey: API_KEY,
                baseUrl: aqueduct.url,
                retryBaseDelayMs: 1,
              }),
          },
        ],
      }).compile();
      aqueduct.answer(json(200, { data: [endpoint()] }));

      const list = await moduleRef.get(AqueductApiClient).listWebhookEndpoints();

      expect(list).toHaveLength(1);
      await moduleRef.close();
    });
  });

  describe('parseRetryAfter', () => {
    const now = Date.parse('2025-01-02T03:04:05Z');

    it.each([
      ['0', 0],
      ['7', 7000],
      [' 2 ', 2000],
      ['Thu, 02 Jan 2025 03:04:15 GMT', 10_000],
      ['Thu, 02 Jan 2025 03:00:00 GMT', 0],
      ['soon', undefined],
      ['-1', undefined],
      ['', undefined],
      [null, undefined],
    ])('%p → %p ms', (header, expected) => {
      expect(parseRetryAfter(header, now)).toBe(expected);
    });
  });
});
