/**
 * The access ledger against a reference model, on random subscription histories (fast-check):
 * 1 to 6 periods on time, overlapping, with gaps, upgrades to another product and back,
 * cancellations, trials without grace, ends that leave the grace out or never come; every event delivered on time or
 * up to 43 hours late, maybe twice (the same bytes, or other bytes of the same event); the expiry
 * job run at random moments. After each step:
 * - the stored timeline equals the model at every boundary of the known windows (and just before
 *   it) and now, and `hasAccess(customer, product, t)` equals the model's checks (the dates with
 *   the renewal window) there and where each renewal window would end;
 * - the adapter's calls per (customer, product) alternate provision → (update…) → deprovision,
 *   a provision happens only while the model says access, a deprovision never while it does;
 * and at the end (long after everything) every access is deprovisioned.
 * The real module on a real Postgres; events go through the real inbox, and the deliveries it
 * creates (and those the ledger writes) are run one by one, in order, by the registry's handlers.
 * ACCESS_PROPERTY_RUNS sets the number of histories (default 300: a few minutes in `npm test`; CI
 * runs 500 and 200 with two seeds, and 1,000 per seed was run for seeds 1-3); ACCESS_PROPERTY_SEED
 * (or FC_SEED) explores others.
 */
import type { INestApplication } from '@nestjs/common';
import fc from 'fast-check';
import { createHash } from 'node:crypto';
import {
  AqueductAccessService,
  ExpiryJob,
  type ProvisioningAdapter,
  type ProvisioningGrant,
} from 'nestjs-aqueduct';
import { DataSource } from 'typeorm';
import { toEventObject } from '../libs/aqueduct/src/events/aqueduct-event.parser';
import { AqueductListenerRegistry } from '../libs/aqueduct/src/listeners/aqueduct-listener.registry';
import { AqueductInbox } from '../libs/aqueduct/src/storage/aqueduct-inbox.service';
import {
  AccessModel,
  type HistoryPlan,
  PRODUCTS,
  type Step,
  T0,
  historyArb,
  stepsOf,
} from './support/subscription-model';
import { TestClock } from './support/test-clock';
import { useTestApp } from './support/use-test-app';

/** `access.settleMs`, the default's value: the model needs it for the renewal window. */
const SETTLE_MS = 75 * 60_000;
const RUNS = Number(process.env.ACCESS_PROPERTY_RUNS ?? 300);
const PAYMENT_RUNS = Math.max(50, Math.round(RUNS / 4));
const SEED = Number(process.env.ACCESS_PROPERTY_SEED ?? process.env.FC_SEED ?? 20261129);

interface Call {
  customerId: string;
  productId: string;
  action: 'provision' | 'update' | 'deprovision';
  /** What the model said at the moment of the call. */
  modelSaysAccess: boolean;
}

/** Filled by the adapter as the ledger calls it; the model of the running history answers. */
const world: { calls: Call[]; model?: AccessModel; clock?: TestClock } = { calls: [] };

class ModelCheckedAdapter implements ProvisioningAdapter {
  private record(action: Call['action'], grant: ProvisioningGrant) {
    world.calls.push({
      customerId: grant.customerId,
      productId: grant.productId,
      action,
      modelSaysAccess: world.model!.hasAccess(grant.productId, world.clock!.now().getTime()),
    });
  }
  provision(grant: ProvisioningGrant) {
    this.record('provision', grant);
  }
  update(grant: ProvisioningGrant) {
    this.record('update', grant);
  }
  deprovision(grant: ProvisioningGrant) {
    this.record('deprovision', grant);
  }
}

/** provision, then updates, then deprovision, and again; never anything else. */
const ALTERNATING = /^(pu*d)*(pu*)?$/;

/** Runs every pending delivery, oldest event first, as the dispatcher would (one at a time). */
async function drain(app: INestApplication): Promise<void> {
  const dataSource = app.get(DataSource);
  const registry = app.get(AqueductListenerRegistry);
  for (;;) {
    const due: {
      event_id: string;
      listener: string;
      type: string;
      created_at: Date | null;
      received_at: Date;
      payload: Record<string, unknown>;
    }[] = await dataSource.query(
      `SELECT d.event_id, d.listener, e.type, e.created_at, e.received_at, e.payload
         FROM aqueduct_deliveries d JOIN aqueduct_events e ON e.id = d.event_id
        WHERE d.state = 'pending' ORDER BY e.received_at, e.id, d.listener LIMIT 100`,
    );
    if (due.length === 0) {
      return;
    }
    for (const delivery of due) {
      const id = `${delivery.event_id}:${delivery.listener}`;
      await registry.get(delivery.listener)!.handler(
        {
          id: delivery.event_id,
          type: delivery.type,
          createdAt: delivery.created_at,
          receivedAt: delivery.received_at,
          object: toEventObject(delivery.type, delivery.payload.object),
          payload: delivery.payload,
        },
        {
          deliveryId: id,
          idempotencyKey: id,
          eventId: delivery.event_id,
          listener: delivery.listener,
          attempt: 1,
        },
      );
      await dataSource.query(
        `UPDATE aqueduct_deliveries SET state = 'done' WHERE event_id = $1 AND listener = $2`,
        [delivery.event_id, delivery.listener],
      );
    }
  }
}

/** Stores a body through the real inbox (deduplicated on its bytes, as without a delivery id). */
async function store(app: INestApplication, body: Record<string, unknown>, type: string) {
  const json = JSON.stringify(body);
  await app.get(AqueductInbox).store({
    dedupKey: `sha256:${createHash('sha256').update(json).digest('hex')}`,
    type,
    createdAt: new Date(String(body.createdAt)),
    payloadJson: json,
    rawBody: null,
    headers: {},
    deliveryId: null,
    signedAt: null,
    status: 'accepted',
    errors: null,
    listeners: app.get(AqueductListenerRegistry).namesFor(type),
  });
}

async function play(
  app: INestApplication,
  clock: TestClock,
  plan: HistoryPlan,
  customerId: string,
  requirePayment: boolean,
): Promise<void> {
  const model = new AccessModel(requirePayment);
  world.model = model;
  world.clock = clock;
  const access = app.get(AqueductAccessService);
  const steps: Step[] = stepsOf(plan, customerId);
  for (const [index, step] of steps.entries()) {
    clock.set(new Date(step.at));
    if (step.kind === 'event') {
      const { event } = step;
      const body = {
        createdAt: new Date(event.createdAt).toISOString(),
        type: event.type,
        object: event.object,
        ...(step.copy === 'resend' ? { resent: index } : {}),
      };
      await store(app, body, event.type);
      model.receive(event);
    } else if (step.kind === 'paid') {
      await store(
        app,
        {
          createdAt: new Date(step.at).toISOString(),
          type: 'invoice.paid',
          object: { id: step.invoiceId },
        },
        'invoice.paid',
      );
      model.pay(step.invoiceId, step.at);
    } else {
      await app.get(ExpiryJob).sweep();
    }
    await drain(app);

    for (const productId of PRODUCTS) {
      const where = `step ${index} (${step.kind} at ${new Date(step.at).toISOString()}), ${productId}`;
      const entitlement = await access.getEntitlement(customerId, productId);
      for (const t of model.probes(productId, step.at)) {
        const actual = (entitlement?.timeline ?? []).some(
          (s) => s.from.getTime() <= t && t < s.until.getTime(),
        );
        if (actual !== model.hasAccess(productId, t)) {
          throw new Error(`${where}: access at ${new Date(t).toISOString()} is ${actual}`);
        }
      }
      expect(await access.hasAccess(customerId, productId)).toBe(
        model.checks(productId, step.at, SETTLE_MS),
      );
      for (const t of model.checkProbes(productId, step.at, SETTLE_MS)) {
        const actual = await access.hasAccess(customerId, productId, new Date(t));
        if (actual !== model.checks(productId, t, SETTLE_MS)) {
          throw new Error(`${where}: the check at ${new Date(t).toISOString()} is ${actual}`);
        }
      }
      const calls = world.calls.filter(
        (c) => c.customerId === customerId && c.productId === productId,
      );
      const sequence = calls.map((c) => c.action[0]).join('');
      if (!ALTERNATING.test(sequence)) {
        throw new Error(`${where}: adapter calls ${sequence}`);
      }
      const wrong = calls.find((c) => (c.action === 'deprovision') === c.modelSaysAccess);
      if (wrong) {
        throw new Error(
          `${where}: ${wrong.action} while the model said access=${wrong.modelSaysAccess}`,
        );
      }
    }
  }
  // Long after the last window: nobody keeps access in the host's user system.
  for (const productId of PRODUCTS) {
    const last = world.calls
      .filter((c) => c.customerId === customerId && c.productId === productId)
      .at(-1);
    expect(last === undefined || last.action === 'deprovision').toBe(true);
    expect((await access.getEntitlement(customerId, productId))?.provisioned ?? false).toBe(false);
  }
}

describe.each([
  ['access follows the dates', false, RUNS],
  ['access after payment (access.requirePayment)', true, PAYMENT_RUNS],
])('Property: %s, on random subscription histories', (_name, requirePayment, runs) => {
  const clock = new TestClock(new Date(T0));
  const host = useTestApp({
    clock,
    aqueduct: {
      secrets: ['property'],
      provisioningAdapter: ModelCheckedAdapter,
      dispatch: { enabled: false },
      expiry: { enabled: false },
      access: { requirePayment, settleMs: SETTLE_MS },
    },
  });

  it(`agrees with the reference model after every step (${runs} histories)`, async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(historyArb, async (plan) => {
        await play(
          host.app,
          clock,
          plan,
          `owner_${requirePayment ? 'paid' : 'dates'}_${run++}`,
          requirePayment,
        );
      }),
      { numRuns: runs, seed: SEED },
    );
  }, 900_000);
});
