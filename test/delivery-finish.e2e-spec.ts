import { Injectable } from '@nestjs/common';
import type { ProvisioningAdapter } from 'nestjs-aqueduct';
import { DataSource } from 'typeorm';
import { PROVISIONING_LISTENER } from '../libs/aqueduct/src/access/provisioning.listener';
import { EMAIL_LISTENER } from '../libs/aqueduct/src/email/email.listener';
import { postAccepted } from './support/post';
import { deliveriesSettled, envelope, period } from './support/subscription';
import { TestSmtpServer } from './support/smtp';
import { useTestApp } from './support/use-test-app';
import { waitFor } from './support/wait';

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

describe('The email listener’s delivery commits its done with its last mail’s record (real SMTP)', () => {
  const smtp = new TestSmtpServer();
  const host = useTestApp(
    () => ({
      aqueduct: {
        secrets: [SECRET],
        dispatch: { pollIntervalMs: 50, retryBaseDelayMs: 50, retryMaxDelayMs: 100 },
        email: { transport: smtp.transport, from: 'Acme <billing@acme.test>' },
      },
    }),
    { servers: [smtp] },
  );
  const db = () => host.app.get(DataSource);

  /** The email listener's delivery of the customer's `access.started` event, and its mails. */
  const mailing = async (customerId: string) => {
    const [delivery] = await db().query(
      `SELECT d.state, d.attempts, d.xmin::text AS xmin,
              ARRAY(SELECT a ->> 'outcome' FROM jsonb_array_elements(d.attempt_log) a) AS outcomes,
              ARRAY(SELECT m.xmin::text FROM aqueduct_emails m WHERE m.event_id = e.id) AS records
         FROM aqueduct_events e JOIN aqueduct_deliveries d ON d.event_id = e.id
        WHERE e.type = 'access.started' AND e.payload -> 'object' ->> 'customerId' = $1
          AND d.listener = $2`,
      [customerId, EMAIL_LISTENER],
    );
    return delivery as DeliveryRow & { records: string[] };
  };
  const start = (customerId: string, emails: string[]) =>
    postAccepted(
      host.app,
      envelope(
        'provisioning.start',
        period(customerId, { start: T0, users: emails.map((email) => ['User', email]) }),
        T0,
      ),
      SECRET,
    );

  it('two mails: the second record and the done are one transaction', async () => {
    await start('cus_mail_1', ['ann@acme.test', 'bob@acme.test']);
    await deliveriesSettled(host.app);
    const delivery = await mailing('cus_mail_1');
    expect(delivery).toMatchObject({ state: 'done', attempts: 1, outcomes: ['done'] });
    expect(delivery.records).toHaveLength(2);
    expect(delivery.records).toContain(delivery.xmin);
  });

  it('mails that fail leave the delivery to be retried; the retry’s last record carries the done', async () => {
    smtp.unknownUsers.add('gone@acme.test'); // refused for good: recorded, not retried
    smtp.down = true;
    await start('cus_mail_2', ['cid@acme.test', 'gone@acme.test']);
    await waitFor(
      async () => (await mailing('cus_mail_2'))?.outcomes.includes('failed'),
      20_000,
      'a failed attempt',
    );
    smtp.down = false;
    await deliveriesSettled(host.app);
    const delivery = await mailing('cus_mail_2');
    expect(delivery.state).toBe('done');
    expect(delivery.outcomes.at(-1)).toBe('done');
    expect(delivery.records).toHaveLength(2);
    expect(delivery.records).toContain(delivery.xmin);
    expect(smtp.to('cid@acme.test')).toHaveLength(1);
  });
});
