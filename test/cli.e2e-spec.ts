import { Injectable, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { type AqueductEvent, OnAqueductEvent } from 'nestjs-aqueduct';
import {
  provisioningEndEvent,
  provisioningStartEvent,
  signAqueductRequest,
} from 'nestjs-aqueduct/testing';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { DataSource } from 'typeorm';
import { DEVELOPMENT_SECRET } from '../src/app.config';
import { AppModule } from '../src/app.module';
import { createTestApp } from './support/app';
import { createTestDatabase } from './support/database';
import { runCli } from './support/cli';
import { postAccepted } from './support/post';
import { deliveriesSettled } from './support/subscription';
import { useTestDatabase } from './support/use-test-database';
import { waitFor } from './support/wait';

describe('The nestjs-aqueduct CLI, driven as a user would', () => {
  const db = useTestDatabase();

  it('send: posts a signed sample event to the example app, which stores it', async () => {
    const env = { ...process.env };
    process.env.DATABASE_URL = db.url;
    process.env.AQUEDUCT_VERIFICATION = 'standard-webhooks';
    delete process.env.AQUEDUCT_WEBHOOK_SECRET;
    const app = await NestFactory.create(AppModule, { logger: false });
    await app.listen(0, '127.0.0.1');
    process.env = env;
    try {
      const url = `http://127.0.0.1:${app.getHttpServer().address().port}/webhooks/aqueduct`;
      const signing = ['--secret', DEVELOPMENT_SECRET, '--scheme', 'standard-webhooks'];
      const result = await runCli([
        'send',
        'provisioning_start',
        '--url',
        url,
        ...signing,
        '--customer-id',
        'owner_cli',
        '--json',
      ]);
      expect(result.code).toBe(0);
      const answer = JSON.parse(result.stdout);
      expect(answer).toMatchObject({ status: 200, body: { received: true } });
      const rows = await app
        .get(DataSource)
        .query(
          `SELECT type, payload->'object'->>'customerId' AS customer FROM aqueduct_events WHERE id = $1`,
          [answer.body.id],
        );
      expect(rows).toEqual([{ type: 'provisioning.start', customer: 'owner_cli' }]);

      const forged = await runCli([
        'send',
        'provisioning.start',
        '--url',
        url,
        '--secret',
        'whsec_d3Jvbmctc2VjcmV0LXdyb25nLXNlY3JldA==',
        '--scheme',
        'standard-webhooks',
      ]);
      expect(forged.code).toBe(1);
      expect(forged.stdout).toContain('401');
      expect(forged.stderr).toContain('hint: the app refused the signature or secret');

      const misrouted = await runCli([
        'send',
        'provisioning.start',
        '--url',
        url.replace('/webhooks/aqueduct', '/webhook/aqueduct'),
        ...signing,
      ]);
      expect([misrouted.code, misrouted.stderr]).toEqual([
        1,
        expect.stringContaining('hint: nothing answers POST at that path'),
      ]);

      // The same delivery id again, as Aqueduct retries: a duplicate, not a second event.
      const retry = () =>
        runCli([
          'send',
          'provisioning.start',
          '--url',
          url,
          ...signing,
          '--id',
          'msg_cli_retry',
          '--json',
        ]);
      const first = await retry();
      const again = await retry();
      expect(JSON.parse(again.stdout).body).toMatchObject({
        id: JSON.parse(first.stdout).body.id,
        duplicate: true,
      });

      // Stored but not understood: exit 0 (Aqueduct's answer), and said.
      const invalid = join(mkdtempSync(join(tmpdir(), 'aqueduct-cli-')), 'invalid.json');
      writeFileSync(
        invalid,
        JSON.stringify({
          type: 'provisioning.start',
          createdAt: new Date().toISOString(),
          object: { customerId: 'owner_cli_bad', productId: 'prod_pro', startDate: 'next tuesday' },
        }),
      );
      const quarantined = await runCli([
        'send',
        'provisioning.start',
        '--url',
        url,
        ...signing,
        '--data',
        invalid,
      ]);
      expect([quarantined.code, quarantined.stderr]).toEqual([
        0,
        expect.stringContaining('warning: stored but quarantined'),
      ]);

      // A start and its end with one invoice are one provisioning, ended now; a typo is sent, but said.
      const about = ['--invoice-id', 'inv_cli_end']; // alone: the customer is owner_inv_cli_end
      for (const type of ['provisioning.start', 'provisioning.end', 'invoice.paid']) {
        const sent = await runCli(['send', type, '--url', url, ...signing, ...about]);
        expect([type, sent.code, sent.stderr]).toEqual([type, 0, '']);
      }
      await deliveriesSettled(app);
      const provisionings = await app
        .get(DataSource)
        .query(
          `SELECT customer_id, end_date FROM aqueduct_provisionings WHERE invoice_id = 'inv_cli_end'`,
        );
      expect(provisionings).toHaveLength(1);
      expect(provisionings[0].customer_id).toBe('owner_inv_cli_end');
      expect(Math.abs(provisionings[0].end_date.getTime() - Date.now())).toBeLessThan(60_000);
      const paid = await app
        .get(DataSource)
        .query(`SELECT 1 FROM aqueduct_invoice_payments WHERE invoice_id = 'inv_cli_end'`);
      expect(paid).toHaveLength(1);
      const typo = await runCli(['send', 'provisoning.start', '--url', url, ...signing]);
      expect(typo.code).toBe(0);
      expect(typo.stderr).toContain('warning: "provisoning.start" is none of provisioning.start');
    } finally {
      await app.close();
    }
  });

  it("send: a refusal that is not the module's says the app's own guard answered", async () => {
    // The app's global guard, not exempting the webhook route: Nest's generic 401.
    const server = createServer((_req, res) => {
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ message: 'Unauthorized', statusCode: 401 }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as { port: number };
      const result = await runCli([
        'send',
        'provisioning.start',
        '--url',
        `http://127.0.0.1:${port}/webhooks/aqueduct`,
        '--secret',
        DEVELOPMENT_SECRET,
      ]);
      expect(result.code).toBe(1);
      expect(result.stderr).toContain('hint: the app itself answered 401, not the module');
      expect(result.stderr).toContain('isAqueductWebhookRoute');
      expect(result.stderr).not.toContain('hint: the app refused the signature or secret');
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  describe('simulate', () => {
    let server: Server;
    let url: string;
    const attempts = new Map<string, number>();
    let failFirst = 2;

    beforeAll(async () => {
      // An endpoint that fails the first attempts of every delivery (by delivery id).
      server = createServer((req, res) => {
        const id = String(req.headers['webhook-id']);
        const n = (attempts.get(id) ?? 0) + 1;
        attempts.set(id, n);
        req.resume();
        res.statusCode = n <= failFirst ? 500 : 200;
        res.end(n <= failFirst ? 'down' : '{"received":true}');
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      url = `http://127.0.0.1:${(server.address() as { port: number }).port}/hook`;
    });
    afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

    /** Sends `events` events to `urls` (the endpoint above by default), with Aqueduct's retries. */
    const simulate = (events: number, flags: string[] = [], urls = [url]) =>
      runCli([
        'simulate',
        ...urls.flatMap((to) => ['--url', to]),
        '--secret',
        DEVELOPMENT_SECRET,
        '--scheme',
        'standard-webhooks',
        '--events',
        String(events),
        '--duplicates',
        '0',
        ...flags,
        '--time-scale',
        '360000',
        '--json',
      ]);

    it("retries failures on Aqueduct's schedule until every event is delivered, and reports the retry counts", async () => {
      failFirst = 2;
      const result = await simulate(20);
      expect(result.code).toBe(0);
      const report = JSON.parse(result.stdout);
      expect(report).toMatchObject({
        sent: 20,
        delivered: 20,
        retried: 20,
        givenUp: 0,
        deliveredByAttempts: { 3: 20 },
        requests: 60,
      });
    });

    it('spreads deliveries over several --url, retries a refused connection on the next one, and lists what got a 2xx', async () => {
      failFirst = 0;
      const closed = await new Promise<string>((resolve) => {
        const probe = createServer().listen(0, '127.0.0.1', () => {
          const { port } = probe.address() as { port: number };
          probe.close(() => resolve(`http://127.0.0.1:${port}/hook`)); // nothing listens there now
        });
      });
      const seenBefore = new Set(attempts.keys());
      const result = await simulate(6, ['--max-attempts', '2'], [closed, url]);
      expect(result.code).toBe(0);
      const report = JSON.parse(result.stdout);
      expect(report).toMatchObject({
        delivered: 6,
        givenUp: 0,
        answers: { 200: 6, unreachable: 3 },
        deliveredByAttempts: { 1: 3, 2: 3 },
      });
      const received = [...attempts.keys()].filter((id) => !seenBefore.has(id));
      expect([...report.acceptedIds].sort()).toEqual(received.sort());
    });

    it('gives up after 4 retries like Aqueduct, and exits 1', async () => {
      failFirst = 99;
      const result = await simulate(2);
      expect(result.code).toBe(1);
      expect(JSON.parse(result.stdout)).toMatchObject({ delivered: 0, givenUp: 2, requests: 10 });
    });
  });

  describe('events', () => {
    @Injectable()
    class Counter {
      runs: string[] = [];
      @OnAqueductEvent('*', { name: 'counter' })
      count(event: AqueductEvent) {
        this.runs.push(event.id);
      }
    }
    let app: INestApplication;
    let eventId: string;

    beforeAll(async () => {
      app = await createTestApp({
        databaseUrl: db.url,
        aqueduct: { secrets: ['cli-secret'], dispatch: { pollIntervalMs: 100 } },
        imports: [{ module: class CounterModule {}, providers: [Counter] }],
      });
      const { body, headers } = signAqueductRequest(
        provisioningStartEvent({ customerId: 'owner_replay_cli' }),
        { scheme: 'shared-secret', secret: 'cli-secret' },
      );
      eventId = (
        await request(app.getHttpServer())
          .post('/webhooks/aqueduct')
          .set(headers)
          .send(body)
          .expect(200)
      ).body.id;
      await waitFor(() => app.get(Counter).runs.includes(eventId));
    });
    afterAll(async () => app?.close());

    it('list and show find the stored event', async () => {
      const list = await runCli([
        'events',
        'list',
        '--database-url',
        db.url,
        '--type',
        'provisioning.start',
        '--json',
      ]);
      expect(list.code).toBe(0);
      expect(JSON.parse(list.stdout).map((e: { id: string }) => e.id)).toContain(eventId);
      // The API's spelling (`provisioning_start`, as in `endpoints register`) finds the same.
      const underscored = await runCli([
        'events',
        'list',
        '--database-url',
        db.url,
        '--type',
        'provisioning_start',
        '--json',
      ]);
      expect(JSON.parse(underscored.stdout).map((e: { id: string }) => e.id)).toContain(eventId);
      // An on-call engineer looks a customer up by the id support gave them.
      const byCustomer = await runCli([
        ...['events', 'list', '--database-url', db.url, '--customer', 'owner_replay_cli'],
      ]);
      expect(byCustomer.stdout).toMatch(
        new RegExp(`${eventId}.*provisioning\\.start\\s+owner_replay_cli`),
      );
      const other = await runCli([
        ...['events', 'list', '--database-url', db.url, '--customer', 'owner_nobody', '--json'],
      ]);
      expect(JSON.parse(other.stdout)).toEqual([]);
      const show = await runCli(['events', 'show', eventId, '--database-url', db.url]);
      expect(show.code).toBe(0);
      expect(show.stdout).toContain('owner_replay_cli');
      expect(show.stdout).toMatch(/counter\s+done\s+1/);
      // The attempt log: the run that finished it.
      expect(show.stdout).toMatch(/counter\s+1\s+done\s+\d{4}-\d\d-\d\dT/);
      const json = await runCli(['events', 'show', eventId, '--database-url', db.url, '--json']);
      const counter = JSON.parse(json.stdout).deliveries.find(
        (d: { listener: string }) => d.listener === 'counter',
      );
      expect(counter.attemptLog).toEqual([
        expect.objectContaining({ attempt: 1, outcome: 'done', error: null }),
      ]);
    });

    it("replay re-runs the app's listeners (the running app picks it up)", async () => {
      const result = await runCli([
        'events',
        'replay',
        eventId,
        '--database-url',
        db.url,
        '--json',
      ]);
      expect(result.code).toBe(0);
      expect(JSON.parse(result.stdout).scheduled).toBeGreaterThanOrEqual(1);
      await waitFor(
        () => app.get(Counter).runs.filter((id) => id === eventId).length === 2,
        15_000,
        'the replayed run',
      );
    });

    it('exit codes: 1 for an unknown delivery, 2 for a usage error', async () => {
      const unknown = await runCli([
        'events',
        'redrive',
        `${eventId}:nobody`,
        '--database-url',
        db.url,
      ]);
      expect(unknown.code).toBe(1);
      expect(unknown.stderr).toContain('No dead or done delivery');
      const usage = await runCli(['send', 'provisioning.start', '--secret', 'x']);
      expect(usage.code).toBe(2);
      expect(usage.stderr).toContain("required option '--url <url>' not specified");
      // A misspelt status is not an empty list (the status is "quarantined").
      const typo = await runCli([
        'events',
        'list',
        '--status',
        'quarantine',
        '--database-url',
        db.url,
      ]);
      expect({ code: typo.code, stdout: typo.stdout }).toEqual({ code: 2, stdout: '' });
      expect(typo.stderr).toContain("option '--status <status>' argument 'quarantine' is invalid");
      const since = await runCli([
        'events',
        'list',
        '--since',
        'March 1',
        '--database-url',
        db.url,
      ]);
      expect(since.code).toBe(2);
      expect(since.stderr).toContain('--since must be an ISO 8601 date');
    });
  });

  describe('access', () => {
    const DAY = 24 * 60 * 60 * 1000;
    const start = new Date(Date.now() - DAY);
    const end = new Date(start.getTime() + 30 * DAY);
    const grace = new Date(end.getTime() + 7 * DAY);
    let app: INestApplication;

    beforeAll(async () => {
      app = await createTestApp({
        databaseUrl: db.url,
        aqueduct: { secrets: ['cli-access-secret'], dispatch: { pollIntervalMs: 100 } },
      });
      await postAccepted(
        app,
        provisioningStartEvent({
          customerId: 'owner_access_cli',
          productId: 'prod_pro',
          invoiceId: 'inv_access_cli',
          startDate: start.toISOString(),
          endDate: end.toISOString(),
          contractStartDate: start.toISOString(),
          contractEndDate: end.toISOString(),
          gracePeriodEndDate: grace.toISOString(),
          provisioningOrgs: [
            {
              // A sender's escape sequence: it must not reach the terminal.
              name: 'Acme\u001b[31m Inc.\u009b',
              users: [
                { name: 'Ada Lovelace', email: 'ada@acme.test' },
                { name: 'Alan Turing', email: 'alan@acme.test' },
              ],
            },
          ],
        }),
        'cli-access-secret',
      );
      await deliveriesSettled(app);
    });
    afterAll(async () => app?.close());

    it('show says a renewal back to back with the current period is ahead', async () => {
      for (const [invoiceId, from, until] of [
        ['inv_renewing_1', start, end],
        ['inv_renewing_2', end, new Date(end.getTime() + 30 * DAY)],
      ] as const) {
        await postAccepted(
          app,
          provisioningStartEvent({
            customerId: 'owner_renewing_cli',
            invoiceId,
            startDate: from.toISOString(),
            endDate: until.toISOString(),
          }),
          'cli-access-secret',
        );
      }
      await deliveriesSettled(app);
      const result = await runCli([
        'access',
        'show',
        'owner_renewing_cli',
        '--database-url',
        db.url,
      ]);
      expect(result.stdout).toMatch(/renewal ahead\s+yes/);
    });

    it('show says a deprovision is waiting while a loss learned late settles', async () => {
      // A cancellation dated three hours back arrives now: checks refuse at once, the adapter is
      // told only once the loss has settled (settleMs from its arrival: a renewal may follow it).
      const customerId = 'owner_settling_cli';
      const period = {
        customerId,
        invoiceId: 'inv_settling_cli',
        startDate: start.toISOString(),
        endDate: end.toISOString(),
        gracePeriodEndDate: null as unknown as string, // no grace period: Aqueduct sends null
      };
      await postAccepted(app, provisioningStartEvent(period), 'cli-access-secret');
      await deliveriesSettled(app);
      const ended = new Date(Date.now() - 3 * 3_600_000).toISOString();
      await postAccepted(
        app,
        provisioningEndEvent({ ...period, endDate: ended }),
        'cli-access-secret',
      );
      await deliveriesSettled(app);
      const result = await runCli(['access', 'show', customerId, '--database-url', db.url]);
      expect(result.stdout).toMatch(/access no/);
      expect(result.stdout).toMatch(
        /provisioned\s+yes \(the loss settles: deprovision due at \d{4}-\d\d-\d\dT[\d:.]+Z, or cancelled by a renewal before\)/,
      );
    });

    it("show prints each product's status, dates, timeline and provisionings, without the users' emails", async () => {
      const result = await runCli(['access', 'show', 'owner_access_cli', '--database-url', db.url]);
      expect(result.code).toBe(0);
      expect(result.stdout).toContain('customer owner_access_cli');
      expect(result.stdout).toMatch(/prod_pro\s+active\s+access yes/);
      expect(result.stdout).toMatch(new RegExp(`since\\s+${start.toISOString()}`));
      expect(result.stdout).toMatch(new RegExp(`paid until\\s+${end.toISOString()}`));
      expect(result.stdout).toMatch(new RegExp(`access until\\s+${grace.toISOString()}`));
      expect(result.stdout).toMatch(new RegExp(`next change\\s+${end.toISOString()}`));
      // The sender's control characters shown escaped, visible, never sent to the terminal raw.
      expect(result.stdout).toMatch(/orgs\s+1 \(Acme\\u001b\[31m Inc\.\\u009b\)/);
      expect(result.stdout).toMatch(/users\s+2/);
      expect(result.stdout).toMatch(/renewal ahead\s+no/);
      expect(result.stdout).toMatch(
        new RegExp(`${start.toISOString()}\\s+${end.toISOString()}\\s+active\\s+<- now`),
      );
      expect(result.stdout).toMatch(
        new RegExp(`${end.toISOString()}\\s+${grace.toISOString()}\\s+grace`),
      );
      expect(result.stdout).toMatch(/inv_access_cli/);
      expect(result.stdout).toMatch(/provisioning\.start \d{4}-\d\d-\d\dT/);
      expect(result.stdout).not.toContain('@acme.test');
      expect(result.stdout).not.toContain('Ada Lovelace');
      const controls = [...result.stdout].filter((c) => {
        const code = c.charCodeAt(0);
        return (code < 0x20 && c !== '\n') || (code >= 0x7f && code <= 0x9f);
      });
      expect(controls).toEqual([]);
    });

    it('show --json: { customerId, at, entitlements, provisionings }, orgs with user counts only', async () => {
      const at = new Date(end.getTime() + DAY).toISOString();
      const result = await runCli([
        'access',
        'show',
        'owner_access_cli',
        '--product',
        'prod_pro',
        '--at',
        at,
        '--database-url',
        db.url,
        '--json',
      ]);
      expect(result.code).toBe(0);
      const answer = JSON.parse(result.stdout);
      expect(Object.keys(answer).sort()).toEqual([
        'at',
        'customerId',
        'entitlements',
        'provisionings',
      ]);
      expect(answer).toMatchObject({
        customerId: 'owner_access_cli',
        at,
        entitlements: [
          {
            customerId: 'owner_access_cli',
            productId: 'prod_pro',
            status: 'grace',
            hasAccess: true,
            since: start.toISOString(),
            paidUntil: end.toISOString(),
            accessUntil: grace.toISOString(),
            changesAt: grace.toISOString(),
            orgs: [{ name: 'Acme\u001b[31m Inc.\u009b', users: 2 }],
            timeline: [
              { from: start.toISOString(), until: end.toISOString(), status: 'active' },
              { from: end.toISOString(), until: grace.toISOString(), status: 'grace' },
            ],
          },
        ],
        provisionings: [
          {
            customerId: 'owner_access_cli',
            productId: 'prod_pro',
            invoiceId: 'inv_access_cli',
            startDate: start.toISOString(),
            endDate: end.toISOString(),
            accessUntil: grace.toISOString(),
            lastEventType: 'provisioning.start',
          },
        ],
      });
      expect(result.stdout).not.toContain('@acme.test');
      // The C1 control comes through escaped, so the JSON is safe to print to a terminal.
      expect(result.stdout).toContain('\\u009b');
      expect(result.stdout).not.toMatch(/[\u007f-\u009f]/);
    });

    it('check: exit 0 with access, 1 without (another product, or after the grace period)', async () => {
      const yes = await runCli([
        'access',
        'check',
        'owner_access_cli',
        'prod_pro',
        '--database-url',
        db.url,
      ]);
      expect(yes).toMatchObject({ code: 0 });
      expect(yes.stdout.trim()).toBe(`access (active, until ${grace.toISOString()})`);

      const other = await runCli([
        'access',
        'check',
        'owner_access_cli',
        'prod_other',
        '--database-url',
        db.url,
      ]);
      expect(other.code).toBe(1);
      expect(other.stdout.trim()).toBe('no access (none recorded)');

      const later = await runCli([
        'access',
        'check',
        'owner_access_cli',
        'prod_pro',
        '--at',
        new Date(grace.getTime() + DAY).toISOString(),
        '--database-url',
        db.url,
        '--json',
      ]);
      expect(later.code).toBe(1);
      expect(JSON.parse(later.stdout)).toMatchObject({
        hasAccess: false,
        status: 'expired',
        until: grace.toISOString(),
      });
    });

    it("check and show read the renewal window with the app's settleMs (--settle-ms, AQUEDUCT_SETTLE_MS)", async () => {
      // A trial without grace that ended ten minutes ago: by default its renewal window (75 min)
      // still holds it; an app with settleMs 0 refuses it, and the CLI must say what the app says.
      const trialEnd = new Date(Date.now() - 10 * 60_000);
      const trialStart = new Date(trialEnd.getTime() - 14 * DAY);
      await postAccepted(
        app,
        provisioningStartEvent({
          customerId: 'owner_trial_cli',
          productId: 'prod_pro',
          invoiceId: null,
          startDate: trialStart.toISOString(),
          endDate: trialEnd.toISOString(),
          contractStartDate: trialStart.toISOString(),
          contractEndDate: trialEnd.toISOString(),
          gracePeriodEndDate: trialEnd.toISOString(), // none: it ends with the paid period
          provisioningOrgs: [{ name: 'Trial', users: [{ name: 'Ada', email: 'ada@trial.test' }] }],
        }),
        'cli-access-secret',
      );
      await deliveriesSettled(app);
      const check = (args: string[], env: Record<string, string> = {}) =>
        runCli(
          ['access', 'check', 'owner_trial_cli', 'prod_pro', ...args, '--database-url', db.url],
          env,
        );
      const held = await check([]);
      expect(held.code).toBe(0);
      expect(held.stdout.trim()).toBe(
        `access (grace, until ${new Date(trialEnd.getTime() + 75 * 60_000).toISOString()})`,
      );
      for (const cut of [
        await check(['--settle-ms', '0']),
        await check([], { AQUEDUCT_SETTLE_MS: '0' }),
      ]) {
        expect(cut.code).toBe(1);
        expect(cut.stdout.trim()).toBe(`no access (expired, until ${trialEnd.toISOString()})`);
      }
      // Once the renewal window is over, it ended when the window did, as the app's checks held it.
      const windowEnd = new Date(trialEnd.getTime() + 75 * 60_000);
      const after = await check(['--at', new Date(windowEnd.getTime() + 60_000).toISOString()]);
      expect(after.stdout.trim()).toBe(`no access (expired, until ${windowEnd.toISOString()})`);
      const shown = await runCli([
        'access',
        'show',
        'owner_trial_cli',
        '--settle-ms',
        '0',
        '--database-url',
        db.url,
      ]);
      expect(shown.stdout).toMatch(/prod_pro\s+expired\s+access no/);
      const bad = await check(['--settle-ms', 'an hour']);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toContain('--settle-ms must be an integer number of ms >= 0');
    });

    it('check: a provisioning waiting for its payment says so', async () => {
      const own = await createTestDatabase();
      const paying = await createTestApp({
        databaseUrl: own.url,
        aqueduct: {
          secrets: ['cli-access-secret'],
          access: { requirePayment: true },
          expiry: { enabled: false },
          dispatch: { pollIntervalMs: 100 },
        },
      });
      try {
        await postAccepted(
          paying,
          provisioningStartEvent({ customerId: 'owner_unpaid_cli', invoiceId: 'inv_unpaid_cli' }),
          'cli-access-secret',
        );
        await deliveriesSettled(paying);
        const result = await runCli([
          'access',
          'check',
          'owner_unpaid_cli',
          'prod_pro',
          '--database-url',
          own.url,
        ]);
        expect([result.code, result.stdout.trim()]).toEqual([
          1,
          'no access (scheduled, awaiting payment)',
        ]);
      } finally {
        await paying.close();
        await own.drop();
      }
    });

    it('exit codes: 2 for a bad --at, 1 for an unknown customer', async () => {
      const badAt = await runCli([
        'access',
        'check',
        'owner_access_cli',
        'prod_pro',
        '--at',
        'next tuesday',
        '--database-url',
        db.url,
      ]);
      expect(badAt.code).toBe(2);
      expect(badAt.stderr).toContain('--at must be an ISO 8601 date');

      const unknown = await runCli(['access', 'show', 'owner_nobody', '--database-url', db.url]);
      expect(unknown.code).toBe(1);
      expect(unknown.stderr).toContain('no access recorded for customer owner_nobody');
    });
  });

  describe('endpoints', () => {
    let server: Server;
    let apiUrl: string;
    const seen: { method: string; path: string; headers: Record<string, unknown>; body: string }[] =
      [];

    beforeAll(async () => {
      // Plays Aqueduct's API: the first POST fails with a 500, the retry succeeds.
      server = createServer((req, res) => {
        let body = '';
        req.on('data', (chunk) => (body += chunk));
        req.on('end', () => {
          seen.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers, body });
          res.setHeader('content-type', 'application/json');
          if (req.method === 'POST' && seen.filter((s) => s.method === 'POST').length === 1) {
            res.statusCode = 500;
            return res.end('{"message":"temporary failure"}');
          }
          const created = {
            id: 'web_123',
            url: 'https://app.example.com/webhooks/aqueduct',
            enabledEvents: ['provisioning_start', 'provisioning_end'],
            createdAt: '2026-11-22T10:00:00Z',
            secret: 's3cret',
          };
          res.end(JSON.stringify(req.method === 'POST' ? created : { data: [created] }));
        });
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      apiUrl = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    });
    afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

    it('register sends the right request with an Idempotency-Key, retries a 500 once with the same key', async () => {
      const result = await runCli([
        'endpoints',
        'register',
        '--api-key',
        'ak_test_123',
        '--api-url',
        apiUrl,
        '--url',
        'https://app.example.com/webhooks/aqueduct',
        '--secret',
        's3cret',
        '--events',
        'provisioning.start,provisioning_end',
        '--json',
      ]);
      expect(result.code).toBe(0);
      expect(JSON.parse(result.stdout)).toMatchObject({
        id: 'web_123',
        enabledEvents: ['provisioning.start', 'provisioning.end'],
      });
      expect(result.stdout).not.toContain('s3cret'); // the secret is not echoed back
      const posts = seen.filter((s) => s.method === 'POST');
      expect(posts).toHaveLength(2);
      for (const post of posts) {
        expect(post.path).toBe('/v1/webhookendpoints');
        expect(post.headers.authorization).toBe('Api-Key ak_test_123');
        expect(post.headers['content-type']).toContain('application/json');
        expect(JSON.parse(post.body)).toEqual({
          url: 'https://app.example.com/webhooks/aqueduct',
          enabledEvents: ['provisioning_start', 'provisioning_end'],
          secret: 's3cret',
        });
      }
      expect(posts[0].headers['idempotency-key']).toMatch(/^[0-9a-f-]{36}$/);
      expect(posts[1].headers['idempotency-key']).toBe(posts[0].headers['idempotency-key']);
    });

    it('list prints the endpoints', async () => {
      const result = await runCli([
        'endpoints',
        'list',
        '--api-key',
        'ak_test_123',
        '--api-url',
        apiUrl,
      ]);
      expect(result.code).toBe(0);
      expect(result.stdout).toContain('web_123');
      expect(result.stdout).toContain('provisioning.start');
    });
  });
});
