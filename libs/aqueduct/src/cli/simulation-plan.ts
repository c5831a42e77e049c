import { randomUUID } from 'node:crypto';
import { provisioningEndEvent, provisioningStartEvent } from '../testing/aqueduct-event.factory';
import { INVALID_ORDER, type InvalidKind, spoil } from './simulation-invalid';

/** One delivery as Aqueduct would make it: a delivery id kept across retries, and a body. */
export interface SimulatedDelivery {
  id: string;
  body: string;
  duplicate: boolean;
  /** Made impossible to understand on purpose (and signed all the same): how. */
  invalid?: InvalidKind;
}

export interface SimulationPlan {
  events: number;
  /** Share of events delivered a second time (same id, same body). */
  duplicates: number;
  /**
   * Spread the events over this many customers, alternating provisioning.start and
   * provisioning.end. Every event of one customer describes the same provisioning (one
   * subscription, one invoice, one period: from a day before the run to 29 days after it, then a
   * 7-day grace period), so the ledger sees one provisioning per customer receiving start and end
   * events, with distinct `createdAt`s so the latest event per provisioning is well defined. Unset:
   * every event is a new customer's provisioning.start.
   */
  customers?: number;
  /**
   * Share of events made invalid, still signed (an authentic event the app cannot understand):
   * at random positions in the run, each of the `INVALID_KINDS` in turn. Their duplicates and
   * retries carry the same bytes. Unset: none.
   */
  invalid?: number;
}

const DAY_MS = 24 * 60 * 60 * 1000;

/** The simulated provisioning's paid period ends this many days after the run... */
const PERIOD_DAYS_AHEAD = 29;

/** ...and its grace period this many days later. */
const GRACE_DAYS = 7;

/** The deliveries to make, duplicates included (a duplicate follows its original). */
export function planDeliveries(plan: SimulationPlan, now = Date.now()): SimulatedDelivery[] {
  const deliveries: SimulatedDelivery[] = [];
  const spoilt = randomPositions(plan.events, Math.round(plan.events * (plan.invalid ?? 0)));
  let invalidSoFar = 0;
  for (let i = 0; i < plan.events; i++) {
    const event = eventFor(i, plan, now);
    const invalid = spoilt.has(i)
      ? INVALID_ORDER[invalidSoFar++ % INVALID_ORDER.length]
      : undefined;
    const delivery: SimulatedDelivery = {
      id: `msg_${randomUUID().replace(/-/g, '')}`,
      body: invalid ? spoil(event, invalid) : JSON.stringify(event),
      duplicate: false,
      ...(invalid ? { invalid } : {}),
    };
    deliveries.push(delivery);
    if (i < Math.round(plan.events * plan.duplicates)) {
      deliveries.push({ ...delivery, duplicate: true });
    }
  }
  return deliveries;
}

function eventFor(i: number, plan: SimulationPlan, now: number) {
  if (!plan.customers) {
    return provisioningStartEvent();
  }
  const object = simulatedProvisioning(i % plan.customers, now);
  // One millisecond apart, in the order planned: concurrency and retries then shuffle arrival.
  const createdAt = new Date(now - (plan.events - i));
  return Math.floor(i / plan.customers) % 2 === 0
    ? provisioningStartEvent(object, createdAt)
    : provisioningEndEvent(object, createdAt);
}

/**
 * `count` distinct positions out of `n`, at random (not a fixed stride, which could fall on the
 * same customers every time and leave them nothing valid).
 */
function randomPositions(n: number, count: number): Set<number> {
  const positions = Array.from({ length: n }, (_, i) => i);
  for (let i = 0; i < count; i++) {
    const j = i + Math.floor(Math.random() * (n - i));
    [positions[i], positions[j]] = [positions[j], positions[i]];
  }
  return new Set(positions.slice(0, count));
}

/**
 * Customer `n`'s one provisioning, the same for all its events (ids and dates fixed by `n` and
 * `now`), so a start and an end of that customer are the same provisioning, and its period covers
 * the run.
 */
function simulatedProvisioning(n: number, now: number) {
  const end = now + PERIOD_DAYS_AHEAD * DAY_MS;
  const startDate = new Date(now - DAY_MS).toISOString();
  const endDate = new Date(end).toISOString();
  return {
    customerId: `owner_sim_${n}`,
    subscriptionId: `sub_sim_${n}`,
    invoiceId: `inv_sim_${n}`,
    startDate,
    endDate,
    contractStartDate: startDate,
    contractEndDate: endDate,
    gracePeriodEndDate: new Date(end + GRACE_DAYS * DAY_MS).toISOString(),
  };
}
