import type { Client } from 'pg';
import { provisioningKey } from '../../../libs/aqueduct/src/access/aqueduct-ledger.service';
import type { SimulationReport } from '../../../libs/aqueduct/src/cli/simulation';
import { toEventObject } from '../../../libs/aqueduct/src/events/aqueduct-event.parser';
import type { ProvisioningDto } from '../../../libs/aqueduct/src/events/provisioning.dto';

/** What the exact check found, for the scenario's summary line. */
export interface LedgerSummary {
  /** Aqueduct's events (the rows the sender's deliveries created). */
  events: number;
  /** The module's own `access.*` events (transitions of a customer's access). */
  accessEvents: number;
  /** Deliveries of both kinds of event. */
  deliveries: number;
  /** Listener runs beyond the first per delivery (kills, lease expiries, transient failures). */
  reruns: number;
  /**
   * Of those, re-runs in the same process: a run that failed (e.g. the database was away) and was
   * retried, or, where nothing fails (the kill scenarios), a lease that lapsed while the process
   * still held the delivery. Allowed by at-least-once; reported to spot a regression.
   */
  rerunsInOneProcess: number;
  /** Provisionings checked against the newest stored event for them. */
  provisionings: number;
  /** (customer, product) accesses checked: granted, announced once, provisioned. */
  accesses: number;
}

/**
 * The event types each listener the fault apps may run subscribes to: the built-in ledger listener,
 * the built-in mail listener with its default mails (and no `alertTo`), and the test app's `'*'`.
 */
const SUBSCRIBES: Record<string, (type: string) => boolean> = {
  'aqueduct.provisioning': (type) =>
    type.startsWith('provisioning.') || type === 'invoice.paid' || type.startsWith('access.'),
  'aqueduct.email': (type) => ['access.started', 'access.grace', 'access.expired'].includes(type),
  effect: () => true,
};

/** Ties between events created at the same instant: an end outranks an update outranks a start. */
const RANK: Record<string, number> = {
  'provisioning.start': 0,
  'provisioning.update': 1,
  'provisioning.end': 2,
};

interface StoredEvent {
  id: string;
  delivery_id: string | null;
  status: string;
  type: string;
  created_at: Date;
  payload: Record<string, any>;
}

/**
 * The exact ledger check every fault scenario ends with:
 * - every id that got a 2xx has its row (accepted), and every row of Aqueduct's is for an id that
 *   was sent, once; the only other rows are the module's `access.*` events, all accepted;
 * - every event has exactly the deliveries of the given listeners that subscribe to its type, all
 *   `done` (none pending, active or dead);
 * - the test listener's effect exists exactly once per event it subscribes to (all of them); its
 *   runs (markers) are counted separately, so "ran twice, effect once" shows up as reruns, never
 *   as a second effect;
 * - the ledger holds one provisioning per provisioning key sent, whose last applied event is the
 *   newest stored event for it (envelope time, then start < update < end);
 * - each (customer, product) has one access row: access granted, announced `active` by exactly
 *   one `access.started` (no other transition, whatever the duplicates, order or kills), and the
 *   host's adapter told (`provisioned`).
 */
export async function checkLedger(
  client: Client,
  report: SimulationReport,
  listeners: string[],
  /** Delivery ids sent outside the simulator (probes): they may or may not have a row. */
  alsoSent: string[] = [],
): Promise<LedgerSummary> {
  const unknown = listeners.filter((l) => !(l in SUBSCRIBES));
  if (unknown.length > 0) {
    throw new Error(`checkLedger does not know what ${unknown.join(', ')} subscribes to`);
  }
  const { rows: all } = await client.query<StoredEvent>(
    `SELECT id, delivery_id, status, type, created_at, payload FROM aqueduct_events`,
  );
  const events = all.filter((e) => e.delivery_id !== null);
  const accessEvents = all.filter((e) => e.delivery_id === null);
  const byDeliveryId = new Map(events.map((e) => [e.delivery_id, e]));
  const sent = new Set([...report.acceptedIds, ...report.givenUpIds.map((g) => g.id), ...alsoSent]);

  expect(report.acceptedIds.filter((id) => !byDeliveryId.has(id))).toEqual([]); // 2xx ⇒ row
  expect(events.filter((e) => !sent.has(e.delivery_id!))).toEqual([]); // no row from nowhere
  expect(all.filter((e) => e.status !== 'accepted')).toEqual([]);
  expect(byDeliveryId.size).toBe(events.length); // one row per delivery id
  // Without a delivery id, only the module's transitions (e.g. no `delivery.dead` alert).
  expect(accessEvents.filter((e) => !e.type.startsWith('access.'))).toEqual([]);

  const { rows: deliveries } = await client.query<{
    event_id: string;
    listener: string;
    state: string;
    attempts: number;
  }>(`SELECT event_id, listener, state, attempts FROM aqueduct_deliveries`);
  expect(deliveries.filter((d) => d.state !== 'done')).toEqual([]);
  const subscribed = (e: StoredEvent) => listeners.filter((l) => SUBSCRIBES[l](e.type));
  const expected = all.flatMap((e) => subscribed(e).map((l) => `${e.id}:${l}`)).sort();
  expect(deliveries.map((d) => `${d.event_id}:${d.listener}`).sort()).toEqual(expected);

  const { rows: effects } = await client.query<{ key: string }>(`SELECT key FROM test_effects`);
  expect(effects.map((e) => e.key).sort()).toEqual(
    expected.filter((key) => key.endsWith(':effect')),
  );
  const { rows: runs } = await client.query<{ key: string; n: number; pids: number }>(
    `SELECT key, count(*)::int AS n, count(DISTINCT pid)::int AS pids FROM test_markers GROUP BY key`,
  );
  const attempts = new Map(deliveries.map((d) => [`${d.event_id}:${d.listener}`, d.attempts]));
  // A run is recorded after its claim counted the attempt (a kill can fall in between).
  expect(runs.filter((r) => r.n > (attempts.get(r.key) ?? 0))).toEqual([]);
  const reruns = runs.reduce((sum, r) => sum + r.n - 1, 0);

  return {
    events: events.length,
    accessEvents: accessEvents.length,
    deliveries: deliveries.length,
    reruns,
    rerunsInOneProcess: runs.reduce((sum, r) => sum + r.n - r.pids, 0),
    provisionings: await checkProvisionings(client, events),
    accesses: await checkAccesses(client, events, accessEvents),
  };
}

/** The provisioning object of a stored `provisioning.*` event, as the ledger parses it. */
const provisioningOf = (event: StoredEvent) =>
  toEventObject(event.type, event.payload.object) as ProvisioningDto;

/** Each provisioning reflects its newest stored event, whatever the arrival order. */
async function checkProvisionings(client: Client, events: StoredEvent[]): Promise<number> {
  const order = (e: StoredEvent) => [e.created_at.getTime(), RANK[e.type]];
  const newest = new Map<string, StoredEvent>();
  for (const event of events.filter((e) => e.type in RANK)) {
    const key = provisioningKey(provisioningOf(event));
    const current = newest.get(key);
    const [t, r] = order(event);
    if (!current || t > order(current)[0] || (t === order(current)[0] && r > order(current)[1])) {
      newest.set(key, event);
    }
  }
  const { rows } = await client.query<{
    key: string;
    last_event_id: string;
    last_event_type: string;
  }>(`SELECT key, last_event_id, last_event_type FROM aqueduct_provisionings`);
  const actual = Object.fromEntries(rows.map((r) => [r.key, r]));
  const wanted = Object.fromEntries(
    [...newest].map(([key, event]) => [
      key,
      { key, last_event_id: event.id, last_event_type: event.type },
    ]),
  );
  expect(actual).toEqual(wanted);
  return rows.length;
}

/**
 * Every (customer, product) the events name has access now (the simulated periods cover the
 * run), announced by exactly one transition, `access.started`, and provisioned with the adapter.
 */
async function checkAccesses(
  client: Client,
  events: StoredEvent[],
  accessEvents: StoredEvent[],
): Promise<number> {
  const now = Date.now();
  const pairs = new Set<string>();
  for (const event of events.filter((e) => e.type in RANK)) {
    const o = provisioningOf(event);
    // What the scenario sends: a period that covers the check (else the wanted state differs).
    expect([o.startDate.getTime() <= now, now < o.endDate.getTime()]).toEqual([true, true]);
    pairs.add(`${o.customerId} ${o.productId}`);
  }
  const transitions = new Map<string, { type: string; accessId: string }[]>();
  for (const event of accessEvents) {
    const o = event.payload.object;
    const pair = `${o.customerId} ${o.productId}`;
    transitions.set(pair, [
      ...(transitions.get(pair) ?? []),
      { type: event.type, accessId: o.accessId },
    ]);
  }
  const { rows } = await client.query<{
    id: string;
    customer_id: string;
    product_id: string;
    has_access: boolean;
    status: string;
    announced_status: string;
    provisioned: boolean;
  }>(
    `SELECT id, customer_id, product_id, has_access, status, announced_status, provisioned
       FROM aqueduct_access`,
  );
  const actual = Object.fromEntries(
    rows.map((r) => {
      const pair = `${r.customer_id} ${r.product_id}`;
      const { has_access, status, announced_status, provisioned } = r;
      const announced = transitions.get(pair) ?? [];
      transitions.delete(pair);
      return [pair, { has_access, status, announced_status, provisioned, announced }];
    }),
  );
  const wanted = Object.fromEntries(
    rows
      .filter((r) => pairs.has(`${r.customer_id} ${r.product_id}`))
      .map((r) => [
        `${r.customer_id} ${r.product_id}`,
        {
          has_access: true,
          status: 'active',
          announced_status: 'active',
          provisioned: true,
          announced: [{ type: 'access.started', accessId: r.id }],
        },
      ]),
  );
  expect(Object.keys(actual).sort()).toEqual([...pairs].sort()); // one row per pair, no other
  expect(actual).toEqual(wanted);
  expect([...transitions.keys()]).toEqual([]); // no transition for a pair without a row
  return rows.length;
}
