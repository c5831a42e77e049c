import type { Client } from 'pg';
import type { AlertKind } from '../../../libs/aqueduct/src/alerts/alert.interfaces';
import { provisioningKey } from '../../../libs/aqueduct/src/access/aqueduct-ledger.service';
import type { SimulationReport } from '../../../libs/aqueduct/src/cli/simulation';
import { toEventObject } from '../../../libs/aqueduct/src/events/aqueduct-event.parser';
import type { ProvisioningDto } from '../../../libs/aqueduct/src/events/provisioning.dto';

/** What the exact check found, for the scenario's summary line. */
export interface LedgerSummary {
  /** Aqueduct's events (the rows the sender's deliveries created). */
  events: number;
  /** Of those, the ones stored as quarantined (sent invalid on purpose). */
  quarantined: number;
  /** The module's own `access.*` events (transitions of a customer's access). */
  accessEvents: number;
  /** The module's own `alert.raised` events. */
  alertEvents: number;
  /** Deliveries of both kinds of event. */
  deliveries: number;
  /** Listener runs beyond the first per delivery (kills, lease expiries, transient failures). */
  reruns: number;
  /** For each re-run delivery: when each run started and the delivery's attempt log (why). */
  rerunDetails: { key: string; runs: unknown[]; attemptLog: unknown }[];
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
 * the built-in mail listener with its default mails (operator mails too when `alertTo` is set),
 * and the test app's `'*'`.
 */
const subscriptions = (alertTo: boolean): Record<string, (type: string) => boolean> => ({
  'aqueduct.provisioning': (type) =>
    type.startsWith('provisioning.') || type === 'invoice.paid' || type.startsWith('access.'),
  'aqueduct.email': (type) =>
    ['access.started', 'access.grace', 'access.expired'].includes(type) ||
    (alertTo && ['alert.raised', 'delivery.dead'].includes(type)),
  effect: () => true,
});

/** What a scenario expects beyond "every event accepted and delivered". */
export interface LedgerExpectations {
  /** Delivery ids sent outside the simulator (probes): they may or may not have a row. */
  alsoSent?: string[];
  /**
   * Delivery ids sent invalid on purpose: their rows (if stored) must be `quarantined`, with
   * errors and the raw bytes, and no delivery; every other row `accepted`.
   * @default the report's `invalidIds`
   */
  quarantined?: string[];
  /**
   * Operator alerts raised during the run: exactly one `alert.raised` event each.
   * @default `quarantine` when anything was quarantined, else none
   */
  alerts?: AlertKind[];
  /** The app mails operator alerts (`email.alertTo`): the mail listener takes `alert.raised`. */
  alertTo?: boolean;
}

/** Ties between events created at the same instant: an end outranks an update outranks a start. */
const RANK: Record<string, number> = {
  'provisioning.start': 0,
  'provisioning.update': 1,
  'provisioning.end': 2,
};

interface StoredEvent {
  id: string;
  dedup_key: string;
  delivery_id: string | null;
  status: string;
  errors: string[] | null;
  has_raw_body: boolean;
  type: string;
  created_at: Date;
  payload: Record<string, any>;
}

/**
 * The exact ledger check every fault scenario ends with:
 * - every id that got a 2xx has its row, and every row of Aqueduct's is for an id that was sent,
 *   once; the only other rows are the module's `access.*` events and one `alert.raised` per
 *   expected alert, all accepted;
 * - the rows of the ids sent invalid are `quarantined` (errors and raw bytes kept), every other
 *   row is `accepted`; the sender was told `quarantined` for exactly those of them it delivered;
 * - every accepted event has exactly the deliveries of the given listeners that subscribe to its
 *   type, all `done` (none pending, active or dead); a quarantined one has none;
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
  expectations: LedgerExpectations = {},
): Promise<LedgerSummary> {
  const SUBSCRIBES = subscriptions(expectations.alertTo ?? false);
  const unknown = listeners.filter((l) => !(l in SUBSCRIBES));
  if (unknown.length > 0) {
    throw new Error(`checkLedger does not know what ${unknown.join(', ')} subscribes to`);
  }
  const invalid = new Set(expectations.quarantined ?? report.invalidIds.map((i) => i.id));
  const { rows: all } = await client.query<StoredEvent>(
    `SELECT id, dedup_key, delivery_id, status, errors, raw_body IS NOT NULL AS has_raw_body,
            type, created_at, payload
       FROM aqueduct_events`,
  );
  const stored = all.filter((e) => e.delivery_id !== null);
  const internal = all.filter((e) => e.delivery_id === null);
  const byDeliveryId = new Map(stored.map((e) => [e.delivery_id, e]));
  const sent = new Set([
    ...report.acceptedIds,
    ...report.givenUpIds.map((g) => g.id),
    ...(expectations.alsoSent ?? []),
  ]);

  expect(report.acceptedIds.filter((id) => !byDeliveryId.has(id))).toEqual([]); // 2xx ⇒ row
  expect(stored.filter((e) => !sent.has(e.delivery_id!))).toEqual([]); // no row from nowhere
  expect(byDeliveryId.size).toBe(stored.length); // one row per delivery id
  // Quarantined exactly when sent invalid, never dismissed; the bytes and the reasons kept.
  const statusOf = (e: StoredEvent) => (invalid.has(e.delivery_id!) ? 'quarantined' : 'accepted');
  expect(stored.filter((e) => e.status !== statusOf(e))).toEqual([]);
  const quarantined = stored.filter((e) => e.status === 'quarantined');
  const unexplained = (e: StoredEvent) => !Array.isArray(e.errors) || e.errors.length === 0;
  expect(quarantined.filter((e) => !e.has_raw_body || unexplained(e))).toEqual([]);
  // The sender was told so, for each of them it delivered (first answer or a duplicate's).
  expect([...report.quarantinedIds].sort()).toEqual(
    report.acceptedIds.filter((id) => invalid.has(id)).sort(),
  );
  expect(internal.filter((e) => e.status !== 'accepted')).toEqual([]);
  // Without a delivery id, only the module's transitions and one `alert.raised` per expected
  // alert (e.g. no `delivery.dead` alert).
  const alertEvents = internal.filter((e) => e.type === 'alert.raised');
  const accessEvents = internal.filter((e) => e.type.startsWith('access.'));
  expect(internal.filter((e) => !alertEvents.includes(e) && !accessEvents.includes(e))).toEqual([]);
  const alerts = expectations.alerts ?? (quarantined.length > 0 ? ['quarantine'] : []);
  expect(alertEvents.map((e) => e.payload.object?.kind).sort()).toEqual([...alerts].sort());
  const alertKeyed = (e: StoredEvent) => e.dedup_key.startsWith(`alert:${e.payload.object?.kind}:`);
  expect(alertEvents.filter((e) => !alertKeyed(e))).toEqual([]);
  const events = stored.filter((e) => e.status === 'accepted');
  const accepted = all.filter((e) => e.status === 'accepted');

  const { rows: deliveries } = await client.query<{
    event_id: string;
    listener: string;
    state: string;
    attempts: number;
  }>(`SELECT event_id, listener, state, attempts FROM aqueduct_deliveries`);
  expect(deliveries.filter((d) => d.state !== 'done')).toEqual([]);
  const subscribed = (e: StoredEvent) => listeners.filter((l) => SUBSCRIBES[l](e.type));
  // Deliveries for accepted events only: a quarantined one runs no listener.
  const expected = accepted.flatMap((e) => subscribed(e).map((l) => `${e.id}:${l}`)).sort();
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
  const rerunDetails = await explainReruns(
    client,
    runs.filter((r) => r.n > 1).map((r) => r.key),
  );

  return {
    events: stored.length,
    quarantined: quarantined.length,
    accessEvents: accessEvents.length,
    alertEvents: alertEvents.length,
    deliveries: deliveries.length,
    reruns,
    rerunDetails,
    rerunsInOneProcess: runs.reduce((sum, r) => sum + r.n - r.pids, 0),
    provisionings: await checkProvisionings(client, events),
    accesses: await checkAccesses(client, events, accessEvents),
  };
}

/** The runs (markers) and the attempt log of each delivery that ran more than once. */
async function explainReruns(client: Client, keys: string[]) {
  if (keys.length === 0) {
    return [];
  }
  const { rows } = await client.query<{ key: string; runs: unknown[]; attemptLog: unknown }>(
    `SELECT m.key, json_agg(json_build_object('pid', m.pid, 'at', m.at) ORDER BY m.at) AS runs,
            min(d.attempt_log::text)::json AS "attemptLog"
       FROM test_markers m
       JOIN aqueduct_deliveries d ON d.event_id::text || ':' || d.listener = m.key
      WHERE m.key = ANY($1::text[])
      GROUP BY m.key`,
    [keys],
  );
  return rows;
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
