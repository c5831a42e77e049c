import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { OnAqueductEvent } from 'nestjs-aqueduct';
import { aqueductEvent } from 'nestjs-aqueduct/testing';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { COMPLETE_SQL } from '../libs/aqueduct/src/storage/aqueduct-delivery.sql';
import { AqueductDeliveryStore } from '../libs/aqueduct/src/storage/aqueduct-delivery.store';
import type { ClaimedDelivery } from '../libs/aqueduct/src/storage/delivery-queue.interface';
import { postAccepted } from './support/post';
import { useTestApp } from './support/use-test-app';
import { waitFor } from './support/wait';

const SECRET = 'delivery-records-secret';
/** Long enough that the app's own heartbeat leaves the rows alone while the test renews them. */
const LEASE_MS = 600_000;
/** How long a renewal may take before the test calls it stuck. */
const STUCK_MS = 5_000;

@Injectable()
class Listeners {
  release?: () => void;
  private readonly gate = new Promise<void>((resolve) => (this.release = resolve));

  @OnAqueductEvent('test.held', { name: 'held' })
  held() {
    return this.gate;
  }
}

interface LeaseRow {
  event_id: string;
  locked_by: string;
  locked_until: Date;
}

describe('Delivery rows: lease renewal and done', () => {
  let listeners: Listeners;
  let client: Client;

  // Registered before the app's teardown so that it runs first: the held listeners are let go.
  afterAll(async () => {
    listeners?.release?.();
    await client?.query('ROLLBACK').catch(() => undefined);
    await client?.end();
  });
  const host = useTestApp({
    aqueduct: { secrets: [SECRET], dispatch: { leaseMs: LEASE_MS } },
    imports: [{ module: class ListenersModule {}, providers: [Listeners] }],
  });
  beforeAll(async () => {
    listeners = host.app.get(Listeners);
    client = new Client({ connectionString: host.db.url });
    await client.connect();
  });

  /** Posts `count` held events and waits for their deliveries to run: their leases, in order. */
  const heldDeliveries = async (count: number) => {
    const ids: string[] = [];
    for (let n = 0; n < count; n++) {
      ids.push(
        await postAccepted(host.app, aqueductEvent('test.held', { n: randomUUID() }), SECRET),
      );
    }
    const leases = async (): Promise<LeaseRow[]> =>
      host.app.get(DataSource).query(
        `SELECT event_id, locked_by, locked_until FROM aqueduct_deliveries
          WHERE event_id = ANY($1::uuid[]) AND state = 'active' ORDER BY array_position($1::uuid[], event_id)`,
        [ids],
      );
    const rows = await waitFor(
      async () => {
        const found = await leases();
        return found.length === count && found;
      },
      10_000,
      'the deliveries to run',
    );
    return { rows, leases };
  };

  /**
   * Runs `write` on `held` while a batch of completions is recording the first of them (it locks
   * its rows first, until its commit): 'done', or 'stuck' when it waited for that row.
   */
  const whileFirstIsFinishing = async (
    held: LeaseRow[],
    write: (deliveries: ClaimedDelivery[], owner: string) => Promise<void>,
  ): Promise<string> => {
    await client.query('BEGIN');
    await client.query(
      `SELECT 1 FROM aqueduct_deliveries WHERE event_id = $1 AND listener = 'held' FOR UPDATE`,
      [held[0].event_id],
    );
    const deliveries: ClaimedDelivery[] = held.map((row) => ({
      eventId: row.event_id,
      listener: 'held',
      attempts: 1,
      firstRun: false,
      type: 'test.held',
      createdAt: null,
      receivedAt: new Date(),
      payload: {},
    }));
    let timer: NodeJS.Timeout | undefined;
    const stuck = new Promise<string>(
      (resolve) => (timer = setTimeout(resolve, STUCK_MS, 'stuck')),
    );
    try {
      return await Promise.race([write(deliveries, held[0].locked_by).then(() => 'done'), stuck]);
    } finally {
      clearTimeout(timer);
      await client.query('ROLLBACK');
    }
  };

  it('renews the other rows without waiting for the one being finished (no deadlock with completions)', async () => {
    const { rows: before, leases } = await heldDeliveries(2);
    const [finishing, running] = before;
    const store = host.app.get(AqueductDeliveryStore);

    expect(
      await whileFirstIsFinishing(before, (held, owner) => store.extend(held, owner, LEASE_MS * 2)),
    ).toBe('done');

    const after = await leases();
    // The row being finished keeps its lease (its done ends it); the other one is renewed.
    expect(after[0].locked_until).toEqual(finishing.locked_until);
    expect(after[1].locked_until.getTime()).toBeGreaterThan(
      running.locked_until.getTime() + LEASE_MS / 2,
    );
  });

  it('hands back the other rows at shutdown without waiting for the one being finished', async () => {
    const { rows: before, leases } = await heldDeliveries(2);
    const store = host.app.get(AqueductDeliveryStore);

    expect(await whileFirstIsFinishing(before, (held, owner) => store.release(held, owner))).toBe(
      'done',
    );

    // The row being finished stays with its holder (its done ends it), the other one was handed
    // back (pending for any instance: this one may have taken it again since).
    const outcomes = await client
      .query(
        `SELECT event_id, array(SELECT e->>'outcome' FROM jsonb_array_elements(attempt_log) e) AS outcomes
           FROM aqueduct_deliveries WHERE event_id = ANY($1::uuid[]) AND listener = 'held'`,
        [before.map((row) => row.event_id)],
      )
      .then((result) => new Map(result.rows.map((row) => [row.event_id, row.outcomes])));
    expect(outcomes.get(before[0].event_id)).toEqual([]);
    expect(outcomes.get(before[1].event_id)).toEqual(['released']);
    expect((await leases())[0]).toEqual(before[0]);
  });

  it('records done with an unflushed commit, for that transaction only', async () => {
    const { rows } = await heldDeliveries(1);
    const [{ event_id: eventId, locked_by: owner }] = rows;
    const setting = async () => (await client.query('SHOW synchronous_commit')).rows[0];
    const complete = () => client.query(COMPLETE_SQL, [[eventId], ['held'], owner]);

    // Inside a transaction, to see the setting its commit would use.
    await client.query('BEGIN');
    expect((await complete()).rowCount).toBe(1);
    expect(await setting()).toEqual({ synchronous_commit: 'off' });
    await client.query('ROLLBACK');

    // Alone, as the dispatcher runs it: the connection (back in a pool) is as it was, so the next
    // event's insert, whose commit the 2xx waits for, is flushed as always.
    expect((await complete()).rowCount).toBe(1);
    expect(await setting()).toEqual({ synchronous_commit: 'on' });
  });
});
