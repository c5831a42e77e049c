import type { Client } from 'pg';
import { hasAccessStatus, statusAt } from '../../../libs/aqueduct/src/access/entitlement-status';
import type { SimulationReport } from '../../../libs/aqueduct/src/cli/simulation';

/** What the exact check found, for the scenario's summary line. */
export interface LedgerSummary {
  events: number;
  deliveries: number;
  /** Listener runs beyond the first per delivery (kills, lease expiries, transient failures). */
  reruns: number;
  /**
   * Of those, re-runs in the same process: a run that failed (e.g. the database was away) and was
   * retried, or, where nothing fails (the kill scenarios), a lease that lapsed while the process
   * still held the delivery. Allowed by at-least-once; reported to spot a regression.
   */
  rerunsInOneProcess: number;
  /** Entitlements checked against the newest event of their provisioning. */
  entitlements: number;
}

/**
 * The exact ledger check every fault scenario ends with:
 * - every id that got a 2xx has its row (accepted), and every row is for an id that was sent;
 * - every row has exactly the expected deliveries, all `done` (none pending, active or dead);
 * - the test listener's effect exists exactly once per event; its runs (markers) are counted
 *   separately, so "ran twice, effect once" shows up as reruns, never as a second effect;
 * - the ledger holds one entitlement per provisioning, whose last applied event is the newest
 *   stored event for it (envelope time), with the status its dates imply.
 */
export async function checkLedger(
  client: Client,
  report: SimulationReport,
  listeners: string[],
  /** Delivery ids sent outside the simulator (probes): they may or may not have a row. */
  alsoSent: string[] = [],
): Promise<LedgerSummary> {
  const { rows: events } = await client.query<{
    id: string;
    delivery_id: string;
    status: string;
    type: string;
    created_at: Date;
    payload: Record<string, any>;
  }>(`SELECT id, delivery_id, status, type, created_at, payload FROM aqueduct_events`);
  const byDeliveryId = new Map(events.map((e) => [e.delivery_id, e]));
  const sent = new Set([...report.acceptedIds, ...report.givenUpIds.map((g) => g.id), ...alsoSent]);

  expect(report.acceptedIds.filter((id) => !byDeliveryId.has(id))).toEqual([]); // 2xx ⇒ row
  expect(events.filter((e) => !sent.has(e.delivery_id))).toEqual([]); // no row from nowhere
  expect(events.filter((e) => e.status !== 'accepted')).toEqual([]);
  expect(byDeliveryId.size).toBe(events.length); // one row per delivery id

  const { rows: deliveries } = await client.query<{
    event_id: string;
    listener: string;
    state: string;
    attempts: number;
  }>(`SELECT event_id, listener, state, attempts FROM aqueduct_deliveries`);
  expect(deliveries.filter((d) => d.state !== 'done')).toEqual([]);
  const expected = events.flatMap((e) => listeners.map((l) => `${e.id}:${l}`)).sort();
  expect(deliveries.map((d) => `${d.event_id}:${d.listener}`).sort()).toEqual(expected);

  const { rows: effects } = await client.query<{ key: string }>(`SELECT key FROM test_effects`);
  expect(effects.map((e) => e.key).sort()).toEqual(events.map((e) => `${e.id}:effect`).sort());
  const { rows: runs } = await client.query<{ key: string; n: number; pids: number }>(
    `SELECT key, count(*)::int AS n, count(DISTINCT pid)::int AS pids FROM test_markers GROUP BY key`,
  );
  const attempts = new Map(deliveries.map((d) => [`${d.event_id}:${d.listener}`, d.attempts]));
  // A run is recorded after its claim counted the attempt (a kill can fall in between).
  expect(runs.filter((r) => r.n > (attempts.get(r.key) ?? 0))).toEqual([]);
  const reruns = runs.reduce((sum, r) => sum + r.n - 1, 0);

  return {
    events: events.length,
    deliveries: deliveries.length,
    reruns,
    rerunsInOneProcess: runs.reduce((sum, r) => sum + r.n - r.pids, 0),
    entitlements: await checkEntitlements(client, events),
  };
}

const RANK: Record<string, number> = {
  'provisioning.start': 0,
  'provisioning.update': 1,
  'provisioning.end': 2,
};

/** Each provisioning's entitlement reflects its newest stored event, whatever the arrival order. */
async function checkEntitlements(
  client: Client,
  events: { id: string; type: string; created_at: Date; payload: Record<string, any> }[],
): Promise<number> {
  const newest = new Map<string, (typeof events)[number]>();
  for (const event of events.filter((e) => e.type in RANK)) {
    const o = event.payload.object;
    const key = `${o.customerId}:${o.productId}:sub:${o.subscriptionId}`;
    const current = newest.get(key);
    const order = (e: typeof event) => [e.created_at.getTime(), RANK[e.type]];
    const [t, r] = order(event);
    if (!current || t > order(current)[0] || (t === order(current)[0] && r > order(current)[1])) {
      newest.set(key, event);
    }
  }
  const { rows } = await client.query<{
    key: string;
    last_event_id: string;
    status: string;
    provisioned: boolean;
  }>(`SELECT key, last_event_id, status, provisioned FROM aqueduct_entitlements`);
  const now = new Date();
  const actual = Object.fromEntries(rows.map((r) => [r.key, r]));
  const wanted = Object.fromEntries(
    [...newest].map(([key, event]) => {
      const o = event.payload.object;
      const accessUntil = new Date(o.gracePeriodEndDate ?? o.endDate);
      const status = statusAt(
        { startDate: new Date(o.startDate), endDate: new Date(o.endDate), accessUntil },
        now,
      );
      return [key, { key, last_event_id: event.id, status, provisioned: hasAccessStatus(status) }];
    }),
  );
  expect(actual).toEqual(wanted);
  return rows.length;
}
