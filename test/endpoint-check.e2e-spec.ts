import { Injectable, Module } from '@nestjs/common';
import {
  AqueductAlerts,
  AqueductApiClient,
  type AqueductEvent,
  EndpointCheck,
  OnAqueductEvent,
} from 'nestjs-aqueduct';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DataSource } from 'typeorm';
import { createTestApp } from './support/app';
import { runCli } from './support/cli';
import { createTestDatabase } from './support/database';
import { useTestApp } from './support/use-test-app';
import { waitFor } from './support/wait';

const API_KEY = 'aq_test_endpoint_check_5e4d3c2b1a';
const PUBLIC_URL = 'https://app.example.com/api/webhooks/aqueduct';
const EVENTS = ['provisioning_start', 'provisioning_end', 'invoice_paid'];

/** A host listener on one of Aqueduct's types (the ledger's own listener wants the others). */
@Injectable()
class Billing {
  @OnAqueductEvent('invoice.paid')
  paid(_event: AqueductEvent) {}
}

@Module({ providers: [Billing] })
class BillingModule {}

/**
 * Plays Aqueduct's webhook endpoint API on 127.0.0.1, with state: GET lists `endpoints`, POST adds
 * one. While `down`, every connection is dropped (as an unreachable API looks to a client).
 */
class FakeAqueduct {
  endpoints: { id: string; url: string; enabledEvents: string[]; createdAt: string }[] = [];
  down = false;
  readonly requests: { method: string; url: string; authorization?: string }[] = [];
  url = '';
  private readonly server: Server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk) => (body += chunk));
    request.on('end', () => {
      this.requests.push({
        method: request.method ?? '',
        url: request.url ?? '',
        authorization: request.headers.authorization,
      });
      if (this.down) {
        request.socket.destroy();
        return;
      }
      response.setHeader('Content-Type', 'application/json');
      if (request.url !== '/v1/webhookendpoints') {
        response.writeHead(404).end('{"detail":"Not found."}');
      } else if (request.method === 'POST') {
        const { url, enabledEvents } = JSON.parse(body);
        const created = { id: `web_${this.endpoints.length + 1}`, url, enabledEvents };
        this.endpoints.push({ ...created, createdAt: new Date().toISOString() });
        response.writeHead(201).end(JSON.stringify({ ...created, secret: 'whsec_x' }));
      } else {
        response.writeHead(200).end(JSON.stringify({ data: this.endpoints }));
      }
    });
  });

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  register(url: string, enabledEvents: string[]): void {
    const id = `web_${this.endpoints.length + 1}`;
    this.endpoints.push({ id, url, enabledEvents, createdAt: '2026-11-22T10:00:00Z' });
  }

  gets(): number {
    return this.requests.filter((r) => r.method === 'GET').length;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('Endpoint check: Aqueduct must point at this app, with the events it listens to', () => {
  const aqueduct = new FakeAqueduct();

  const alerts = (): Promise<{ kind: string; status: string; reason: string; details: any }[]> =>
    host.app.get(DataSource).query(`SELECT kind, status, reason, details FROM aqueduct_alerts`);
  const raisedEvents = (): Promise<{ payload: any }[]> =>
    host.app
      .get(DataSource)
      .query(
        `SELECT payload FROM aqueduct_events WHERE type = 'alert.raised' ORDER BY received_at`,
      );

  beforeAll(() => {
    // (a) registered as the README says; the host's case and a trailing slash do not matter.
    aqueduct.register('HTTPS://App.Example.com/api/webhooks/aqueduct/', EVENTS);
  });
  // A function: the fake Aqueduct has its URL only once started.
  const host = useTestApp(
    () => ({
      aqueduct: {
        secrets: ['endpoint-check-secret'],
        apiKey: API_KEY,
        apiBaseUrl: aqueduct.url,
        publicUrl: PUBLIC_URL,
      },
      imports: [BillingModule],
    }),
    { servers: [aqueduct] },
  );

  it('(a) checks at start-up in the background; an endpoint at publicUrl with every event: ok, no alert', async () => {
    await waitFor(() => host.app.get(EndpointCheck).lastResult(), 10_000, 'the start-up check');
    expect(aqueduct.requests[0]).toEqual({
      method: 'GET',
      url: '/v1/webhookendpoints',
      authorization: `Api-Key ${API_KEY}`,
    });

    const result = await host.app.get(EndpointCheck).check();

    expect(result).toEqual({ ok: true, problems: [], endpoints: 1, checkedAt: expect.any(Date) });
    expect(await alerts()).toEqual([]);
    expect(host.app.get(AqueductAlerts).isOpen('endpoint')).toBe(false);
  });

  it('(b) no endpoint at publicUrl: reported, the endpoint alert opens once with its mail event; registering it resolves the alert', async () => {
    aqueduct.endpoints = [];
    aqueduct.register('https://app.example.com/webhooks/aqueduct', EVENTS); // the prefix is missing
    const check = host.app.get(EndpointCheck);

    const first = await check.check();
    await check.check(); // still wrong: counted, not alerted again

    expect(first.ok).toBe(false);
    expect(first.endpoints).toBe(1);
    expect(first.problems).toEqual([
      `No webhook endpoint registered with Aqueduct points at ${PUBLIC_URL} (the account has 1: ` +
        'https://app.example.com/webhooks/aqueduct), so no event reaches this app. Register it: ' +
        `npx nestjs-aqueduct endpoints register --url ${PUBLIC_URL} ` +
        '--events provisioning_start,provisioning_end,invoice_paid ' +
        '--secret "$AQUEDUCT_WEBHOOK_SECRET" --api-key "$AQUEDUCT_API_KEY"',
    ]);
    const [alert] = await alerts();
    expect(alert).toMatchObject({ kind: 'endpoint', status: 'open', reason: first.problems[0] });
    expect(alert.details).toEqual({
      publicUrl: PUBLIC_URL,
      missingEvents: EVENTS,
      listenedBy: {
        provisioning_start: ['aqueduct.provisioning'],
        provisioning_end: ['aqueduct.provisioning'],
        invoice_paid: ['Billing.paid', 'aqueduct.provisioning'],
      },
      endpoints: [
        { id: 'web_1', url: 'https://app.example.com/webhooks/aqueduct', enabledEvents: EVENTS },
      ],
    });
    expect(JSON.stringify(alert)).not.toContain(API_KEY);
    const raised = await raisedEvents();
    expect(raised).toHaveLength(1);
    expect(raised[0].payload.object).toMatchObject({ kind: 'endpoint', reason: first.problems[0] });
    expect(host.app.get(AqueductAlerts).isOpen('endpoint')).toBe(true);

    // The fix the reason names: register the endpoint (here through the module's own client).
    await host.app.get(AqueductApiClient).createWebhookEndpoint({
      url: PUBLIC_URL,
      enabledEvents: EVENTS,
      secret: 'endpoint-check-secret',
    });
    const fixed = await check.check();

    expect(fixed).toMatchObject({ ok: true, problems: [], endpoints: 2 });
    expect(await alerts()).toEqual([
      expect.objectContaining({ kind: 'endpoint', status: 'resolved' }),
    ]);
    expect(host.app.get(AqueductAlerts).isOpen('endpoint')).toBe(false);
    expect(await raisedEvents()).toHaveLength(1);
  });

  it('(b) an endpoint at publicUrl that does not send a type a listener waits for: named, underscored', async () => {
    aqueduct.endpoints = [];
    aqueduct.register(PUBLIC_URL, ['provisioning_start', 'provisioning_end']);

    const result = await host.app.get(EndpointCheck).check();

    expect(result.ok).toBe(false);
    expect(result.problems).toHaveLength(1);
    expect(result.problems[0]).toMatch(
      /^Aqueduct's webhook endpoint web_1 for \S+ does not send invoice_paid, which this app listens to/,
    );
    expect(result.problems[0]).toContain(
      '--events provisioning_start,provisioning_end,invoice_paid ',
    );
    const [alert] = await alerts();
    expect(alert).toMatchObject({ kind: 'endpoint', status: 'open', reason: result.problems[0] });
    expect(alert.details.missingEvents).toEqual(['invoice_paid']);
    expect(await raisedEvents()).toHaveLength(2); // a new incident, a new alert
  });

  it('(c) Aqueduct unreachable: not ok with the reason, no alert raised or resolved', async () => {
    aqueduct.down = true;
    try {
      const result = await host.app.get(EndpointCheck).check();

      expect(result.ok).toBe(false);
      expect(result.endpoints).toBe(0);
      expect(result.error).toMatch(/^Aqueduct API GET \/v1\/webhookendpoints failed: .*attempts/);
      expect(result.problems).toEqual([
        `Could not list Aqueduct's webhook endpoints: ${result.error}`,
      ]);
      expect(JSON.stringify(result)).not.toContain(API_KEY);
      expect(host.app.get(EndpointCheck).lastResult()).toBe(result);
      // The alert of the previous test stays as it was: an API outage says nothing of the endpoint.
      expect(await alerts()).toEqual([
        expect.objectContaining({ kind: 'endpoint', status: 'open' }),
      ]);
      expect(await raisedEvents()).toHaveLength(2);
    } finally {
      aqueduct.down = false;
    }
  }, 30_000);

  it('(c) an API that was never up: no alert at all', async () => {
    const second = await createTestDatabase();
    const offline = await createTestApp({
      databaseUrl: second.url,
      aqueduct: {
        secrets: ['s'],
        apiKey: API_KEY,
        apiBaseUrl: `http://127.0.0.1:${await closedPort()}`,
        publicUrl: PUBLIC_URL,
        endpointCheck: { enabled: false },
      },
    });
    try {
      const result = await offline.get(EndpointCheck).check();

      expect(result.ok).toBe(false);
      expect(result.error).toContain('ECONNREFUSED');
      expect(await offline.get(DataSource).query(`SELECT * FROM aqueduct_alerts`)).toEqual([]);
    } finally {
      await offline.close();
      await second.drop();
    }
  }, 30_000);

  it('runs every intervalMs, and stops on shutdown', async () => {
    aqueduct.endpoints = [];
    aqueduct.register(PUBLIC_URL, EVENTS);
    const periodic = await createTestApp({
      databaseUrl: host.db.url,
      aqueduct: {
        secrets: ['s'],
        apiKey: API_KEY,
        apiBaseUrl: aqueduct.url,
        publicUrl: PUBLIC_URL,
        endpointCheck: { intervalMs: 1000 },
      },
    });
    const before = aqueduct.gets();
    try {
      await waitFor(() => aqueduct.gets() >= before + 2, 5000, 'a second, timed check');
      // Its clean check resolved the alert the previous tests left open.
      await waitFor(
        async () => (await alerts())[0]?.status === 'resolved',
        5000,
        'the alert resolved',
      );
    } finally {
      await periodic.close();
    }
    const after = aqueduct.gets();
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(aqueduct.gets()).toBe(after);
  });

  it('is off without publicUrl: nothing is asked of the API at start-up', async () => {
    const before = aqueduct.requests.length;
    const plain = await createTestApp({
      databaseUrl: host.db.url,
      aqueduct: { secrets: ['s'], apiKey: API_KEY, apiBaseUrl: aqueduct.url },
    });
    try {
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(aqueduct.requests.length).toBe(before);
      expect(await plain.get(EndpointCheck).check()).toMatchObject({
        ok: false,
        error: 'the endpoint check needs the apiKey and publicUrl options',
      });
    } finally {
      await plain.close();
    }
  });

  describe('CLI: endpoints check', () => {
    const check = (args: string[], env: Record<string, string> = {}) =>
      runCli(['endpoints', 'check', '--api-url', aqueduct.url, '--url', PUBLIC_URL, ...args], {
        AQUEDUCT_API_KEY: API_KEY,
        ...env,
      });

    it('exit 0 when an endpoint at the URL sends the events, the key from AQUEDUCT_API_KEY', async () => {
      aqueduct.endpoints = [];
      aqueduct.register(`${PUBLIC_URL}/`, [...EVENTS, 'provisioning_update']);
      aqueduct.requests.length = 0;

      const result = await check([]);

      expect(result.code).toBe(0);
      expect(result.stdout).toBe(
        `ok: web_1 → ${PUBLIC_URL} sends provisioning_start, provisioning_end, invoice_paid\n`,
      );
      expect(aqueduct.requests[0].authorization).toBe(`Api-Key ${API_KEY}`);
    });

    it('exit 1 with the problem, and --json; --events in either spelling', async () => {
      aqueduct.endpoints = [];
      aqueduct.register(PUBLIC_URL, ['provisioning_start']);

      const human = await check(['--events', 'provisioning.start,invoice.paid']);
      const json = await check(['--json']);

      expect(human.code).toBe(1);
      expect(human.stdout).toMatch(
        /^problem: Aqueduct's webhook endpoint web_1 for \S+ does not send invoice_paid, which/,
      );
      expect(json.code).toBe(1);
      expect(JSON.parse(json.stdout)).toEqual({
        ok: false,
        problems: [expect.stringContaining('does not send provisioning_end, invoice_paid')],
        endpoints: 1,
        matching: ['web_1'],
        missingEvents: ['provisioning_end', 'invoice_paid'],
        checkedAt: expect.any(String),
      });

      aqueduct.endpoints = [];
      const none = await check([]);
      expect(none.code).toBe(1);
      expect(none.stdout).toContain(
        'problem: No webhook endpoint registered with Aqueduct points at',
      );
    });

    it('exit 3 when the API cannot be reached, 2 without a key or with a bad --url', async () => {
      const unreachable = await runCli([
        'endpoints',
        'check',
        '--api-url',
        `http://127.0.0.1:${await closedPort()}`,
        '--api-key',
        API_KEY,
        '--url',
        PUBLIC_URL,
      ]);
      expect(unreachable.code).toBe(3);
      expect(unreachable.stderr).toContain('ECONNREFUSED');
      expect(unreachable.stderr).not.toContain(API_KEY);

      const noKey = await runCli(['endpoints', 'check', '--url', PUBLIC_URL], {
        AQUEDUCT_API_KEY: '',
      });
      expect(noKey.code).toBe(2);
      expect(noKey.stderr).toContain('--api-key is required (or set AQUEDUCT_API_KEY)');

      const badUrl = await check(['--url', 'app.example.com/webhooks']);
      expect(badUrl.code).toBe(2);
    }, 60_000);

    it('--help never shows the key or the secret from the environment', async () => {
      for (const command of ['check', 'list', 'register']) {
        const help = await runCli(['endpoints', command, '--help'], {
          AQUEDUCT_API_KEY: API_KEY,
          AQUEDUCT_WEBHOOK_SECRET: 'whsec_from_the_environment',
        });
        expect(help.code).toBe(0);
        expect(help.stdout).toContain('--api-key <key>');
        expect(help.stdout).not.toContain(API_KEY);
        expect(help.stdout).not.toContain('whsec_from_the_environment');
      }
    });
  });
});
