import { Injectable, type INestApplication } from '@nestjs/common';
import { OnAqueductEvent } from 'nestjs-aqueduct';
import { invoicePaidEvent, provisioningStartEvent } from 'nestjs-aqueduct/testing';
import { DataSource } from 'typeorm';
import { createTestApp } from './support/app';
import { postAccepted } from './support/post';
import { deliveriesSettled, period } from './support/subscription';
import { useTestDatabase } from './support/use-test-database';
import { waitFor } from './support/wait';

const SECRET = 'fast-path-secret';

@Injectable()
class PaidListener {
  @OnAqueductEvent('invoice.paid', { name: 'paid' })
  onPaid(): void {}
}

@Injectable()
class StartedListener {
  @OnAqueductEvent('access.started', { name: 'started' })
  onStarted(): void {}
}

/**
 * The fast path leases an event's deliveries to the receiving instance in the insert itself, so
 * such a delivery starts in the statement that created it (`started_at = created_at`: one
 * transaction, one now()). Claimed deliveries start in a later transaction.
 */
describe('dispatch.localBacklogPerSlot: the fast path, and turning it off', () => {
  const db = useTestDatabase();
  let app: INestApplication | undefined;

  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  async function deliveryOf(options: { localBacklogPerSlot?: number }) {
    app = await createTestApp({
      databaseUrl: db.url,
      aqueduct: {
        secrets: [SECRET],
        verification: { scheme: 'shared-secret' },
        ledger: false,
        dispatch: { pollIntervalMs: 50, ...options },
      },
      imports: [{ module: class PaidListenerModule {}, providers: [PaidListener] }],
    });
    const id = await postAccepted(app, invoicePaidEvent(), SECRET);
    const dataSource = app.get(DataSource);
    return waitFor(
      async () => {
        const [row] = await dataSource.query(
          `SELECT state, attempts, started_at = created_at AS started_in_insert
             FROM aqueduct_deliveries WHERE event_id = $1 AND listener = 'paid'`,
          [id],
        );
        return row?.state === 'done' ? row : undefined;
      },
      10_000,
      'the delivery to be done',
    );
  }

  it('by default, runs the delivery leased in the insert (no claim)', async () => {
    expect(await deliveryOf({})).toEqual({ state: 'done', attempts: 1, started_in_insert: true });
  });

  it('with 0, stores the delivery pending and runs it through a claim', async () => {
    expect(await deliveryOf({ localBacklogPerSlot: 0 })).toEqual({
      state: 'done',
      attempts: 1,
      started_in_insert: false,
    });
  });

  /**
   * The ledger's own `access.*` events take the same path: the instance whose ledger transaction
   * wrote them runs their deliveries right after its commit, instead of waiting for a claim.
   */
  async function accessStartedDeliveryOf(options: { localBacklogPerSlot?: number }) {
    app = await createTestApp({
      databaseUrl: db.url,
      aqueduct: {
        secrets: [SECRET],
        verification: { scheme: 'shared-secret' },
        dispatch: { pollIntervalMs: 50, ...options },
      },
      imports: [{ module: class StartedListenerModule {}, providers: [StartedListener] }],
    });
    const start = provisioningStartEvent();
    await postAccepted(app, start, SECRET);
    const dataSource = app.get(DataSource);
    return waitFor(
      async () => {
        const [row] = await dataSource.query(
          `SELECT d.state, d.attempts, d.started_at = d.created_at AS started_in_insert
             FROM aqueduct_deliveries d JOIN aqueduct_events e ON e.id = d.event_id
            WHERE e.type = 'access.started' AND d.listener = 'started'
              AND e.payload->'object'->>'customerId' = $1`,
          [start.object.customerId],
        );
        return row?.state === 'done' ? row : undefined;
      },
      10_000,
      'the access.started delivery to be done',
    );
  }

  it("runs the ledger's access.* deliveries leased in its transaction (no claim)", async () => {
    expect(await accessStartedDeliveryOf({})).toEqual({
      state: 'done',
      attempts: 1,
      started_in_insert: true,
    });
  });

  /**
   * A body without `createdAt` is stored with its arrival time, which orders it in the ledger. The
   * fast path handed the listeners the body's missing date instead, and the ledger ordered such
   * events as 1970: every later update looked no newer than the first and was dropped.
   */
  it.each<[string, { localBacklogPerSlot?: number }]>([
    ['the fast path', {}],
    ['a claim', { localBacklogPerSlot: 0 }],
  ])(
    'events without createdAt are ordered by their arrival, through %s',
    async (_path, options) => {
      app = await createTestApp({
        databaseUrl: db.url,
        aqueduct: {
          secrets: [SECRET],
          verification: { scheme: 'shared-secret' },
          dispatch: { pollIntervalMs: 50, ...options },
        },
      });
      const customerId = `owner_undated_${options.localBacklogPerSlot ?? 'fast'}`;
      const users: [string, string][] = [['Ada', 'ada@undated.test']];
      const object = () => period(customerId, { start: new Date(), users: [...users] });
      for (const user of [undefined, ['Bob', 'bob@undated.test'], ['Cy', 'cy@undated.test']]) {
        if (user) {
          users.push(user as [string, string]);
        }
        const type = user ? 'provisioning.update' : 'provisioning.start';
        await postAccepted(app, { type, object: object() }, SECRET);
        await deliveriesSettled(app);
      }
      const dataSource = app.get(DataSource);
      const [provisioning] = await dataSource.query(
        `SELECT p.orgs, p.last_event_at = e.created_at AS ordered_as_stored
         FROM aqueduct_provisionings p JOIN aqueduct_events e ON e.id = p.last_event_id
        WHERE p.customer_id = $1`,
        [customerId],
      );
      expect(provisioning.orgs[0].users.map((u: { email: string }) => u.email)).toEqual([
        'ada@undated.test',
        'bob@undated.test',
        'cy@undated.test',
      ]);
      expect(provisioning.ordered_as_stored).toBe(true);
    },
  );

  it("with 0, stores the ledger's access.* deliveries pending for a claim", async () => {
    expect(await accessStartedDeliveryOf({ localBacklogPerSlot: 0 })).toEqual({
      state: 'done',
      attempts: 1,
      started_in_insert: false,
    });
  });
});
