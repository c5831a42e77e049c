import { Injectable, type INestApplication } from '@nestjs/common';
import {
  AqueductAccessService,
  ExpiryJob,
  type ProvisioningAdapter,
  type ProvisioningGrant,
  aqueductMigrations,
} from 'nestjs-aqueduct';
import { provisioningStartEvent } from 'nestjs-aqueduct/testing';
import { DataSource } from 'typeorm';
import { createTestApp } from './support/app';
import { createTestDatabase, migratedTo, type TestDatabase } from './support/database';
import { postAccepted } from './support/post';
import { deliveriesSettled } from './support/subscription';
import { DAY } from './support/test-clock';

const calls: string[] = [];

@Injectable()
class RecordingAdapter implements ProvisioningAdapter {
  provision(grant: ProvisioningGrant) {
    calls.push(`provision ${grant.customerId}`);
  }
  update(grant: ProvisioningGrant) {
    calls.push(`update ${grant.customerId}`);
  }
  deprovision(grant: ProvisioningGrant) {
    calls.push(`deprovision ${grant.customerId}`);
  }
}

const ORGS = [{ name: 'Acme', users: [{ name: 'Ada', email: 'ada@acme.test' }] }];
/** The migrations of 0.1, before access moved to one row per (customer, product). */
const SPLIT_AT = 1763800006000;
const SHIPPED_IN_0_1 = aqueductMigrations.filter((m) => Number(m.name.slice(-13)) < SPLIT_AT);

/**
 * A 0.1 ledger (one `aqueduct_entitlements` row per provisioning, keyed by subscription) carried
 * over by the new migration: the keys, the access per customer and product, what was announced
 * and what the adapter was told; then the first sweep changes only what is really due.
 */
describe('Migration: the 0.1 ledger carried over to provisionings and access', () => {
  let db: TestDatabase;
  let app: INestApplication;
  const now = Date.now();
  const at = (days: number) => new Date(now + days * DAY);

  beforeAll(async () => {
    db = await createTestDatabase();
    const old = await migratedTo(db.url, SHIPPED_IN_0_1);
    const row = (
      key: string,
      customer: string,
      fields: {
        invoice?: string | null;
        start: number;
        end: number;
        grace?: number;
        status: string;
        provisioned: boolean;
      },
    ) =>
      old.query(
        `INSERT INTO aqueduct_entitlements
           (key, customer_id, product_id, subscription_id, invoice_id, start_date, end_date,
            grace_period_end_date, access_until, orgs, status, next_transition_at, last_event_type,
            last_event_at, last_event_rank, provisioned, provisioned_orgs)
         VALUES ($1, $2, 'prod_pro', 'sub_' || $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $7,
                 'provisioning.start', $4, 0, $10, $11::jsonb)`,
        [
          key,
          customer,
          fields.invoice === undefined ? `inv_${key.length}` : fields.invoice,
          at(fields.start),
          at(fields.end),
          fields.grace === undefined ? null : at(fields.grace),
          at(fields.grace ?? fields.end),
          JSON.stringify(ORGS),
          fields.status,
          fields.provisioned,
          fields.provisioned ? JSON.stringify(ORGS) : null,
        ],
      );
    // Active and provisioned: nothing should happen to it.
    await row('owner_steady:prod_pro:sub:sub_owner_steady', 'owner_steady', {
      invoice: 'inv_steady',
      start: -10,
      end: 20,
      grace: 27,
      status: 'active',
      provisioned: true,
    });
    // A renewal with provisioning ids: period 1 in its grace, period 2 paid; both provisioned.
    await row('id:prov_1', 'owner_renewed', {
      start: -32,
      end: -2,
      grace: 5,
      status: 'grace',
      provisioned: true,
    });
    await row('id:prov_2', 'owner_renewed', {
      start: -2,
      end: 28,
      grace: 35,
      status: 'active',
      provisioned: true,
    });
    // Long expired and deprovisioned.
    await row('owner_gone:prod_pro:sub:sub_owner_gone', 'owner_gone', {
      start: -90,
      end: -60,
      grace: -53,
      status: 'expired',
      provisioned: false,
    });
    // Without an invoice: keyed by its period now.
    await row('owner_trial:prod_pro:sub:sub_owner_trial', 'owner_trial', {
      invoice: null,
      start: -3,
      end: 11,
      status: 'active',
      provisioned: true,
    });
    // Its grace ended yesterday, but no sweep ran since: still provisioned.
    await row('owner_due:prod_pro:sub:sub_owner_due', 'owner_due', {
      start: -38,
      end: -8,
      grace: -1,
      status: 'grace',
      provisioned: true,
    });
    await old.destroy();

    app = await createTestApp({
      databaseUrl: db.url,
      aqueduct: {
        secrets: ['migration'],
        provisioningAdapter: RecordingAdapter,
        expiry: { enabled: false },
        dispatch: { pollIntervalMs: 50 },
      },
      imports: [{ module: class AdapterModule {}, providers: [RecordingAdapter] }],
    });
  });
  afterAll(async () => {
    await app?.close();
    await db?.drop();
  });

  it('rekeys the provisionings: id, else invoice, else period', async () => {
    const rows: { key: string; provisioning_id: string | null }[] = await app
      .get(DataSource)
      .query(`SELECT key, provisioning_id FROM aqueduct_provisionings ORDER BY key COLLATE "C"`);
    const trialStart = at(-3).getTime();
    expect(rows).toEqual([
      { key: 'id:prov_1', provisioning_id: 'prov_1' },
      { key: 'id:prov_2', provisioning_id: 'prov_2' },
      { key: expect.stringMatching(/^invoice:owner_due:prod_pro:inv_/), provisioning_id: null },
      { key: expect.stringMatching(/^invoice:owner_gone:prod_pro:inv_/), provisioning_id: null },
      { key: 'invoice:owner_steady:prod_pro:inv_steady', provisioning_id: null },
      {
        key: `period:owner_trial:prod_pro:sub_owner_trial:${trialStart}`,
        provisioning_id: null,
      },
    ]);
  });

  it('answers access checks right from the first request, before any sweep', async () => {
    const access = app.get(AqueductAccessService);
    expect(await access.hasAccess('owner_steady', 'prod_pro')).toBe(true);
    expect(await access.hasAccess('owner_renewed', 'prod_pro', at(30))).toBe(true);
    expect(await access.hasAccess('owner_renewed', 'prod_pro', at(35))).toBe(false);
    expect(await access.hasAccess('owner_gone', 'prod_pro')).toBe(false);
    expect(await access.hasAccess('owner_trial', 'prod_pro')).toBe(true);
    expect(await access.hasAccess('owner_due', 'prod_pro')).toBe(false);
    expect(await access.getEntitlement('owner_renewed', 'prod_pro')).toMatchObject({
      status: 'active',
      since: at(-32),
      accessUntil: at(35),
      provisioned: true,
    });
  });

  it('the first sweep changes only what is due: the expired one is deprovisioned, nobody else hears anything', async () => {
    await app.get(ExpiryJob).sweep();
    await deliveriesSettled(app);
    expect(calls).toEqual(['deprovision owner_due']);
    const events: { type: string; customer: string }[] = await app
      .get(DataSource)
      .query(
        `SELECT type, payload->'object'->>'customerId' AS customer FROM aqueduct_events ORDER BY customer`,
      );
    expect(events).toEqual([{ type: 'access.expired', customer: 'owner_due' }]);
    expect((await app.get(ExpiryJob).sweep()).evaluated).toBe(0);
  });
});

/**
 * 0.7's payments, one per invoice id, carried over by KeyAqueductInvoicePaymentsByCustomer: they
 * named no customer, so each still pays every provisioning of its invoice id.
 */
describe('Migration: payments recorded before they were kept per customer', () => {
  let db: TestDatabase;
  let app: INestApplication;

  beforeAll(async () => {
    db = await createTestDatabase();
    const old = await migratedTo(db.url, aqueductMigrations.slice(0, -1));
    await old.query(
      `INSERT INTO aqueduct_invoice_payments (invoice_id, paid_at) VALUES ('inv_07', $1)`,
      [new Date(Date.now() - DAY)],
    );
    await old.destroy();
    app = await createTestApp({
      databaseUrl: db.url,
      aqueduct: {
        secrets: ['migration-secret'],
        access: { requirePayment: true },
        expiry: { enabled: false },
        dispatch: { pollIntervalMs: 50 },
      },
    });
  });
  afterAll(async () => {
    await app?.close();
    await db?.drop();
  });

  it('keeps each as a payment naming no customer: every provisioning of its invoice is paid', async () => {
    for (const customerId of ['owner_paid_07_a', 'owner_paid_07_b']) {
      await postAccepted(
        app,
        provisioningStartEvent({ customerId, invoiceId: 'inv_07' }),
        'migration-secret',
      );
    }
    await deliveriesSettled(app);
    const access = app.get(AqueductAccessService);
    expect(await access.hasAccess('owner_paid_07_a', 'prod_pro')).toBe(true);
    expect(await access.hasAccess('owner_paid_07_b', 'prod_pro')).toBe(true);
    expect(
      await app
        .get(DataSource)
        .query(`SELECT invoice_id, customer_id FROM aqueduct_invoice_payments`),
    ).toEqual([{ invoice_id: 'inv_07', customer_id: '' }]);
  });
});
