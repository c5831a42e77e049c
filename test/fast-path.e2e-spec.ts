import { Injectable, type INestApplication } from '@nestjs/common';
import { OnAqueductEvent } from 'nestjs-aqueduct';
import { invoicePaidEvent } from 'nestjs-aqueduct/testing';
import { DataSource } from 'typeorm';
import { createTestApp } from './support/app';
import { postAccepted } from './support/post';
import { useTestDatabase } from './support/use-test-database';
import { waitFor } from './support/wait';

const SECRET = 'fast-path-secret';

@Injectable()
class PaidListener {
  @OnAqueductEvent('invoice.paid', { name: 'paid' })
  onPaid(): void {}
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
});
