/**
 * The welcome mail waits for the host's provisioning adapter: only users it provisioned are
 * welcomed, never one removed (or whose access ended) while it ran, and the other mails of the
 * delivery do not wait for it. Real HTTP, real Postgres, real SMTP.
 */
import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { provisioningStartEvent, signAqueductRequest } from 'nestjs-aqueduct/testing';
import request from 'supertest';
import {
  AqueductEventsService,
  AqueductHealthIndicator,
  ExpiryJob,
  type ProvisioningAdapter,
  type ProvisioningGrant,
} from 'nestjs-aqueduct';
import { DataSource } from 'typeorm';
import { postAccepted } from './support/post';
import { TestSmtpServer } from './support/smtp';
import {
  accessEvents,
  deliveriesSettled,
  domainOf,
  envelope,
  period,
} from './support/subscription';
import { TestClock, T0, at } from './support/test-clock';
import { useTestApp } from './support/use-test-app';
import { waitFor } from './support/wait';

const SECRET = 'welcome-mail-secret';

interface Call {
  action: 'provision' | 'deprovision' | 'update';
  customerId: string;
  emails: string[];
  done?: number;
}
const calls: Call[] = [];
/** Customers whose adapter calls wait for `release()`. */
const gated = new Set<string>();
/** Customers whose adapter calls (of these actions) throw. */
const failing = new Map<string, Set<Call['action']>>();
let opened: Promise<void> = Promise.resolve();
const releasers: (() => void)[] = [];
const release = () => releasers.splice(0).forEach((r) => r());
function closeGate() {
  opened = new Promise<void>((resolve) => releasers.push(resolve));
}
afterEach(() => release());

@Injectable()
class GatedAccounts implements ProvisioningAdapter {
  private async run(action: Call['action'], grant: ProvisioningGrant) {
    const call: Call = {
      action,
      customerId: grant.customerId,
      emails: grant.orgs.flatMap((org) => org.users.map((u) => String(u.email))),
    };
    calls.push(call);
    if (gated.has(grant.customerId)) {
      await opened;
    }
    if (failing.get(grant.customerId)?.has(action)) {
      throw new Error(`the user service refuses ${action}`);
    }
    call.done = Date.now();
  }
  provision(grant: ProvisioningGrant) {
    return this.run('provision', grant);
  }
  deprovision(grant: ProvisioningGrant) {
    return this.run('deprovision', grant);
  }
  update(grant: ProvisioningGrant) {
    return this.run('update', grant);
  }
}

const mine = (c: string) => calls.filter((call) => call.customerId === c);

describe('The welcome mail waiting for the adapter', () => {
  const clock = new TestClock(T0);
  const smtp = new TestSmtpServer();
  const host = useTestApp(
    () => ({
      clock,
      aqueduct: {
        secrets: [SECRET],
        provisioningAdapter: GatedAccounts,
        expiry: { enabled: false },
        dispatch: {
          maxAttempts: 3,
          pollIntervalMs: 50,
          retryBaseDelayMs: 50,
          retryMaxDelayMs: 100,
        },
        email: {
          transport: smtp.transport,
          from: 'Billing <billing@acme.test>',
          mails: { 'access-renewed': true },
        },
      },
      imports: [{ module: class GatedModule {}, providers: [GatedAccounts] }],
    }),
    { servers: [smtp] },
  );
  beforeEach(() => clock.set(T0));

  const send = (type: string, object: unknown, createdAt: Date) =>
    postAccepted(host.app, envelope(type, object, createdAt), SECRET);
  const mailsTo = (address: string) => smtp.to(address).map((m) => m.subject);
  const announced = (c: string, type: string) =>
    waitFor(async () => (await accessEvents(host.app, c)).includes(type), 15_000, type);
  /** The host's user service answers after a second (the mail had all that time to go out). */
  const releaseAfterASecond = async (c: string) => {
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    release();
    await deliveriesSettled(host.app, 20_000);
    gated.delete(c);
  };
  const db = () => host.app.get(DataSource);

  it('an access that ends while the welcome waits for the adapter: the removed user is not welcomed afterwards', async () => {
    const c = 'owner_gone';
    const ada = `ada@${domainOf(c)}`;
    const p = period(c, { start: at(0), users: [['Ada', ada]] });
    gated.add(c);
    closeGate();
    await send('provisioning.start', p, at(0));
    // The provision call is running (held by the host's slow user service).
    await waitFor(() => mine(c).length > 0, 15_000, 'the provision call');
    // The customer cancels at once (refund): an end with its grace over, then the job's sweep
    // once the loss has settled announces access.expired.
    clock.set(at(0, 1));
    await send(
      'provisioning.end',
      { ...p, endDate: at(0, 1).toISOString(), gracePeriodEndDate: at(0, 1).toISOString() },
      at(0, 1),
    );
    await waitFor(
      async () =>
        (
          await db().query(
            `SELECT 1 FROM aqueduct_access WHERE customer_id = $1 AND loss_observed_at IS NOT NULL`,
            [c],
          )
        ).length > 0,
      15_000,
      'the end applied',
    );
    clock.set(at(0, 90));
    await host.app.get(ExpiryJob).sweep();
    await announced(c, 'access.expired');
    await releaseAfterASecond(c);
    const actions = mine(c).map((call) => call.action);
    expect(actions).toEqual(['provision', 'deprovision']);
    const deprovisioned = mine(c).find((call) => call.action === 'deprovision')!.done!;
    const welcome = smtp.to(ada).filter((m) => m.subject.includes('has started'));
    // Expected: Ada is never told her access started after it was removed.
    expect({
      welcomesAfterDeprovision: welcome.filter((m) => m.receivedAt >= deprovisioned).length,
      adaMailsInOrder: mailsTo(ada),
      lastMail: mailsTo(ada).at(-1),
    }).toMatchObject({
      welcomesAfterDeprovision: 0,
      lastMail: 'Your access to prod_pro has ended',
    });
  });

  it('a user removed while the welcome waits for the adapter: not welcomed into the account just removed', async () => {
    const c = 'owner_bob';
    const ada = `ada@${domainOf(c)}`;
    const bob = `bob@${domainOf(c)}`;
    const p = period(c, {
      start: at(0),
      users: [
        ['Ada', ada],
        ['Bob', bob],
      ],
    });
    gated.add(c);
    closeGate();
    await send('provisioning.start', p, at(0));
    await waitFor(() => mine(c).length > 0, 15_000, 'the provision call');
    // Bob leaves the org before the provision finished: an update naming Ada only.
    await send(
      'provisioning.update',
      { ...p, provisioningOrgs: { name: 'Acme', users: [{ name: 'Ada', email: ada }] } },
      at(0),
    );
    await announced(c, 'access.changed');
    await releaseAfterASecond(c);
    const last = mine(c).at(-1)!;
    expect(last.emails).toEqual([ada]); // the adapter ends with Ada only: Bob removed
    const removedAt = last.done!;
    const bobWelcomes = smtp.to(bob).filter((m) => m.subject.includes('has started'));
    expect({
      bobWelcomedAfterRemoval: bobWelcomes.filter((m) => m.receivedAt >= removedAt).length,
      bobMails: mailsTo(bob),
    }).toMatchObject({ bobWelcomedAfterRemoval: 0 });
  });

  it('a user service that is down for good: no welcome, and the mail waits with the adapter', async () => {
    const c = 'owner_down';
    failing.set(c, new Set(['provision']));
    await send('provisioning.start', period(c, { start: at(0) }), at(0));
    await deliveriesSettled(host.app, 20_000);
    failing.delete(c);
    const rows = await db().query(
      `SELECT d.listener, d.state, d.last_error FROM aqueduct_deliveries d JOIN aqueduct_events e ON e.id = d.event_id
        WHERE e.type = 'access.started' AND e.payload->'object'->>'customerId' = $1 ORDER BY 1`,
      [c],
    );
    expect(rows).toEqual([
      {
        listener: 'aqueduct.email',
        state: 'dead',
        last_error: expect.stringContaining('wait for the provisioning adapter'),
      },
      { listener: 'aqueduct.provisioning', state: 'dead', last_error: expect.any(String) },
    ]);
    expect(smtp.to(`ada@${domainOf(c)}`)).toEqual([]);
    // The adapter's own delivery retries the calls: the mail's adds at most one, on its first
    // attempt (when it got there first), and none while the adapter is down.
    const [{ attempts }] = await db().query(
      `SELECT d.attempts FROM aqueduct_deliveries d JOIN aqueduct_events e ON e.id = d.event_id
        WHERE e.type = 'access.started' AND e.payload->'object'->>'customerId' = $1
          AND d.listener = 'aqueduct.provisioning'`,
      [c],
    );
    expect(mine(c).length).toBeLessThanOrEqual(attempts + 1);
  });

  it('a renewal adding a seat while the adapter refuses updates: the users who stayed still get their renewal mail', async () => {
    const c = 'owner_renew';
    const ada = `ada@${domainOf(c)}`;
    const cy = `cy@${domainOf(c)}`;
    await send('provisioning.start', period(c, { start: at(0), users: [['Ada', ada]] }), at(0));
    await deliveriesSettled(host.app);
    expect(mailsTo(ada)).toEqual(['Your access to prod_pro has started']);
    failing.set(c, new Set(['update']));
    clock.set(at(30));
    await send(
      'provisioning.start',
      period(c, {
        start: at(30),
        users: [
          ['Ada', ada],
          ['Cy', cy],
        ],
      }),
      at(30),
    );
    await deliveriesSettled(host.app, 20_000);
    failing.delete(c);
    expect(await accessEvents(host.app, c)).toEqual(['access.started', 'access.renewed']);
    const emailState = await db().query(
      `SELECT d.state, d.last_error FROM aqueduct_deliveries d JOIN aqueduct_events e ON e.id = d.event_id
        WHERE e.type = 'access.renewed' AND e.payload->'object'->>'customerId' = $1 AND d.listener = 'aqueduct.email'`,
      [c],
    );
    // Ada's renewal mail has nothing to do with the adapter's update for Cy; Cy's welcome waits
    // for it, and dies with it (the operator is told), to be redriven once the update works.
    expect(mailsTo(ada)).toEqual([
      'Your access to prod_pro has started',
      'Your access to prod_pro was renewed',
    ]);
    expect(mailsTo(cy)).toEqual([]);
    expect(emailState).toEqual([
      {
        state: 'dead',
        last_error: expect.stringContaining('welcome mail(s) wait for the provisioning adapter'),
      },
    ]);
    await host.app.get(AqueductEventsService).redriveDead();
    await deliveriesSettled(host.app, 20_000);
    expect(mailsTo(cy)).toEqual(['Your access to prod_pro has started']);
    expect(mailsTo(ada)).toHaveLength(2);
  });
});

describe('Health with a dead delivery of a listener no longer registered', () => {
  const host = useTestApp({
    aqueduct: { secrets: [SECRET], expiry: { enabled: false }, dispatch: { pollIntervalMs: 50 } },
  });

  it('counts it, but is not degraded by it: no instance would run it again', async () => {
    const id = await postAccepted(
      host.app,
      envelope('invoice.paid', { id: 'inv_x' }, new Date()),
      SECRET,
    );
    await deliveriesSettled(host.app);
    const ds = host.app.get(DataSource);
    await ds.query(
      `INSERT INTO aqueduct_deliveries (event_id, listener, state) VALUES ($1, 'old-listener', 'dead')`,
      [id],
    );
    const health = (await host.app.get(AqueductHealthIndicator).isHealthy('aqueduct')).aqueduct;
    expect(health).toMatchObject({ state: 'healthy', dead: 1 });
  });
});

const poolProvisioned: string[] = [];

@Injectable()
class SameDatabaseAccounts implements ProvisioningAdapter {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}
  async provision(grant: ProvisioningGrant): Promise<void> {
    await this.dataSource.query('SELECT pg_sleep(0.2)');
    poolProvisioned.push(grant.customerId);
  }
  async deprovision(): Promise<void> {}
  async update(): Promise<void> {}
}

describe('Welcome mails and a slow adapter on the app’s own small pool', () => {
  const smtp = new TestSmtpServer();
  const PSECRET = `whsec_${Buffer.from('welcome-pool-secret-welcome-pool').toString('base64')}`;
  const CUSTOMERS = 24;
  const host = useTestApp(
    () => ({
      aqueduct: {
        secrets: [PSECRET],
        verification: { scheme: 'standard-webhooks' },
        provisioningAdapter: SameDatabaseAccounts,
        dispatch: { concurrency: 8, pollIntervalMs: 50 },
        expiry: { enabled: false },
        email: { transport: smtp.transport, from: 'Billing <billing@acme.test>' },
      },
      imports: [{ module: class PoolModule {}, providers: [SameDatabaseAccounts] }],
      extra: { max: 4 },
    }),
    { servers: [smtp] },
  );

  it('many new customers at once: all 2xx, each provisioned once, each welcomed once', async () => {
    const answers = await Promise.all(
      Array.from({ length: CUSTOMERS }, (_, i) => {
        const event = provisioningStartEvent({
          customerId: `cus_rpool_${i}`,
          provisioningOrgs: [{ name: 'Acme', users: [{ name: 'U', email: `u${i}@pool.test` }] }],
        });
        const { body, headers } = signAqueductRequest(event, {
          scheme: 'standard-webhooks',
          secret: PSECRET,
        });
        return request(host.app.getHttpServer()).post('/webhooks/aqueduct').set(headers).send(body);
      }),
    );
    expect(answers.map((answer) => answer.status)).toEqual(Array(CUSTOMERS).fill(200));
    await deliveriesSettled(host.app, 60_000);
    expect(poolProvisioned.length).toBe(CUSTOMERS);
    expect(new Set(poolProvisioned).size).toBe(CUSTOMERS);
    expect(smtp.received.length).toBe(CUSTOMERS);
    const retried = await host.app
      .get(DataSource)
      .query(`SELECT listener, attempts FROM aqueduct_deliveries WHERE attempts > 1`);
    expect(retried).toEqual([]);
  }, 90_000);
});
