import { Injectable } from '@nestjs/common';
import type { ProvisioningAdapter } from 'nestjs-aqueduct';
import { DataSource } from 'typeorm';
import { PROVISIONING_LISTENER } from '../libs/aqueduct/src/access/provisioning.listener';
import { postAccepted } from './support/post';
import { deliveriesSettled, envelope, period } from './support/subscription';
import { useTestApp } from './support/use-test-app';

const SECRET = 'delivery-finish-secret';
const T0 = new Date();

/** The host's user system; fails its next calls while `failures` is above zero. */
@Injectable()
class FlakyAdapter implements ProvisioningAdapter {
  failures = 0;
  calls = 0;
  private call() {
    this.calls++;
    if (this.failures > 0) {
      this.failures--;
      throw new Error('user service unavailable');
    }
  }
  provision() {
    this.call();
  }
  deprovision() {
    this.call();
  }
  update() {
    this.call();
  }
}

interface DeliveryRow {
  state: string;
  attempts: number;
  /** The transaction that wrote the row last. */
  xmin: string;
  outcomes: string[];
}

describe('The ledger’s deliveries commit their done with their own work (real Postgres)', () => {
  const host = useTestApp({
    aqueduct: {
      secrets: [SECRET],
      provisioningAdapter: FlakyAdapter,
      dispatch: { pollIntervalMs: 50, retryBaseDelayMs: 50, retryMaxDelayMs: 100 },
    },
    imports: [{ module: class AdapterModule {}, providers: [FlakyAdapter] }],
  });
  const db = () => host.app.get(DataSource);

  /** The ledger listener's delivery of the event `eventId`. */
  const ledgerDelivery = async (eventId: string): Promise<DeliveryRow> => {
    const [row] = await db().query(
      `SELECT state, attempts, xmin::text AS xmin,
              ARRAY(SELECT e ->> 'outcome' FROM jsonb_array_elements(attempt_log) e) AS outcomes
         FROM aqueduct_deliveries WHERE event_id = $1 AND listener = $2`,
      [eventId, PROVISIONING_LISTENER],
    );
    return row;
  };
  /** The id and writing transaction of the customer's `access.started` event. */
  const startedEvent = async (customerId: string) =>
    (
      await db().query(
        `SELECT id, xmin::text AS xmin FROM aqueduct_events
          WHERE type = 'access.started' AND payload -> 'object' ->> 'customerId' = $1`,
        [customerId],
      )
    )[0] as { id: string; xmin: string };
  const accessRowWriter = async (customerId: string) =>
    (
      await db().query(`SELECT xmin::text AS xmin FROM aqueduct_access WHERE customer_id = $1`, [
        customerId,
      ])
    )[0].xmin as string;
  const start = (customerId: string) =>
    postAccepted(
      host.app,
      envelope('provisioning.start', period(customerId, { start: T0 }), T0),
      SECRET,
    );

  it('a new customer: the ledger’s write and the adapter call’s record each carry their done', async () => {
    const eventId = await start('cus_finish_1');
    await deliveriesSettled(host.app);

    const started = await startedEvent('cus_finish_1');
    const write = await ledgerDelivery(eventId);
    expect(write).toMatchObject({ state: 'done', attempts: 1, outcomes: ['done'] });
    // Written by the transaction that wrote the access.started event: the ledger's own.
    expect(write.xmin).toBe(started.xmin);

    const call = await ledgerDelivery(started.id);
    expect(call).toMatchObject({ state: 'done', attempts: 1, outcomes: ['done'] });
    // Written by the transaction that recorded the adapter call on the access row.
    expect(call.xmin).toBe(await accessRowWriter('cus_finish_1'));
    expect(host.app.get(FlakyAdapter).calls).toBe(1);
  });

  it('an adapter call that fails leaves its delivery to be retried, then done with the next call', async () => {
    const adapter = host.app.get(FlakyAdapter);
    adapter.failures = 1;
    const calls = adapter.calls;
    const eventId = await start('cus_finish_2');
    await deliveriesSettled(host.app);

    const started = await startedEvent('cus_finish_2');
    expect(await ledgerDelivery(eventId)).toMatchObject({ state: 'done', outcomes: ['done'] });
    const call = await ledgerDelivery(started.id);
    expect(call).toMatchObject({ state: 'done', attempts: 2, outcomes: ['failed', 'done'] });
    expect(call.xmin).toBe(await accessRowWriter('cus_finish_2'));
    expect(adapter.calls - calls).toBe(2);
  });
});
