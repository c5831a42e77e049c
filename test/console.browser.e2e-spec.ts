import { existsSync, mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { aqueductEvent, provisioningStartEvent } from 'nestjs-aqueduct/testing';
import { type Browser, type Page, chromium } from 'playwright-core';
import {
  CONSOLE_PATH,
  CONSOLE_TEST_EVENT,
  ConsoleAccessSwitch,
  ConsoleTestListener,
  consoleAppSetup,
  sendEvent,
} from './support/console';
import { deliveriesSettled } from './support/subscription';
import { useTestApp } from './support/use-test-app';
import { waitFor } from './support/wait';

/**
 * The console in a real headless Chromium: Debian's `chromium` package driven by playwright-core
 * (no browser download). Without it the file is skipped, unless REQUIRE_BROWSER=1 (CI) says the
 * browser must be there.
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SCREENSHOTS = join(__dirname, 'screenshots');
const XSS = '<img src=x onerror=alert(1)>';
const available = existsSync(CHROMIUM);

if (!available) {
  const message = `${CHROMIUM} not found: install Debian's chromium package (apt-get install -y chromium) to run the console browser tests`;
  if (process.env.REQUIRE_BROWSER === '1') {
    throw new Error(`REQUIRE_BROWSER=1 but ${message}`);
  }
  console.warn(`Skipping the console browser tests: ${message}.`);
}

(available ? describe : describe.skip)('Console in a browser', () => {
  let browser: Browser;
  let page: Page;
  let origin: string;
  const dialogs: string[] = [];
  const ids: Record<string, string> = {};

  const open = (path = '') => page.goto(`${origin}${CONSOLE_PATH}${path}`);
  const shoot = (name: string) =>
    page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });

  // Registered before the app's teardown so that it runs first: the browser goes before the app.
  afterAll(async () => {
    await browser?.close();
  });
  const host = useTestApp(consoleAppSetup());
  beforeAll(async () => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    await host.app.listen(0, '127.0.0.1');
    origin = `http://127.0.0.1:${(host.app.getHttpServer().address() as AddressInfo).port}`;
    // A few customers' worth of history, as the screenshots show it.
    for (const customerId of ['owner_acme', 'owner_globex', 'owner_initech']) {
      await sendEvent(host.app, provisioningStartEvent({ customerId }));
    }
    ids.replay = await sendEvent(
      host.app,
      aqueductEvent(CONSOLE_TEST_EVENT, { customerId: 'owner_acme', seats: 12 }),
    );
    ids.dead = await sendEvent(
      host.app,
      aqueductEvent(CONSOLE_TEST_EVENT, { customerId: 'owner_globex', fail: true }),
    );
    ids.xss = await sendEvent(
      host.app,
      aqueductEvent(CONSOLE_TEST_EVENT, { customerId: 'owner_initech', note: XSS }),
    );
    await sendEvent(host.app, {
      type: 'provisioning.start',
      createdAt: 'not a date',
      object: { customerId: 'owner_initech' },
    });
    const listener = host.app.get(ConsoleTestListener);
    await waitFor(() => [ids.replay, ids.dead, ids.xss].every((id) => listener.runs.get(id) === 1));
    await deliveriesSettled(host.app, 30_000);

    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-background-networking'],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.on('dialog', (dialog) => {
      dialogs.push(dialog.message());
      void dialog.dismiss();
    });
  });

  afterEach(() => {
    host.app.get(ConsoleAccessSwitch).allow = true;
  });

  it('opens the event list with the backlog counts', async () => {
    const response = await open();
    expect(response?.status()).toBe(200);
    await page.getByRole('heading', { name: 'Events' }).waitFor();
    // The seven events sent, the access.started of each of the three customers, and the alert
    // raised by the one quarantined.
    expect(await page.locator('tbody tr').count()).toBe(11);
    expect(await page.locator('header .stats').innerText()).toContain('1 dead');
    await shoot('events');
  });

  it('filters by customer and status', async () => {
    await open();
    await page.getByLabel('Customer').fill('owner_globex');
    await page.getByLabel('Status').selectOption('dead');
    await page.getByRole('button', { name: 'Filter' }).click();
    await page.waitForURL(/customer=owner_globex/);
    const rows = page.locator('tbody tr');
    expect(await rows.count()).toBe(1);
    expect(await rows.first().innerText()).toContain(CONSOLE_TEST_EVENT);
    expect(await page.getByLabel('Status').inputValue()).toBe('dead');
    await shoot('events-filtered');
  });

  it('opens an event, replays it, and shows the new attempt', async () => {
    await open(`?customer=owner_acme&type=${CONSOLE_TEST_EVENT}`);
    await page.locator(`a[href$="/events/${ids.replay}"]`).click();
    await page.waitForURL(new RegExp(`/events/${ids.replay}$`));
    expect(await page.locator('#payload').innerText()).toContain('"seats": 12');
    const attempts = page.locator('table.attempts[data-listener="console-test"] tbody tr');
    expect(await attempts.count()).toBe(1);
    expect(await attempts.first().innerText()).toMatch(/^1\s+done/);

    await page.getByRole('button', { name: 'Replay' }).click();
    await page.waitForURL(/replayed=1$/);
    expect(await page.getByRole('status').innerText()).toContain('Replay scheduled');
    await waitFor(
      async () => {
        await page.reload();
        const state = await page.locator('tr[data-listener="console-test"] .badge').innerText();
        return state === 'done' && (await attempts.locator('.badge').count()) === 2;
      },
      15_000,
      'the replayed delivery to run again',
    );
    // The first attempt is still there; the replay is marked; the new attempt is the last row.
    const rows = await attempts.allInnerTexts();
    expect(rows).toHaveLength(3);
    expect(rows[0]).toMatch(/^1\s+done/);
    expect(rows[1]).toMatch(/^Replayed \d{4}-/);
    expect(rows[2]).toMatch(/^1\s+done/);
    expect(host.app.get(ConsoleTestListener).runs.get(ids.replay)).toBe(2);
    await shoot('event');
  });

  it('redrives a dead delivery', async () => {
    await open(`/events/${ids.dead}`);
    const attempts = page.locator('table.attempts[data-listener="console-test"] tbody tr');
    expect(await attempts.allInnerTexts()).toEqual([
      expect.stringMatching(/^1\s+dead[\s\S]*failed as asked/),
    ]);
    await shoot('event-dead');
    await page.getByRole('button', { name: 'Redrive' }).click();
    await page.waitForURL(/redriven=console-test$/);
    await waitFor(
      () => host.app.get(ConsoleTestListener).runs.get(ids.dead) === 2,
      15_000,
      'the redrive',
    );
  });

  it('shows a payload holding markup as text, and no script runs', async () => {
    await open(`/events/${ids.xss}`);
    expect(await page.locator('#payload').innerText()).toContain(XSS);
    expect(await page.locator('main img').count()).toBe(0);
    await page.waitForTimeout(200);
    expect(dialogs).toEqual([]);
    await shoot('event-xss');
  });

  it('shows a customer with entitlements and timeline', async () => {
    await open('/customers/owner_acme');
    await page.getByRole('heading', { name: 'Entitlements' }).waitFor();
    expect(await page.locator('table').first().innerText()).toContain('prod_pro');
    // Why: the provisioning's window, the access it gives and "now", drawn server-side.
    const timeline = page.locator('svg.access-timeline');
    expect(await timeline.count()).toBe(1);
    expect(await timeline.locator('g.provisioning rect').count()).toBeGreaterThanOrEqual(1);
    expect(await timeline.locator('g.access rect').count()).toBeGreaterThanOrEqual(1);
    expect(await timeline.locator('text', { hasText: 'now' }).count()).toBe(1);
    await shoot('customer');
  });

  it('refuses a POST without the CSRF token, from the console itself or from another site', async () => {
    await open(`/events/${ids.replay}`);
    await page
      .locator('form[action$="/replay"] input[name="_csrf"]')
      .evaluate((input) => input.remove());
    const [refused] = await Promise.all([
      page.waitForNavigation(),
      page.getByRole('button', { name: 'Replay' }).click(),
    ]);
    expect(refused?.status()).toBe(403);
    expect(await page.locator('main').innerText()).toContain('security token is missing');
    await shoot('csrf-refused');

    // Another origin's auto-submitting form: no SameSite cookie, no token, a foreign Origin.
    await page.setContent(
      `<form method="post" action="${origin}${CONSOLE_PATH}/events/${ids.replay}/replay"><button>win</button></form>`,
    );
    const [crossSite] = await Promise.all([
      page.waitForNavigation(),
      page.getByRole('button').click(),
    ]);
    expect(crossSite?.status()).toBe(403);
    expect(host.app.get(ConsoleTestListener).runs.get(ids.replay)).toBe(2);
  });

  it('answers 403 on every console page when the guard says no', async () => {
    host.app.get(ConsoleAccessSwitch).allow = false;
    for (const path of ['', `/events/${ids.replay}`, '/customers/owner_acme', '?status=dead']) {
      const response = await open(path);
      expect(response?.status()).toBe(403);
      expect(await page.locator('h1').innerText()).toBe('403 Forbidden');
    }
    await shoot('forbidden');
  });
});
