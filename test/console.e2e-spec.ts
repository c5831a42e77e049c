import { AqueductModule } from 'nestjs-aqueduct';
import { aqueductEvent, provisioningStartEvent } from 'nestjs-aqueduct/testing';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { createTestApp } from './support/app';
import {
  CONSOLE_PATH,
  CONSOLE_SECRET,
  CONSOLE_TEST_EVENT,
  ConsoleAccessSwitch,
  ConsoleTestListener,
  consoleAppSetup,
  formToken,
  sendEvent,
  SwitchGuard,
} from './support/console';
import { LogCapture } from './support/log-capture';
import { useTestApp } from './support/use-test-app';
import { useTestDatabase } from './support/use-test-database';
import { waitFor } from './support/wait';

const XSS = '<img src=x onerror=alert(1)>';

describe('Console', () => {
  let accessSwitch: ConsoleAccessSwitch;
  const server = () => host.app.getHttpServer();
  const get = (path: string) => request(server()).get(`${CONSOLE_PATH}${path}`);

  /** A page's token and the cookie it came with, as a browser would hold them. */
  async function session(path: string): Promise<{ token: string; cookie: string }> {
    const page = await get(path).expect(200);
    const cookie = ([] as string[]).concat(page.headers['set-cookie'] ?? [])[0]?.split(';')[0];
    return { token: formToken(page.text), cookie };
  }

  const settled = (id: string) =>
    waitFor(
      async () =>
        (
          await host.app
            .get(DataSource)
            .query(
              `SELECT count(*)::int AS n FROM aqueduct_deliveries WHERE event_id = $1 AND state IN ('pending', 'active')`,
              [id],
            )
        )[0].n === 0,
      15_000,
      `deliveries of ${id} to finish`,
    );

  const host = useTestApp(consoleAppSetup({ guard: SwitchGuard, pageSize: 3 }));
  beforeAll(() => {
    accessSwitch = host.app.get(ConsoleAccessSwitch);
  });
  afterEach(() => {
    accessSwitch.allow = true;
  });

  it('lists events with the security headers, a CSRF cookie scoped to the console, and counts', async () => {
    await sendEvent(host.app, provisioningStartEvent({ customerId: 'owner_list' }));
    const page = await get('').expect(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    const csp = page.headers['content-security-policy'];
    expect(csp).toMatch(/default-src 'none'/);
    expect(csp).toMatch(/style-src 'nonce-[A-Za-z0-9+/=]+'/);
    expect(csp).not.toMatch(/script-src|unsafe-inline/);
    expect(csp).toMatch(/frame-ancestors 'none'/);
    expect(page.headers['x-frame-options']).toBe('DENY');
    expect(page.headers['cache-control']).toBe('no-store');
    expect(page.headers['referrer-policy']).toBe('no-referrer');
    const cookie = ([] as string[]).concat(page.headers['set-cookie'])[0];
    expect(cookie).toMatch(
      /^aqueduct_console_csrf=[^;]+; Path=\/aqueduct\/console; HttpOnly; SameSite=Strict$/,
    );
    expect(page.text).toContain('owner_list');
    expect(page.text).toMatch(/\d+ pending/);
    expect(page.text).not.toContain('<script');
  });

  it('answers 403 on every console route when the guard says no', async () => {
    const id = await sendEvent(
      host.app,
      aqueductEvent(CONSOLE_TEST_EVENT, { customerId: 'owner_403' }),
    );
    const { token, cookie } = await session(`/events/${id}`);
    accessSwitch.allow = false;
    const routes = [
      get(''),
      get('?type=invoice.paid'),
      get(`/events/${id}`),
      get('/events/not-an-id'),
      get('/customers/owner_403'),
      get('/nope'),
      get('/customers'),
      request(server())
        .post(`${CONSOLE_PATH}/events/${id}/replay`)
        .set('Cookie', cookie)
        .type('form')
        .send({ _csrf: token }),
      request(server())
        .post(`${CONSOLE_PATH}/events/${id}/redrive`)
        .set('Cookie', cookie)
        .type('form')
        .send({ _csrf: token, listener: 'console-test' }),
    ];
    for (const route of routes) {
      const response = await route;
      expect(response.status).toBe(403);
      expect(response.headers['content-security-policy']).toMatch(/default-src 'none'/);
      expect(response.text).not.toContain('owner_403');
    }
    await settled(id);
    expect(host.app.get(ConsoleTestListener).runs.get(id)).toBe(1); // the refused replay did nothing
  });

  it('shows an event: payload escaped, headers of interest, never the secret', async () => {
    const id = await sendEvent(
      host.app,
      aqueductEvent(CONSOLE_TEST_EVENT, { customerId: `owner_${XSS}`, note: XSS }),
    );
    await settled(id);
    const page = await get(`/events/${id}`).expect(200);
    expect(page.text).not.toContain(XSS);
    expect(page.text).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(page.text).toContain('content-type');
    expect(page.text).toContain('console-test'); // the delivery
    expect(page.text).not.toContain(CONSOLE_SECRET);
    expect(page.text).not.toMatch(/authorization/i);
    // Each attempt of the delivery, in its own table.
    expect(page.text).toMatch(/<table class="attempts" data-listener="console-test">[\s\S]*>done</);
    // The customer link is encoded, the customer page escapes the id too.
    const customer = await get(`/customers/${encodeURIComponent(`owner_${XSS}`)}`).expect(200);
    expect(customer.text).not.toContain(XSS);
    expect(customer.text).toContain(`owner_&lt;img`);
  });

  it('filters by type, status, customer and time, each answer indexed newest first', async () => {
    const customer = `owner_filter_${Date.now()}`;
    const before = new Date(Date.now() - 1000).toISOString();
    // Starting next year: the ledger schedules it and writes no access.started into the list.
    const next = new Date(Date.now() + 365 * 86_400_000);
    const start = await sendEvent(
      host.app,
      provisioningStartEvent({
        customerId: customer,
        startDate: next.toISOString(),
        endDate: new Date(next.getTime() + 30 * 86_400_000).toISOString(),
      }),
    );
    const other = await sendEvent(
      host.app,
      aqueductEvent(CONSOLE_TEST_EVENT, { customerId: customer }),
    );
    const rejected = await sendEvent(host.app, {
      type: 'provisioning.start',
      createdAt: 'never',
      object: { customerId: customer },
    });
    const ids = (text: string) =>
      [...text.matchAll(/\/events\/([0-9a-f-]{36})"/g)].map((m) => m[1]);

    const byCustomer = await get(`?customer=${customer}`).expect(200);
    expect(ids(byCustomer.text)).toEqual([rejected, other, start]);
    const byType = await get(`?customer=${customer}&type=${CONSOLE_TEST_EVENT}`).expect(200);
    expect(ids(byType.text)).toEqual([other]);
    const byStatus = await get(`?customer=${customer}&status=rejected`).expect(200);
    expect(ids(byStatus.text)).toEqual([rejected]);
    const inRange = await get(`?customer=${customer}&from=${encodeURIComponent(before)}`).expect(
      200,
    );
    expect(ids(inRange.text)).toHaveLength(3);
    const outOfRange = await get(`?customer=${customer}&to=${encodeURIComponent(before)}`).expect(
      200,
    );
    expect(ids(outOfRange.text)).toEqual([]);
    expect(outOfRange.text).toContain('No events match these filters.');
    // datetime-local's own format (no zone) is read as UTC.
    await get(`?from=${before.slice(0, 16)}`).expect(200);
  });

  it("shows each attempt's error escaped", async () => {
    const id = await sendEvent(
      host.app,
      aqueductEvent(CONSOLE_TEST_EVENT, { fail: true, note: XSS }),
    );
    await settled(id);
    const page = await get(`/events/${id}`).expect(200);
    expect(page.text).not.toContain(XSS);
    const attempts = page.text.slice(page.text.indexOf('<table class="attempts"'));
    expect(attempts).toMatch(
      /<pre class="error">Error: console-test listener failed as asked: &lt;img src=x onerror=alert\(1\)&gt;<\/pre>/,
    );
  });

  it('filters events with dead deliveries, and redrives one with a valid form', async () => {
    const id = await sendEvent(
      host.app,
      aqueductEvent(CONSOLE_TEST_EVENT, { customerId: 'owner_dead', fail: true }),
    );
    await settled(id);
    const dead = await get('?status=dead').expect(200);
    expect(dead.text).toContain(id.slice(0, 8));
    const { token, cookie } = await session(`/events/${id}`);
    const page = await get(`/events/${id}`).set('Cookie', cookie).expect(200);
    expect(page.text).toContain('Redrive');
    expect(page.text).toContain('console-test listener failed as asked');
    const redrive = await request(server())
      .post(`${CONSOLE_PATH}/events/${id}/redrive`)
      .set('Cookie', cookie)
      .type('form')
      .send({ _csrf: token, listener: 'console-test' })
      .expect(303);
    expect(redrive.headers.location).toBe(`${CONSOLE_PATH}/events/${id}?redriven=console-test`);
    await waitFor(
      () => host.app.get(ConsoleTestListener).runs.get(id) === 2,
      15_000,
      'a second run',
    );
  });

  it('pages through a customer’s events with keyset cursors, both ways, without gaps', async () => {
    const customer = `owner_pages_${Date.now()}`;
    const sent: string[] = [];
    for (let i = 0; i < 7; i++) {
      sent.unshift(
        await sendEvent(host.app, aqueductEvent(CONSOLE_TEST_EVENT, { customerId: customer, i })),
      );
    }
    const ids = (text: string) =>
      [...text.matchAll(/\/events\/([0-9a-f-]{36})"/g)].map((m) => m[1]);
    const cursor = (text: string, rel: string) =>
      new RegExp(`rel="${rel}" href="[^"]*(?:before|after)=([0-9a-f-]{36})`).exec(text)?.[1];
    const seen: string[] = [];
    let page = await get(`?customer=${customer}`).expect(200);
    const pages = [page.text];
    for (;;) {
      seen.push(...ids(page.text));
      const older = cursor(page.text, 'next');
      if (!older) break;
      page = await get(`?customer=${customer}&before=${older}`).expect(200);
      pages.push(page.text);
    }
    expect(seen).toEqual(sent);
    expect(pages).toHaveLength(3);
    // Back from the last page: the newer page is the middle one again.
    const newer = cursor(pages[2], 'prev')!;
    const back = await get(`?customer=${customer}&after=${newer}`).expect(200);
    expect(ids(back.text)).toEqual(sent.slice(3, 6));
    // The customer's timeline pages the same way.
    const timeline = await get(`/customers/${customer}`).expect(200);
    expect(ids(timeline.text)).toEqual(sent.slice(0, 3));
  });

  it.each([
    ['from', '?from=yesterday'],
    ['to', '?to=2025-13-45T99:00'],
    ['status', '?status=lost'],
    ['before', '?before=not-a-cursor'],
    ['after', '?after=1'],
    ['type', '?type=a&type=b'],
    ['customer', `?customer=${'x'.repeat(201)}`],
  ])('answers 400 naming the bad parameter "%s"', async (field, query) => {
    const response = await get(query).expect(400);
    expect(response.text).toContain(`Query parameter &quot;${field}&quot;`);
    expect(response.headers['content-type']).toMatch(/^text\/html/);
  });

  it('answers 404 pages for unknown and malformed event ids', async () => {
    const unknown = await get('/events/00000000-0000-4000-8000-000000000000').expect(404);
    expect(unknown.text).toContain('404 Not found');
    await get(`/events/${encodeURIComponent(XSS)}`).expect(404);
  });

  it('answers an HTML 404 page, with the console headers and a way back, for any other GET under its path', async () => {
    const id = await sendEvent(
      host.app,
      aqueductEvent(CONSOLE_TEST_EVENT, { customerId: 'owner_404' }),
    );
    for (const path of [
      '/nope',
      '/nope/',
      '/a/b%2Fc/d',
      '/events',
      `/events/${id}/replay`, // a POST-only route
      `/customers/owner_404/more`,
      `/${encodeURIComponent(XSS)}`,
    ]) {
      const response = await get(path).expect(404);
      expect(response.headers['content-type']).toMatch(/^text\/html/);
      expect(response.headers['content-security-policy']).toMatch(/default-src 'none'/);
      expect(response.headers['content-security-policy']).not.toMatch(/script-src/);
      expect(response.headers['x-frame-options']).toBe('DENY');
      expect(response.headers['x-content-type-options']).toBe('nosniff');
      expect(response.headers['cache-control']).toBe('no-store');
      expect(response.headers['referrer-policy']).toBe('no-referrer');
      expect(response.text).toContain('<title>404 · Aqueduct console</title>');
      expect(response.text).toContain('404 Not found');
      // The links go back to the console's own path, however deep the unknown path was.
      expect(response.text).toContain(`<a href="${CONSOLE_PATH}">Back to the events</a>`);
      expect(response.text).not.toContain(XSS);
      expect(response.text).not.toContain('<script');
      const cookie = ([] as string[]).concat(response.headers['set-cookie'] ?? [])[0];
      expect(cookie).toMatch(new RegExp(`; Path=${CONSOLE_PATH};`));
    }
    // Only under the console's path, for GET only: the rest is as before.
    const beside = await request(server()).get(`${CONSOLE_PATH}x/nope`).expect(404);
    expect(beside.headers['content-type']).toMatch(/^application\/json/);
    const post = await request(server()).post(`${CONSOLE_PATH}/nope`).expect(404);
    expect(post.headers['content-type']).toMatch(/^application\/json/);
    // The known pages still answer.
    await get(`/events/${id}`).expect(200);
    await get('/customers/owner_404').expect(200);
    await get('/').expect(200);
  });

  it('refuses a POST without the CSRF token, with a wrong one, or from another site', async () => {
    const id = await sendEvent(
      host.app,
      aqueductEvent(CONSOLE_TEST_EVENT, { customerId: 'owner_csrf' }),
    );
    await settled(id);
    const { token, cookie } = await session(`/events/${id}`);
    const post = () => request(server()).post(`${CONSOLE_PATH}/events/${id}/replay`).type('form');

    const missing = await post().send({}).expect(403);
    expect(missing.text).toContain('security token is missing or does not match');
    await post().set('Cookie', cookie).send({}).expect(403);
    await post().send({ _csrf: token }).expect(403); // no cookie
    await post()
      .set('Cookie', cookie)
      .send({ _csrf: `${token}x` })
      .expect(403);
    const forged = 'bm9uY2U.c2lnbmF0dXJl';
    await post()
      .set('Cookie', `aqueduct_console_csrf=${forged}`)
      .send({ _csrf: forged })
      .expect(403);
    const crossSite = await post()
      .set('Cookie', cookie)
      .set('Origin', 'https://evil.example')
      .send({ _csrf: token })
      .expect(403);
    expect(crossSite.text).toContain('sent from another site');
    expect(host.app.get(ConsoleTestListener).runs.get(id)).toBe(1);

    // A same-origin Origin is fine (the Host is what the browser addressed).
    await post()
      .set('Cookie', cookie)
      .set('Host', 'console.test')
      .set('Origin', 'http://console.test')
      .send({ _csrf: 'wrong' })
      .expect(403);
    const same = await post()
      .set('Cookie', cookie)
      .set('Host', 'console.test')
      .set('Origin', 'http://console.test')
      .send({ _csrf: token })
      .expect(303);
    expect(same.headers.location).toBe(`${CONSOLE_PATH}/events/${id}?replayed=1`);
    await waitFor(() => host.app.get(ConsoleTestListener).runs.get(id) === 2, 15_000, 'the replay');
    const after = await get(`/events/${id}?replayed=1`).expect(200);
    expect(after.text).toContain('Replay scheduled: 1 delivery will run again.');
  });

  it('shows a customer’s entitlements and the events that shaped them', async () => {
    const customer = `owner_ledger_${Date.now()}`;
    const id = await sendEvent(
      host.app,
      provisioningStartEvent({ customerId: customer, productId: 'prod_console' }),
    );
    await settled(id);
    const page = await get(`/customers/${customer}`).expect(200);
    expect(page.text).toContain('prod_console');
    expect(page.text).toMatch(/badge b-ok">active</);
    expect(page.text).toContain(id.slice(0, 8));
    expect(page.text).not.toContain('ada@acme.test'); // users are counted, not listed
  });

  it('shows quarantined events in a banner on every page; Reprocess and Dismiss work from the event page', async () => {
    const bad = await sendEvent(host.app, {
      type: 'provisioning.start',
      createdAt: new Date().toISOString(),
      object: { customerId: 'owner_quarantine', startDate: 'soon' },
    });
    const list = await get('').expect(200);
    expect(list.text).toMatch(
      /role="alert"[^>]*>[^<]*\d+ authentic events? (is|are) in quarantine/,
    );
    expect(list.text).toContain('?status=quarantined');
    const filtered = await get('?status=quarantined').expect(200);
    expect(filtered.text).toContain(bad.slice(0, 8));
    expect((await get('?status=rejected').expect(200)).text).toContain(bad.slice(0, 8)); // old links
    const page = await get(`/events/${bad}`).expect(200);
    expect(page.text).toContain('object.startDate must be an ISO 8601 date');
    expect(page.text).toMatch(/<button type="submit" class="primary">Reprocess<\/button>/);
    expect(page.text).toMatch(/<button type="submit" class="danger">Dismiss<\/button>/);
    expect(page.text).not.toMatch(/>Replay</);

    const { token, cookie } = await session(`/events/${bad}`);
    const form = (action: string) =>
      request(server())
        .post(`${CONSOLE_PATH}/events/${bad}/${action}`)
        .set('Cookie', cookie)
        .type('form')
        .send({ _csrf: token });
    const reprocessed = await form('reprocess').expect(303);
    expect(reprocessed.headers.location).toBe(
      `${CONSOLE_PATH}/events/${bad}?reprocessed=quarantined`,
    );
    expect((await get(`/events/${bad}?reprocessed=quarantined`).expect(200)).text).toContain(
      'still invalid',
    );
    await form('dismiss').expect(303);
    const dismissed = await get(`/events/${bad}?dismissed=1`).expect(200);
    expect(dismissed.text).toContain('Dismissed: no listener will run');
    expect(dismissed.text).toMatch(/badge b-idle">dismissed</);
    expect(await form('dismiss').then((r) => r.status)).toBe(404);
  });
});

describe('Console configuration', () => {
  const db = useTestDatabase();

  it('refuses to start without a guard unless allowUnauthenticated is set', () => {
    expect(() =>
      AqueductModule.forRoot({ secrets: [CONSOLE_SECRET], console: { path: 'ops' } }),
    ).toThrow('option "console.guard" is required');
  });

  it('serves nothing at the console path when the console is off', async () => {
    const app = await createTestApp({
      databaseUrl: db.url,
      aqueduct: { secrets: [CONSOLE_SECRET] },
    });
    try {
      await request(app.getHttpServer()).get(CONSOLE_PATH).expect(404);
    } finally {
      await app.close();
    }
  });

  it('mounts with forRootAsync at the configured path, and stays off there when not configured', async () => {
    const open = await createTestApp({
      databaseUrl: db.url,
      aqueductModule: AqueductModule.forRootAsync({
        useFactory: () => ({
          secrets: [CONSOLE_SECRET],
          console: { path: 'ops/aqueduct', allowUnauthenticated: true },
        }),
      }),
    });
    try {
      await request(open.getHttpServer()).get('/ops/aqueduct').expect(200);
      await request(open.getHttpServer()).get(CONSOLE_PATH).expect(404);
    } finally {
      await open.close();
    }
    const logs = new LogCapture();
    const off = await createTestApp({
      databaseUrl: db.url,
      logger: logs,
      aqueductModule: AqueductModule.forRootAsync({
        useFactory: () => ({ secrets: [CONSOLE_SECRET] }),
      }),
    });
    try {
      await request(off.getHttpServer()).get(CONSOLE_PATH).expect(404);
      await request(off.getHttpServer()).get(`${CONSOLE_PATH}/nope`).expect(404);
      // No trace of the console in the log: no controller line ("AqueductConsoleController
      // {/}:"), no route, no console line; the webhook's lines are there, so the log was read.
      expect(
        logs.matching(/AqueductWebhookController|Mapped \{\/webhooks\/aqueduct, POST\}/),
      ).toEqual([
        expect.stringMatching(
          /^RoutesResolver: AqueductWebhookController \{\/webhooks\/aqueduct\}/,
        ),
        'RouterExplorer: Mapped {/webhooks/aqueduct, POST} route',
      ]);
      expect(logs.matching(/Console/i)).toEqual([]);
      expect(logs.matching(/RoutesResolver|RouterExplorer/)).toHaveLength(2);
    } finally {
      await off.close();
    }
  });
});
